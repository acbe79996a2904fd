package elf

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ukdev/ukdev/project"
)

// An ELF project's config is used as it is: an ops config beside it adds
// no ports or memory.
func TestOpenUnchanged(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, project.FileName)
	for name, data := range map[string]string{
		path:                              "kernel.image = \"k.elf\"\nvm.ports = [\"8080:80\"]\n",
		filepath.Join(dir, "config.json"): `{"RunConfig": {"Ports": ["9000"], "Memory": "2G"}}`,
	} {
		if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := project.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Flavor{}.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Kernel.(Kernel); !ok || s.Config != cfg || s.Notes != nil {
		t.Errorf("elf flavor: kernel %T, config replaced %v, notes %q", s.Kernel, s.Config != cfg, s.Notes)
	}
}
