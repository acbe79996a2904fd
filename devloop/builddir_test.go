package devloop

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ukdev/ukdev/builder"
)

func TestBuildDirMessage(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "proj")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(root, "ukdev.toml")
	tests := []struct {
		name      string
		root, dir string
		want      []string
		notWant   string
	}{
		{name: "project directory gone", root: filepath.Join(base, "gone"), dir: filepath.Join(base, "gone"),
			want: []string{"project directory " + filepath.Join(base, "gone") + " is gone", "when it is back"}, notWant: "fork/exec"},
		{name: "build.dir below a project directory that is gone", root: filepath.Join(base, "gone"), dir: filepath.Join(base, "gone", "sub"),
			want: []string{"project directory " + filepath.Join(base, "gone") + " is gone"}},
		{name: "build.dir missing", root: root, dir: filepath.Join(root, "out"),
			want: []string{"build.dir " + filepath.Join(root, "out") + " does not exist", config}},
		{name: "build.dir is a file", root: root, dir: filepath.Join(root, "file"),
			want: []string{"build.dir " + filepath.Join(root, "file") + " is not a directory", config}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := (&builder.Builder{Command: "true", Dir: tt.dir}).Run(t.Context(), nil)
			msg, ok := buildDirMessage(tt.root, config, res.Err)
			if !ok {
				t.Fatalf("buildDirMessage(%v) did not recognise a missing directory", res.Err)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q lacks %q", msg, w)
				}
			}
			if tt.notWant != "" && strings.Contains(msg, tt.notWant) {
				t.Errorf("message %q says %q", msg, tt.notWant)
			}
		})
	}
	if _, ok := buildDirMessage(root, config, os.ErrPermission); ok {
		t.Error("buildDirMessage took another error for a directory problem")
	}
}
