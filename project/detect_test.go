package project_test

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ukdev/ukdev/project"
	"github.com/ukdev/ukdev/project/projecttest"
)

func TestInitFile(t *testing.T) {
	defaults, err := project.Parse(filepath.Join(root, project.FileName), []byte("kernel.image = \"build/kernel.elf\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		d           project.Detection
		wantCommand string
		wantImage   string
		wantIgnore  []string // the image's directory: the build writes there
	}{
		{"detected", project.Detection{Flavor: project.DefaultFlavor, BuildCommand: "make", Image: "build/hello.elf", Reason: "Makefile builds build/hello.elf"}, "make", root + "/build/hello.elf", []string{"build/"}},
		{"image at the root", project.Detection{Flavor: project.DefaultFlavor, BuildCommand: "make", Image: "kernel.elf"}, "make", root + "/kernel.elf", nil},
		{"nothing detected", project.Detection{}, "", root + "/build/kernel.elf", nil},
		{"odd characters", project.Detection{BuildCommand: "make \"A=\\1\"", Image: "b/x y\".elf", Reason: "line\nbreak"}, "make \"A=\\1\"", root + "/b/x y\".elf", []string{"b/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := project.InitFile(tt.d)
			c := projecttest.MustParse(t, filepath.Join(root, project.FileName), data)
			if c.Build.Command != tt.wantCommand || c.Kernel.Image != tt.wantImage {
				t.Errorf("command %q image %q, want %q %q", c.Build.Command, c.Kernel.Image, tt.wantCommand, tt.wantImage)
			}
			if !reflect.DeepEqual(c.Watch.Ignore, tt.wantIgnore) && len(c.Watch.Ignore)+len(tt.wantIgnore) > 0 {
				t.Errorf("watch.ignore %q, want %q", c.Watch.Ignore, tt.wantIgnore)
			}
			// Apart from the detected values, the file holds only defaults.
			c.Build.Command, c.Build.CommandSet, c.Kernel, c.Watch.Ignore = defaults.Build.Command, defaults.Build.CommandSet, defaults.Kernel, defaults.Watch.Ignore
			if !reflect.DeepEqual(c, defaults) {
				t.Errorf("InitFile sets more than the detection:\n%+v\nwant %+v", c, defaults)
			}
			for _, section := range []string{"[build]", "[watch]", "[kernel]", "[vm]", "[logs]", "[metrics]", "[health]"} {
				if !strings.Contains(string(data), section+"\n") {
					t.Errorf("no %s section", section)
				}
			}
			if strings.Count(string(data), "# Detected:") > 1 || strings.Contains(string(data), "line\nbreak") {
				t.Errorf("reason not kept on one line:\n%s", data)
			}
		})
	}
	t.Run("commented defaults parse as the defaults", func(t *testing.T) {
		var b strings.Builder
		for _, line := range strings.Split(string(project.InitFile(project.Detection{})), "\n") {
			if rest, ok := strings.CutPrefix(line, "# "); ok && strings.Contains(rest, " = ") &&
				!strings.HasPrefix(rest, "name") && !strings.HasPrefix(rest, "env") &&
				!strings.HasPrefix(rest, "ports") && !strings.HasPrefix(rest, "ignore") && !strings.HasPrefix(rest, "command") &&
				!strings.HasPrefix(rest, "url") && !strings.HasPrefix(rest, "series") {
				line = rest
			}
			b.WriteString(line + "\n")
		}
		c, err := project.Parse(filepath.Join(root, project.FileName), []byte(b.String()))
		if err != nil {
			t.Fatalf("uncommented file does not parse: %v\n%s", err, b.String())
		}
		want := *defaults
		want.Kernel.Symbols, want.Kernel.Initrd = c.Kernel.Symbols, c.Kernel.Initrd
		if c.Kernel.Initrd != "" || c.Kernel.Symbols != c.Kernel.Image {
			t.Errorf("initrd %q symbols %q", c.Kernel.Initrd, c.Kernel.Symbols)
		}
		want.VM.Args = c.VM.Args
		want.VM.MemorySet, want.VM.CPUsSet = true, true // the uncommented defaults are given explicitly
		if !reflect.DeepEqual(c, &want) {
			t.Errorf("commented defaults differ from the defaults:\n%+v\nwant %+v", c, &want)
		}
	})
}

// flavorRules is a flavor for the registry's refusals; never registered.
type flavorRules struct {
	projecttest.Flavor
	section any
}

func (f flavorRules) NewSection() any                        { return f.section }
func (flavorRules) DecodeSettings(*project.Section, any) any { return nil }

func TestRegisterFlavorRefusals(t *testing.T) {
	type untagged struct{ Boot any }
	type typed struct {
		Boot string `toml:"boot"`
	}
	tests := []struct {
		name string
		f    flavorRules
	}{
		{"a name registered twice", flavorRules{Flavor: projecttest.Flavor(project.DefaultFlavor), section: &struct{}{}}},
		{"a section that is not a pointer", flavorRules{Flavor: projecttest.Flavor("x1"), section: struct{}{}}},
		{"no section", flavorRules{Flavor: projecttest.Flavor("x2")}},
		{"an untagged key", flavorRules{Flavor: projecttest.Flavor("x3"), section: &untagged{}}},
		{"a key of a Go type", flavorRules{Flavor: projecttest.Flavor("x4"), section: &typed{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("RegisterFlavor did not panic")
				}
			}()
			project.RegisterFlavor(tt.f)
		})
	}
	for _, tt := range tests[1:] {
		if _, ok := project.LookupFlavor(tt.f.Name()); ok {
			t.Errorf("refused flavor %s was registered", tt.f.Name())
		}
	}
}
