package templates_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/fstest"

	"github.com/ukdev/ukdev/project"
	"github.com/ukdev/ukdev/project/projecttest"
	"github.com/ukdev/ukdev/project/templates"
)

// testFlavor provides the template these tests render; the flavors' own
// templates are tested with all of them registered (flavor/all).
type testFlavor struct{ projecttest.Flavor }

func (testFlavor) Detect(string, bool) (project.Detection, bool) {
	return project.Detection{Image: "k"}, true
}
func (testFlavor) Templates() []templates.Template {
	return []templates.Template{
		{Name: "go", Files: fstest.MapFS{
			"main.go":      {Data: []byte("package main // {{name}}\n")},
			"main_test.go": {Data: []byte("package main\n")},
			"sub/x.txt":    {Data: []byte("{{name}}\n")},
		}},
		{Name: "named", Subst: true, Files: fstest.MapFS{
			"README":         {Data: []byte("# {{name}}\n")},
			project.FileName: {Data: []byte("kernel.image = \"k\"\n")},
		}},
	}
}

func init() { project.RegisterFlavor(testFlavor{projecttest.Flavor(project.DefaultFlavor)}) }

func TestTemplateRender(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string // every file written, with its content
	}{
		{"go", map[string]string{
			"main.go":        "package main // {{name}}\n",
			"sub/x.txt":      "{{name}}\n",
			"go.mod":         "module my-proj\n\ngo 1.22\n",
			project.FileName: string(project.InitFile(project.Detection{Flavor: project.DefaultFlavor, Image: "k"})),
		}},
		{"named", map[string]string{
			"README":         "# my-proj\n",
			project.FileName: "kernel.image = \"k\"\n",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, files := projecttest.RenderTemplate(t, tt.name)
			var want []string
			for f, content := range tt.files {
				want = append(want, f)
				if data := projecttest.ReadFile(t, dir, f); data != content {
					t.Errorf("%s = %q, want %q", f, data, content)
				}
			}
			slices.Sort(want)
			if !slices.Equal(files, want) {
				t.Errorf("files %q, want %q", files, want)
			}
			if templates.Flavor(tt.name) != project.DefaultFlavor {
				t.Errorf("Flavor(%s) = %q", tt.name, templates.Flavor(tt.name))
			}
		})
	}
	if got, want := templates.Names(), []string{"go", "named"}; !slices.Equal(got, want) {
		t.Errorf("Names() = %q, want %q", got, want)
	}
}

func TestTemplateRefusals(t *testing.T) {
	t.Run("unknown", func(t *testing.T) {
		if _, err := templates.Render("rust", t.TempDir(), templates.Options{}); !errors.Is(err, templates.ErrUnknown) {
			t.Fatalf("Render(rust) error = %v, want ErrUnknown", err)
		}
		if templates.Flavor("rust") != "" {
			t.Error("an unknown template has a flavor")
		}
	})
	t.Run("not empty", func(t *testing.T) {
		dir := t.TempDir()
		keep := filepath.Join(dir, "notes.txt")
		if err := os.WriteFile(keep, []byte("mine"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := templates.Render("named", dir, templates.Options{}); !errors.Is(err, templates.ErrNotEmpty) {
			t.Fatalf("Render into a non-empty dir: error = %v, want ErrNotEmpty", err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Fatalf("a refused Render wrote files: %v", entries)
		}
		if _, err := templates.Render("named", dir, templates.Options{Force: true}); err != nil {
			t.Fatalf("Render with Force: %v", err)
		}
		if data, err := os.ReadFile(keep); err != nil || string(data) != "mine" {
			t.Errorf("Force changed an unrelated file: %q, %v", data, err)
		}
	})
	t.Run("a file", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := templates.Render("go", p, templates.Options{Force: true}); err == nil {
			t.Fatal("Render into a file succeeded")
		}
	})
}

func TestTemplateProjectName(t *testing.T) {
	for dir, want := range map[string]string{"/x/My Proj": "my-proj", "/x/--": "app", "/x/web_2": "web_2", "/x/.hidden": "hidden"} {
		if got := templates.ProjectName(dir); got != want {
			t.Errorf("ProjectName(%q) = %q, want %q", dir, got, want)
		}
	}
}
