package unikraft_test

import (
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/ukdev/ukdev/flavor/all"
	"github.com/ukdev/ukdev/flavor/unikraft"
	"github.com/ukdev/ukdev/project"
	"github.com/ukdev/ukdev/project/projecttest"
)

// root is where test configs pretend to live.
const root = "/work/proj"

func TestInitFileUnikraft(t *testing.T) {
	d := project.Detection{Flavor: "unikraft", Source: "Kraftfile", Complete: true, Reason: "Kraftfile: a Unikraft project"}
	data := project.InitFile(d)
	c := projecttest.MustParse(t, filepath.Join(root, project.FileName), data)
	// The flavor picks the build command, the image and the memory.
	if c.Flavor != "unikraft" || c.Build.CommandSet || c.Build.Command != "" || c.Kernel.Image != "" || c.VM.MemorySet || len(c.Watch.Ignore) > 0 {
		t.Errorf("flavor %q command %q (set %v) image %q memory set %v ignore %q", c.Flavor, c.Build.Command, c.Build.CommandSet, c.Kernel.Image, c.VM.MemorySet, c.Watch.Ignore)
	}
	if unikraft.SettingsOf(c) != (unikraft.Settings{}) {
		t.Errorf("InitFile sets unikraft keys: %+v", unikraft.SettingsOf(c))
	}
	for _, section := range []string{"[build]", "[watch]", "[kernel]", "[vm]", "[logs]", "[unikraft]"} {
		if !strings.Contains(string(data), section+"\n") {
			t.Errorf("no %s section", section)
		}
	}
	c, err := project.Parse(filepath.Join(root, project.FileName), projecttest.Uncomment(data, "[unikraft]"))
	if err != nil {
		t.Fatalf("uncommented [unikraft] does not parse: %v\n%s", err, projecttest.Uncomment(data, "[unikraft]"))
	}
	if unikraft.SettingsOf(c) != (unikraft.Settings{}) {
		t.Errorf("uncommented [unikraft] = %+v, want the defaults", unikraft.SettingsOf(c))
	}
	if _, err := project.Parse(filepath.Join(root, project.FileName), projecttest.Uncomment(data, "[kernel]")); err != nil {
		t.Errorf("uncommented [kernel] does not parse: %v", err)
	}
	t.Run("an image given", func(t *testing.T) {
		c, err := project.Parse(filepath.Join(root, project.FileName), project.InitFile(project.Detection{Flavor: "unikraft", Image: "build/app_qemu-x86_64"}))
		if err != nil || c.Kernel.Image != root+"/build/app_qemu-x86_64" {
			t.Fatalf("image %q, %v", c.Kernel.Image, err)
		}
	})
}
