package watcher

import (
	"os"
	"path/filepath"
	"testing"
)

// loadAll loads the .gitignore files of every directory the walk reaches.
func loadAll(root string, r *rules) {
	wk := &walker{root: root, rules: r, warn: func(string) {}}
	wk.walk(".")
}

func TestRulesIgnored(t *testing.T) {
	root := t.TempDir()
	for rel, content := range map[string]string{
		".gitignore":          "*.o\n/build/\nout\n*.log\n!keep.log\n\\#notcomment\nspace\\ \r\n",
		"src/.gitignore":      "!special.o\ngen/\n*.tmp\n",
		"src/deep/.gitignore": "!*.tmp\n",
		"docs/.gitignore":     "/local.md\n",
	} {
		writeFile(t, root, rel, content)
	}
	r, err := newRules(root, []string{"*.bak", "/vendor", "!src/keep.bak"}, []string{
		filepath.Join(root, "kernel.elf"),
		filepath.Join(root, "objs"),
		"src/../out.bin", // relative to the root
	})
	if err != nil {
		t.Fatal(err)
	}
	loadAll(root, r)

	tests := []struct {
		rel   string
		isDir bool
		want  bool
	}{
		{"main.c", false, false},
		{".", true, false},
		{".git", true, true},
		{"sub/.git", true, true},
		{".git/config", false, true},
		{".gitignore", false, false},
		{".github/workflows/ci.yml", false, false},
		{"x.o", false, true},
		{"src/x.o", false, true},
		{"src/special.o", false, false},
		{"docs/special.o", false, true},
		{"build", true, true},
		{"build", false, false}, // "/build/" is for directories only
		{"src/build", true, false},
		{"out", false, true},
		{"src/out", true, true},
		{"a.log", false, true},
		{"keep.log", false, false},
		{"src/keep.log", false, false},
		{"src/gen", true, true},
		{"gen", true, false},
		{"src/a.tmp", false, true},
		{"src/deep/a.tmp", false, false},
		{"a.tmp", false, false},
		{"docs/local.md", false, true},
		{"docs/sub/local.md", false, false},
		{"local.md", false, false},
		{"a.bak", false, true},
		{"src/keep.bak", false, false},
		{"vendor", true, true},
		{"src/vendor", true, false},
		{"kernel.elf", false, true},
		{"kernel.elf.map", false, false},
		{"objs", true, true},
		{"objs/a/b.o", false, true},
		{"objsx", false, false},
		{"out.bin", false, true},
		{"4913", false, true},
		{"src/.main.c.swp", false, true},
		{".main.c.swo", false, true},
		{"main.c.swx", false, true},
		{"main.c~", false, true},
		{".#main.c", false, true},
		{"#main.c#", false, true},
		{"#", false, false},
		{"main.c___jb_tmp___", false, true},
		{"main.c___jb_old___", false, true},
		{"4913.c", false, false},
		{"sedAb12Xy", false, true},
		{"src/sed0a9zQk", false, true},
		{"sed.c", false, false},
		{"sedAb12X", false, false},
		{"sedAb12Xy.c", false, false},
		{"sedAb_2Xy", false, false},
	}
	for _, tt := range tests {
		if got := r.ignored(tt.rel, tt.isDir); got != tt.want {
			t.Errorf("ignored(%q, dir=%v) = %v, want %v", tt.rel, tt.isDir, got, tt.want)
		}
	}
}

func TestRulesAboveRoot(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string // relative to the repository
		rel     string            // relative to the root, repo/proj
		isDir   bool
		ignored bool
		gitFile bool // .git is a file, as in a worktree or submodule
	}{
		{
			name:    "repository .gitignore applies below",
			files:   map[string]string{".gitignore": "*.o\n"},
			rel:     "x.o",
			ignored: true,
		},
		{
			name:    "anchored pattern above the root",
			files:   map[string]string{".gitignore": "/proj/gen/\n"},
			rel:     "gen",
			isDir:   true,
			ignored: true,
		},
		{
			name:    "anchored pattern for another directory",
			files:   map[string]string{".gitignore": "/gen/\n"},
			rel:     "gen",
			isDir:   true,
			ignored: false,
		},
		{
			name:    "info/exclude",
			files:   map[string]string{".git/info/exclude": "*.secret\n"},
			rel:     "a.secret",
			ignored: true,
		},
		{
			name:    "worktree",
			files:   map[string]string{".gitignore": "*.o\n"},
			gitFile: true,
			rel:     "x.o",
			ignored: true,
		},
		{
			name:    "a repository ignoring the root does not hide it",
			files:   map[string]string{".gitignore": "*\n"},
			rel:     "main.c",
			ignored: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := t.TempDir()
			if tt.gitFile {
				writeFile(t, repo, ".git", "gitdir: /elsewhere/.git/worktrees/proj\n")
			} else if err := os.MkdirAll(filepath.Join(repo, ".git"), 0o755); err != nil {
				t.Fatal(err)
			}
			for rel, content := range tt.files {
				writeFile(t, repo, rel, content)
			}
			root := filepath.Join(repo, "proj")
			if err := os.MkdirAll(root, 0o755); err != nil {
				t.Fatal(err)
			}
			r, err := newRules(root, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.problems) > 0 {
				t.Errorf("problems: %q", r.problems)
			}
			loadAll(root, r)
			if got := r.ignored(tt.rel, tt.isDir); got != tt.ignored {
				t.Errorf("ignored(%q) = %v, want %v", tt.rel, got, tt.ignored)
			}
		})
	}
}
