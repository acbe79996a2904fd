package all_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ukdev/ukdev/project"
	"github.com/ukdev/ukdev/project/projecttest"
	"github.com/ukdev/ukdev/project/templates"
)

// The flavors' templates, each rendered, detected as its flavor, loaded,
// and built where the tools are installed.
func TestTemplateRender(t *testing.T) {
	tests := []struct {
		name      string
		wantFiles []string // among the files written
		// build is the command that must build the new project, nil for
		// none (Unikraft cannot be fetched here).
		build []string
		// built is the file the build must make.
		built string
	}{
		{"hello-c", []string{"Makefile", "main.c", "boot.S", "linker.ld", "ukdev.toml", ".gitignore"},
			[]string{"make"}, "build/hello.elf"},
		{"go-http-nanos", []string{"main.go", "config.json", "ukdev.toml", "go.mod"},
			[]string{"go", "build", "-o", "app", "."}, "app"},
		{"go-http-linux", []string{"main.go", "ukdev.toml", "go.mod"},
			[]string{"go", "build", "-o", "app", "."}, "app"},
		{"unikraft", []string{"Kraftfile", "Makefile", "Makefile.uk", "Config.uk", "main.c", "ukdev.toml", ".gitignore"}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, files := projecttest.RenderTemplate(t, tt.name)
			for _, f := range tt.wantFiles {
				if !slices.Contains(files, f) {
					t.Errorf("no %s among %q", f, files)
				}
			}
			for _, f := range files {
				if strings.HasSuffix(f, "_test.go") || f == "app" || strings.HasPrefix(f, "build/") {
					t.Errorf("%s copied: not a source file", f)
				}
				if strings.Contains(projecttest.ReadFile(t, dir, f), "{{name}}") {
					t.Errorf("%s still holds %s", f, "{{name}}")
				}
			}
			// The project is detected as the template's flavor, and its
			// ukdev.toml loads as that flavor.
			if d := project.Detect(dir); d.Flavor != templates.Flavor(tt.name) || !d.Complete {
				t.Errorf("Detect = %+v, want a complete %s detection", d, templates.Flavor(tt.name))
			}
			cfg, err := project.Load(filepath.Join(dir, project.FileName))
			if err != nil {
				t.Fatalf("ukdev.toml does not load: %v", err)
			}
			if cfg.Flavor != templates.Flavor(tt.name) {
				t.Errorf("ukdev.toml flavor %q, want %q", cfg.Flavor, templates.Flavor(tt.name))
			}
			if tt.build == nil {
				return
			}
			if testing.Short() {
				t.Skip("builds the project: skipped in -short mode")
			}
			if _, err := exec.LookPath(tt.build[0]); err != nil {
				t.Skipf("%s is not installed", tt.build[0])
			}
			cmd := exec.Command(tt.build[0], tt.build[1:]...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOWORK=off")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", strings.Join(tt.build, " "), err, out)
			}
			if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(tt.built))); err != nil {
				t.Errorf("the build made no %s: %v", tt.built, err)
			}
		})
	}
}

func TestTemplateNames(t *testing.T) {
	want := []string{"hello-c", "go-http-linux", "go-http-nanos", "unikraft"}
	if got := templates.Names(); !slices.Equal(got, want) {
		t.Errorf("templates.Names() = %q, want %q", got, want)
	}
	for _, n := range want {
		if templates.Flavor(n) == "" {
			t.Errorf("Flavor(%s) is empty", n)
		}
	}
}
