package unikraft

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ukdev/ukdev/project"
)

func TestOpen(t *testing.T) {
	tests := []struct {
		name      string
		toml      string
		files     map[string]string
		wantCmd   string
		wantNote  string
		wantMemMB int
	}{
		{
			name:      "app Makefile: make, kraft's memory",
			toml:      "flavor = \"unikraft\"\n",
			files:     map[string]string{"Makefile": "UK_ROOT ?= $(PWD)/../unikraft\nall:\n\t$(MAKE) -C $(UK_ROOT) A=$(PWD)\n"},
			wantCmd:   "make",
			wantNote:  "build command: make",
			wantMemMB: defaultMemoryMiB,
		},
		{
			name:      "explicit command and memory win",
			toml:      "flavor = \"unikraft\"\nbuild.command = \"./build.sh\"\nvm.memory = \"256M\"\n",
			files:     map[string]string{"Makefile": "UK_ROOT ?= x\n"},
			wantCmd:   "./build.sh",
			wantMemMB: 256,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cfg, err := project.Parse(filepath.Join(dir, "ukdev.toml"), []byte(tt.toml))
			if err != nil {
				t.Fatal(err)
			}
			s, err := Flavor{}.Open(cfg)
			if err != nil {
				t.Fatal(err)
			}
			c, notes := s.Config, s.Notes
			if _, ok := s.Kernel.(*Kernel); !ok {
				t.Errorf("kernel is a %T", s.Kernel)
			}
			if !strings.HasPrefix(c.Build.Command, tt.wantCmd) {
				t.Errorf("build command %q, want %q…", c.Build.Command, tt.wantCmd)
			}
			if tt.wantNote != "" && (len(notes) != 1 || !strings.HasPrefix(notes[0], tt.wantNote)) {
				t.Errorf("notes %q, want one starting %q", notes, tt.wantNote)
			}
			if tt.wantNote == "" && len(notes) != 0 {
				t.Errorf("notes %q, want none", notes)
			}
			if c.VM.MemoryMiB != tt.wantMemMB {
				t.Errorf("memory %d MiB, want %d", c.VM.MemoryMiB, tt.wantMemMB)
			}
			if !slices.Contains(c.Watch.Ignore, ".unikraft/") || !slices.Contains(c.Watch.Ignore, "build/") {
				t.Errorf("watch.ignore %q lacks the build trees", c.Watch.Ignore)
			}
			if cfg.VM.MemoryMiB != 128 && !cfg.VM.MemorySet {
				t.Error("Open changed the caller's config")
			}
		})
	}
}
