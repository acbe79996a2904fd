package nanos_test

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ukdev/ukdev/flavor/nanos"
	"github.com/ukdev/ukdev/project"
	"github.com/ukdev/ukdev/project/projecttest"
)

// root is where test configs pretend to live.
const root = "/work/proj"

func TestInitFileNanos(t *testing.T) {
	tests := []struct {
		name        string
		d           project.Detection
		wantCommand string
		wantImage   string
		wantIgnore  []string
	}{
		{"from main.go", project.Detection{Flavor: "nanos", Image: "web", BuildCommand: "CGO_ENABLED=0 go build -o web .", Ports: []int{8080}, Reason: "main.go"},
			"CGO_ENABLED=0 go build -o web .", root + "/web", []string{"/web", "/web-go-tmp-*"}},
		{"program in a subdirectory", project.Detection{Flavor: "nanos", Source: "config.json", Complete: true, Image: "bin/server", BuildCommand: "make"},
			"make", root + "/bin/server", []string{"/bin/server"}},
		{"no program found", project.Detection{Flavor: "nanos"}, "", root + "/" + "app", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := project.InitFile(tt.d)
			c := projecttest.MustParse(t, filepath.Join(root, project.FileName), data)
			if c.Flavor != "nanos" || c.Build.Command != tt.wantCommand || c.Kernel.Image != tt.wantImage || c.Kernel.Symbols != tt.wantImage {
				t.Errorf("flavor %q command %q image %q symbols %q, want nanos %q %q", c.Flavor, c.Build.Command, c.Kernel.Image, c.Kernel.Symbols, tt.wantCommand, tt.wantImage)
			}
			if !reflect.DeepEqual(c.Watch.Ignore, tt.wantIgnore) {
				t.Errorf("watch.ignore %q, want %q", c.Watch.Ignore, tt.wantIgnore)
			}
			// The flavor picks memory, ports and the kernel: the file leaves them unset.
			if c.VM.MemorySet || len(c.VM.Ports) > 0 || nanos.SettingsOf(c) != (nanos.Settings{Boot: "direct"}) {
				t.Errorf("InitFile sets vm or nanos keys: %+v %+v", c.VM, nanos.SettingsOf(c))
			}
			for _, section := range []string{"[build]", "[watch]", "[kernel]", "[vm]", "[logs]", "[nanos]"} {
				if !strings.Contains(string(data), section+"\n") {
					t.Errorf("no %s section", section)
				}
			}
		})
	}
	t.Run("commented nanos keys parse", func(t *testing.T) {
		data := projecttest.Uncomment(project.InitFile(project.Detection{Flavor: "nanos", Image: "app"}), "[nanos]")
		c := projecttest.MustParse(t, filepath.Join(root, project.FileName), data)
		if want := (nanos.Settings{Config: root + "/config.json", Boot: "direct"}); nanos.SettingsOf(c) != want {
			t.Errorf("uncommented [nanos] = %+v, want %+v", nanos.SettingsOf(c), want)
		}
	})
}
