package watcher

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestNewestChange(t *testing.T) {
	base := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		files    []string       // all dated base
		newer    map[string]int // minutes after base
		dirs     map[string]int // directories dated minutes after base
		opts     func(root string) Options
		symlinks map[string]string // link (relative) -> target (absolute, outside)
		want     string
		wantMin  int
	}{
		{
			name:    "newest file",
			files:   []string{"a.c", "src/b.c"},
			newer:   map[string]int{"src/b.c": 2, "a.c": 1},
			want:    "src/b.c",
			wantMin: 2,
		},
		{
			name:  "ignored files do not count",
			files: []string{".gitignore", "a.c", "x.o", ".git/index", ".a.c.swp", "a.c~", "build/kernel.elf", "tmp/log"},
			newer: map[string]int{"a.c": 1, "x.o": 5, ".git/index": 5, ".a.c.swp": 5, "a.c~": 5, "build/kernel.elf": 5, "tmp/log": 5},
			opts: func(root string) Options {
				return Options{Root: root, IgnorePaths: []string{filepath.Join(root, "build")}, Ignore: []string{"tmp/"}}
			},
			want:    "a.c",
			wantMin: 1,
		},
		{
			name:    "gitignore content applies",
			files:   []string{".gitignore", "sub/.gitignore", "sub/x.o", "y.o", "c.c"},
			newer:   map[string]int{"sub/x.o": 3, "y.o": 4},
			want:    "sub/x.o",
			wantMin: 3,
		},
		{
			name:    "only the watched paths",
			files:   []string{"src/a.c", "docs/readme", "Makefile"},
			newer:   map[string]int{"docs/readme": 9, "Makefile": 2, "src/a.c": 1},
			opts:    func(root string) Options { return Options{Root: root, Paths: []string{"src", "Makefile"}} },
			want:    "Makefile",
			wantMin: 2,
		},
		{
			name:    "directories do not count",
			files:   []string{"a.c"},
			dirs:    map[string]int{"empty": 9},
			want:    "a.c",
			wantMin: 0,
		},
		{
			name:     "a symbolic link counts with its target's time",
			files:    []string{"a.c"},
			newer:    map[string]int{"a.c": 1},
			symlinks: map[string]string{"lib.c": "outside.c"},
			want:     "lib.c",
			wantMin:  7,
		},
		{
			name: "no files",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for _, f := range tt.files {
				content := ""
				switch filepath.Base(f) {
				case ".gitignore":
					content = "*.o\n"
				}
				if f == "sub/.gitignore" {
					content = "!*.o\n"
				}
				writeFile(t, root, f, content)
			}
			date := func(rel string, minutes int) {
				at := base.Add(time.Duration(minutes) * time.Minute)
				if err := os.Chtimes(filepath.Join(root, rel), at, at); err != nil {
					t.Fatal(err)
				}
			}
			for _, f := range tt.files {
				date(f, tt.newer[f])
			}
			for d, m := range tt.dirs {
				if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
					t.Fatal(err)
				}
				date(d, m)
			}
			outside := t.TempDir()
			for link, target := range tt.symlinks {
				writeFile(t, outside, target, "")
				at := base.Add(7 * time.Minute)
				if err := os.Chtimes(filepath.Join(outside, target), at, at); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(filepath.Join(outside, target), filepath.Join(root, link)); err != nil {
					t.Fatal(err)
				}
			}
			opts := Options{Root: root}
			if tt.opts != nil {
				opts = tt.opts(root)
			}
			got, path, err := NewestChange(opts)
			if err != nil {
				t.Fatalf("NewestChange: %v", err)
			}
			if tt.want == "" {
				if !got.IsZero() || path != "" {
					t.Errorf("NewestChange = %v, %q; want zero time and no path", got, path)
				}
				return
			}
			if want := base.Add(time.Duration(tt.wantMin) * time.Minute); path != tt.want || !got.Equal(want) {
				t.Errorf("NewestChange = %v, %q; want %v, %q", got, path, want, tt.want)
			}
		})
	}
}

func TestNewestChangeRejectsBadOptions(t *testing.T) {
	if _, _, err := NewestChange(Options{Root: "relative"}); err == nil {
		t.Error("NewestChange accepted a relative root")
	}
}
