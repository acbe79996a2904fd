package devloop

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ukdev/ukdev/project"
	"github.com/ukdev/ukdev/project/projecttest"
	"github.com/ukdev/ukdev/watcher"
)

// TestWatchIgnoresUkdevDirs writes into ukdev's own state and runtime
// directories, placed inside the project as XDG_STATE_HOME=./state would:
// files ukdev writes there (saved logs, boot logs, image copies) must not
// start a build.
func TestWatchIgnoresUkdevDirs(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, project.FileName)
	projecttest.WriteFile(t, path, "build.command = \"true\"\nkernel.image = \"k.elf\"\n")
	cfg, err := project.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(root, ".state", "ukdev", "p")
	runtime := filepath.Join(root, "run")
	if err := os.MkdirAll(runtime, 0o700); err != nil {
		t.Fatal(err)
	}
	l, err := New(Options{Config: cfg, Backend: newFakeBackend(), StateDir: state, RuntimeDir: runtime})
	if err != nil {
		t.Fatal(err)
	}
	defer l.lock.Release()
	opts := l.watchOptions()
	opts.Debounce = 20 * time.Millisecond
	w, err := watcher.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)

	projecttest.WriteFile(t, filepath.Join(state, "ukdev-logs-20250102-120000.txt"), "saved")
	projecttest.WriteFile(t, filepath.Join(state, "boots", "boot-000001.log"), "console")
	projecttest.WriteFile(t, filepath.Join(runtime, "images", "k-1.elf"), "copy")
	projecttest.WriteFile(t, filepath.Join(root, "main.c"), "int main;")
	select {
	case c := <-w.Changes():
		if !slices.Equal(c.Paths, []string{"main.c"}) {
			t.Errorf("change %q, want only main.c: ukdev's own files were reported", c.Paths)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no change reported for main.c")
	}
}

// TestWatchOptionsTimings: the watch keys' timings reach the watcher.
func TestWatchOptionsTimings(t *testing.T) {
	tests := []struct {
		name                      string
		config                    string
		debounce, maxWait, settle time.Duration
	}{
		{"defaults", "", project.DefaultDebounce, project.DefaultMaxWait, project.DefaultSettle},
		{"set", "watch.debounce = \"50ms\"\nwatch.max_wait = \"1s\"\nwatch.settle = \"3ms\"\n", 50 * time.Millisecond, time.Second, 3 * time.Millisecond},
		{"settle off", "watch.settle = \"100ms\"\n", project.DefaultDebounce, project.DefaultMaxWait, project.DefaultDebounce},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			path := filepath.Join(root, project.FileName)
			projecttest.WriteFile(t, path, "build.command = \"true\"\nkernel.image = \"k.elf\"\n"+tt.config)
			cfg, err := project.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			l, err := New(Options{Config: cfg, Backend: newFakeBackend(), StateDir: filepath.Join(t.TempDir(), "state"), RuntimeDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			defer l.lock.Release()
			opts := l.watchOptions()
			if opts.Debounce != tt.debounce || opts.MaxWait != tt.maxWait || opts.Settle != tt.settle {
				t.Errorf("debounce %v, max wait %v, settle %v; want %v, %v, %v",
					opts.Debounce, opts.MaxWait, opts.Settle, tt.debounce, tt.maxWait, tt.settle)
			}
		})
	}
}
