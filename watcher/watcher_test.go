package watcher

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
)

const (
	// testDebounce keeps the tests quick while leaving room for a loaded
	// machine between the steps of one action.
	testDebounce = 50 * time.Millisecond
	// deadline bounds every wait for something that must happen.
	deadline = 10 * time.Second
	// quietPeriod bounds a wait for something that must not happen.
	quietPeriod = 6 * testDebounce
)

// writeFile creates or replaces root/rel, making its directories.
func writeFile(t *testing.T, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// running is a Watcher whose Run goroutine the test controls.
type running struct {
	*Watcher
	cancel context.CancelFunc
	done   chan error
}

// start creates a Watcher for opts and runs it until the test ends. When
// opts set a Debounce and no Settle, Settle is the Debounce: every batch
// then waits the whole quiet time, so that tests of what a Change holds
// do not depend on the steps of one action following each other within
// DefaultSettle on a loaded machine. The tests of the Settle rule set it.
func start(t *testing.T, opts Options) *running {
	t.Helper()
	if opts.Debounce != 0 && opts.Settle == 0 {
		opts.Settle = opts.Debounce
	}
	w, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return run(t, w)
}

// run runs w until the test ends.
func run(t *testing.T, w *Watcher) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Watcher: w, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- w.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop ends Run and returns the warnings it left.
func (r *running) stop(t *testing.T) []string {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		r.done <- nil // later stops return at once
	case <-time.After(deadline):
		t.Fatal("Run did not return after cancel")
	}
	var warnings []string
	for w := range r.warnings {
		warnings = append(warnings, w)
	}
	return warnings
}

// next waits for the next Change.
func (r *running) next(t *testing.T) Change {
	t.Helper()
	select {
	case c, ok := <-r.Changes():
		if !ok {
			t.Fatal("Changes closed")
		}
		return c
	case <-time.After(deadline):
		t.Fatalf("no Change within %v", deadline)
	}
	return Change{}
}

// none asserts that no Change arrives within d.
func (r *running) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case c := <-r.Changes():
		t.Fatalf("unexpected Change %v (count %d)", c.Paths, c.Count)
	case <-time.After(d):
	}
}

// warning waits for the next warning.
func (r *running) warning(t *testing.T) string {
	t.Helper()
	select {
	case w := <-r.Warnings():
		return w
	case <-time.After(deadline):
		t.Fatalf("no warning within %v", deadline)
	}
	return ""
}

func TestChanges(t *testing.T) {
	tests := []struct {
		name  string
		setup []string // files created before New
		dirs  []string // empty directories created before New
		act   func(t *testing.T, root string)
		want  []string
	}{
		{
			name: "new file",
			act:  func(t *testing.T, root string) { writeFile(t, root, "main.c", "int main;") },
			want: []string{"main.c"},
		},
		{
			name:  "modified file",
			setup: []string{"main.c"},
			act:   func(t *testing.T, root string) { writeFile(t, root, "main.c", "changed") },
			want:  []string{"main.c"},
		},
		{
			name:  "modified file in a subdirectory",
			setup: []string{"src/lib/x.c"},
			act:   func(t *testing.T, root string) { writeFile(t, root, "src/lib/x.c", "changed") },
			want:  []string{"src/lib/x.c"},
		},
		{
			name:  "removed file",
			setup: []string{"main.c"},
			act: func(t *testing.T, root string) {
				if err := os.Remove(filepath.Join(root, "main.c")); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"main.c"},
		},
		{
			name:  "renamed file",
			setup: []string{"a.c"},
			act: func(t *testing.T, root string) {
				if err := os.Rename(filepath.Join(root, "a.c"), filepath.Join(root, "b.c")); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"a.c", "b.c"},
		},
		{
			name:  "touched file (chmod only)",
			setup: []string{"main.c"},
			act: func(t *testing.T, root string) {
				now := time.Now()
				if err := os.Chtimes(filepath.Join(root, "main.c"), now, now); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"main.c"},
		},
		{
			name: "new nested directories",
			act: func(t *testing.T, root string) {
				writeFile(t, root, "a/b/c.c", "x")
			},
			want: []string{"a/b/c.c"},
		},
		{
			name: "file in a new directory created after its watch",
			act: func(t *testing.T, root string) {
				if err := os.MkdirAll(filepath.Join(root, "a/b"), 0o755); err != nil {
					t.Fatal(err)
				}
				writeFile(t, root, "a/b/c.c", "x")
				writeFile(t, root, "a/b/d/e.c", "x")
			},
			want: []string{"a/b/c.c", "a/b/d/e.c"},
		},
		{
			name: "directory moved in with its contents",
			act: func(t *testing.T, root string) {
				outside := t.TempDir()
				writeFile(t, outside, "pkg/x.c", "x")
				writeFile(t, outside, "pkg/sub/y.c", "y")
				if err := os.Rename(filepath.Join(outside, "pkg"), filepath.Join(root, "pkg")); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"pkg/sub/y.c", "pkg/x.c"},
		},
		{
			name:  "removed directory",
			setup: []string{"d/x.c", "d/e/y.c"},
			act: func(t *testing.T, root string) {
				if err := os.RemoveAll(filepath.Join(root, "d")); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"d", "d/e", "d/e/y.c", "d/x.c"},
		},
		{
			name: "chmod of a directory is not a change",
			dirs: []string{"d"},
			act: func(t *testing.T, root string) {
				if err := os.Chmod(filepath.Join(root, "d"), 0o700); err != nil {
					t.Fatal(err)
				}
				writeFile(t, root, "sentinel.c", "x")
			},
			want: []string{"sentinel.c"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for _, f := range tt.setup {
				writeFile(t, root, f, "old")
			}
			for _, d := range tt.dirs {
				if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			w := start(t, Options{Root: root, Debounce: testDebounce})
			tt.act(t, root)
			c := w.next(t)
			if !reflect.DeepEqual(c.Paths, tt.want) || c.Count != len(tt.want) {
				t.Errorf("Change = %q (count %d), want %q", c.Paths, c.Count, tt.want)
			}
			if c.First.IsZero() || c.Emitted.Before(c.First) {
				t.Errorf("First %v, Emitted %v: want First set and not after Emitted", c.First, c.Emitted)
			}
			if warnings := w.stop(t); len(warnings) > 0 {
				t.Errorf("warnings: %q", warnings)
			}
		})
	}
}

func TestRemovedDirectoryDropsWatches(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "d/e/f/x.c", "x")
	w := start(t, Options{Root: root, Debounce: testDebounce})
	if err := os.RemoveAll(filepath.Join(root, "d")); err != nil {
		t.Fatal(err)
	}
	w.next(t)
	// Recreating the directory must be seen again, through a fresh watch.
	writeFile(t, root, "d/e/f/x.c", "again")
	c := w.next(t)
	if !reflect.DeepEqual(c.Paths, []string{"d/e/f/x.c"}) {
		t.Errorf("after recreating: Change = %q, want [d/e/f/x.c]", c.Paths)
	}
	if warnings := w.stop(t); len(warnings) > 0 {
		t.Errorf("warnings: %q", warnings)
	}
	// Run has returned: the watch table is the test's to read.
	for _, dir := range []string{".", "d", "d/e", "d/e/f"} {
		if _, ok := w.watched[dir]; !ok {
			t.Errorf("%s not watched after being recreated", dir)
		}
	}
}

func TestMovedDirectoryFollowsItsNewName(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "old/sub/x.c", "x")
	w := start(t, Options{Root: root, Debounce: testDebounce})
	if err := os.Rename(filepath.Join(root, "old"), filepath.Join(root, "new")); err != nil {
		t.Fatal(err)
	}
	c := w.next(t)
	if want := []string{"new/sub/x.c", "old"}; !reflect.DeepEqual(c.Paths, want) {
		t.Errorf("rename: Change = %q, want %q", c.Paths, want)
	}
	writeFile(t, root, "new/sub/x.c", "changed")
	c = w.next(t)
	if want := []string{"new/sub/x.c"}; !reflect.DeepEqual(c.Paths, want) {
		t.Errorf("write after rename: Change = %q, want %q", c.Paths, want)
	}
}

// TestIgnored writes ignored files, then a sentinel: the first Change must
// hold the sentinel alone (an ignored file, if reported, would arrive in
// it or before it).
func TestIgnored(t *testing.T) {
	const sentinel = "sentinel.c"
	tests := []struct {
		name   string
		setup  map[string]string // files before New
		opts   func(root string) Options
		ignore []string // written after New; none may be reported
		want   []string // reported along with the sentinel
	}{
		{
			name:   ".git anywhere",
			setup:  map[string]string{".git/HEAD": "ref", "vendor/lib/.git/HEAD": "ref"},
			ignore: []string{".git/index", ".git/objects/ab/cdef", "vendor/lib/.git/index"},
		},
		{
			name:   "root .gitignore",
			setup:  map[string]string{".gitignore": "*.o\nbuild/\n/gen\n# comment\n\n", "build/keep": "", "gen/keep": ""},
			ignore: []string{"x.o", "src/y.o", "build/out.bin", "build/deep/z.c", "gen/a.c"},
			want:   []string{"src/gen/a.c"},
		},
		{
			name: "nested .gitignore and negation",
			setup: map[string]string{
				".gitignore":     "*.log\n!keep.log\n",
				"sub/.gitignore": "*.tmp\n!*.o\n",
			},
			ignore: []string{"x.log", "sub/a.tmp", "sub/b.log"},
			want:   []string{"a.tmp", "keep.log", "sub/keep.log"},
		},
		{
			name: "deeper .gitignore wins",
			setup: map[string]string{
				".gitignore":     "*.o\n",
				"sub/.gitignore": "!*.o\n",
			},
			ignore: []string{"x.o", "other/y.o"},
			want:   []string{"sub/y.o"},
		},
		{
			name: "configured patterns",
			opts: func(root string) Options {
				return Options{Root: root, Ignore: []string{"*.bak", "/out", "docs/**/*.md"}}
			},
			setup:  map[string]string{"out/keep": ""},
			ignore: []string{"a.bak", "src/b.bak", "out/kernel", "docs/x/y.md"},
			want:   []string{"src/out/kernel", "x.md"},
		},
		{
			name: "editor temporary files",
			ignore: []string{
				"4913", "src/4913", ".main.c.swp", ".main.c.swx", "main.c~",
				".#main.c", "#main.c#", "main.c___jb_tmp___", "main.c___jb_old___",
			},
		},
		{
			name: "build outputs",
			opts: func(root string) Options {
				return Options{Root: root, IgnorePaths: []string{
					filepath.Join(root, "kernel.elf"),
					filepath.Join(root, "obj"),
					filepath.Join(root, "src", "gen.h"),
					"/elsewhere/out",
				}}
			},
			setup:  map[string]string{"obj/keep": ""},
			ignore: []string{"kernel.elf", "obj/main.o", "obj/deep/x.o", "src/gen.h"},
			want:   []string{"kernel.elf.map", "objx.c"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for f, content := range tt.setup {
				writeFile(t, root, f, content)
			}
			opts := Options{Root: root}
			if tt.opts != nil {
				opts = tt.opts(root)
			}
			opts.Debounce = testDebounce
			w := start(t, opts)
			for _, f := range tt.ignore {
				writeFile(t, root, f, "x")
			}
			for _, f := range tt.want {
				writeFile(t, root, f, "x")
			}
			writeFile(t, root, sentinel, "x")
			want := append([]string{sentinel}, tt.want...)
			got := w.next(t).Paths
			slices.Sort(want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Change = %q, want %q", got, want)
			}
			if warnings := w.stop(t); len(warnings) > 0 {
				t.Errorf("warnings: %q", warnings)
			}
		})
	}
}

func TestIgnoredDirectoriesAreNotWatched(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, ".gitignore", "node_modules/\n")
	writeFile(t, root, "node_modules/a/b/x.js", "")
	writeFile(t, root, ".git/objects/ab/cd", "")
	writeFile(t, root, "obj/x.o", "")
	writeFile(t, root, "src/main.c", "")
	w, err := New(Options{Root: root, IgnorePaths: []string{filepath.Join(root, "obj")}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var got []string
	for dir := range w.watched {
		got = append(got, dir)
	}
	slices.Sort(got)
	if want := []string{".", "src"}; !reflect.DeepEqual(got, want) {
		t.Errorf("watched %q, want %q", got, want)
	}
}

func TestGitignoreReload(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, ".gitignore", "*.gen\n")
	writeFile(t, root, "tmp/keep", "")
	w := start(t, Options{Root: root, Debounce: testDebounce})

	// Un-ignore *.gen, ignore tmp/.
	writeFile(t, root, ".gitignore", "tmp/\n")
	if c := w.next(t); !reflect.DeepEqual(c.Paths, []string{".gitignore"}) {
		t.Fatalf("Change = %q, want [.gitignore]", c.Paths)
	}
	writeFile(t, root, "tmp/x.c", "x")
	writeFile(t, root, "a.gen", "x")
	if c := w.next(t); !reflect.DeepEqual(c.Paths, []string{"a.gen"}) {
		t.Errorf("after reload: Change = %q, want [a.gen]", c.Paths)
	}

	// Removing the .gitignore brings tmp/ back under watch.
	if err := os.Remove(filepath.Join(root, ".gitignore")); err != nil {
		t.Fatal(err)
	}
	if c := w.next(t); !reflect.DeepEqual(c.Paths, []string{".gitignore"}) {
		t.Fatalf("Change = %q, want [.gitignore]", c.Paths)
	}
	writeFile(t, root, "tmp/y.c", "y")
	if c := w.next(t); !reflect.DeepEqual(c.Paths, []string{"tmp/y.c"}) {
		t.Errorf("after removing .gitignore: Change = %q, want [tmp/y.c]", c.Paths)
	}
}

func TestNestedGitignoreInNewDirectory(t *testing.T) {
	root := t.TempDir()
	w := start(t, Options{Root: root, Debounce: testDebounce})
	// Built outside and moved in, so the .gitignore is there before the
	// directory is walked.
	outside := t.TempDir()
	writeFile(t, outside, "lib/.gitignore", "*.o\n")
	writeFile(t, outside, "lib/a.o", "")
	writeFile(t, outside, "lib/a.c", "")
	if err := os.Rename(filepath.Join(outside, "lib"), filepath.Join(root, "lib")); err != nil {
		t.Fatal(err)
	}
	if c, want := w.next(t), []string{"lib/.gitignore", "lib/a.c"}; !reflect.DeepEqual(c.Paths, want) {
		t.Fatalf("Change = %q, want %q", c.Paths, want)
	}
	writeFile(t, root, "lib/b.o", "")
	writeFile(t, root, "lib/b.c", "")
	if c, want := w.next(t), []string{"lib/b.c"}; !reflect.DeepEqual(c.Paths, want) {
		t.Errorf("Change = %q, want %q", c.Paths, want)
	}
}

func TestPaths(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "src/main.c", "")
	writeFile(t, root, "Makefile", "")
	writeFile(t, root, "README", "")
	w := start(t, Options{Root: root, Paths: []string{"src", filepath.Join(root, "Makefile")}, Debounce: testDebounce})
	writeFile(t, root, "README", "not watched")
	writeFile(t, root, "other/x.c", "not watched")
	writeFile(t, root, "Makefile", "watched")
	writeFile(t, root, "src/new/x.c", "watched")
	if c, want := w.next(t), []string{"Makefile", "src/new/x.c"}; !reflect.DeepEqual(c.Paths, want) {
		t.Errorf("Change = %q, want %q", c.Paths, want)
	}
}

func TestDebounceMergesBurst(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	const debounce = 200 * time.Millisecond
	w := start(t, Options{Root: root, Debounce: debounce})
	var want []string
	for i := range 20 {
		name := fmt.Sprintf("f%02d.c", i)
		writeFile(t, root, name, "x")
		writeFile(t, root, name, "xy") // the same path twice counts once
		want = append(want, name)
	}
	c := w.next(t)
	if !reflect.DeepEqual(c.Paths, want) || c.Count != 20 {
		t.Errorf("Change = %q (count %d), want the 20 files", c.Paths, c.Count)
	}
	w.none(t, 3*debounce)
}

func TestMaxWaitDuringContinuousStream(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	const debounce, maxWait = 300 * time.Millisecond, 900 * time.Millisecond
	w := start(t, Options{Root: root, Debounce: debounce, MaxWait: maxWait})

	// The writer never pauses for a whole debounce, so only MaxWait can
	// close a batch while it runs.
	stop := make(chan struct{})
	stopped := make(chan int)
	go func() {
		tick := time.NewTicker(debounce / 10)
		defer tick.Stop()
		i := 0
		for {
			select {
			case <-stop:
				stopped <- i
				return
			case <-tick.C:
				_ = os.WriteFile(filepath.Join(root, fmt.Sprintf("s%04d.c", i%50)), []byte("x"), 0o644)
				i++
			}
		}
	}()
	c := w.next(t)
	close(stop)
	<-stopped
	if c.Count < 1 {
		t.Errorf("Change during the stream has count %d", c.Count)
	}
	if span := c.Emitted.Sub(c.First); span < maxWait {
		t.Errorf("Change emitted %v after its first event, before MaxWait %v", span, maxWait)
	}
}

func TestStormYieldsOneChange(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 10,000 files")
	}
	root := fastTempDir(t)
	if err := os.Mkdir(filepath.Join(root, "checkout"), 0o755); err != nil {
		t.Fatal(err)
	}
	w := start(t, Options{Root: root})
	const files = 10000
	began := time.Now()
	for i := range files {
		f, err := os.OpenFile(filepath.Join(root, "checkout", fmt.Sprintf("f%05d.c", i)), os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	took := time.Since(began)

	c := w.next(t)
	if c.Count != files && c.Count != -1 {
		t.Errorf("Change count %d, want %d or -1", c.Count, files)
	}
	if len(c.Paths) != MaxPaths {
		t.Errorf("Change lists %d paths, want %d", len(c.Paths), MaxPaths)
	}
	if took < DefaultMaxWait {
		w.none(t, 3*DefaultDebounce)
		return
	}
	// The storm outlasted MaxWait (a slow disk or a loaded machine), so
	// MaxWait rightly closed a batch during it; the rest must follow in
	// as few Changes as the storm's length allows.
	t.Logf("creating %d files took %v, longer than MaxWait %v", files, took, DefaultMaxWait)
	total, limit := c.Count, int(took/DefaultMaxWait)+1
	for n := 1; total != -1 && total < files; n++ {
		if n >= limit {
			t.Fatalf("%d Changes for a storm of %v (count so far %d)", n+1, took, total)
		}
		more := w.next(t)
		if more.Count == -1 {
			total = -1
		} else {
			total += more.Count
		}
	}
	w.none(t, 3*DefaultDebounce)
}

func TestOverflowBecomesChange(t *testing.T) {
	root := t.TempDir()
	w := start(t, Options{Root: root, Debounce: testDebounce})
	// fsnotify reports a kernel queue overflow on its Errors channel;
	// filling that queue for real takes a storm this test need not make.
	w.fsw.Errors <- fsnotify.ErrEventOverflow
	c := w.next(t)
	if want := []string{OverflowPath}; !reflect.DeepEqual(c.Paths, want) || c.Count != -1 {
		t.Errorf("Change = %q (count %d), want %q (count -1)", c.Paths, c.Count, want)
	}
	// Watching goes on, with counts known again.
	writeFile(t, root, "a/b.c", "x")
	if c := w.next(t); !reflect.DeepEqual(c.Paths, []string{"a/b.c"}) || c.Count != 1 {
		t.Errorf("after overflow: Change = %q (count %d), want [a/b.c] (count 1)", c.Paths, c.Count)
	}
}

// fastTempDir returns a temporary directory on tmpfs when the machine has
// one, so that creating thousands of files takes a fraction of MaxWait
// even on a slow or busy disk; otherwise t.TempDir().
func fastTempDir(t *testing.T) string {
	t.Helper()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "ukdev-watcher-test-"); err == nil {
			t.Cleanup(func() {
				if err := os.RemoveAll(dir); err != nil {
					t.Errorf("remove %s: %v", dir, err)
				}
			})
			return dir
		}
	}
	return t.TempDir()
}

func TestPauseResume(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	w := start(t, Options{Root: root, Debounce: testDebounce})
	w.SetPaused(true)
	writeFile(t, root, "a.c", "x")
	writeFile(t, root, "b.c", "x")
	w.none(t, quietPeriod)
	writeFile(t, root, "c.c", "x")
	w.none(t, quietPeriod)
	w.SetPaused(false)
	c := w.next(t)
	if want := []string{"a.c", "b.c", "c.c"}; !reflect.DeepEqual(c.Paths, want) {
		t.Errorf("on resume: Change = %q, want %q", c.Paths, want)
	}
	w.none(t, quietPeriod)

	// Resuming with nothing accumulated emits nothing.
	w.SetPaused(true)
	w.SetPaused(false)
	w.none(t, quietPeriod)
}

func TestPausedBeforeRun(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	w, err := New(Options{Root: root, Debounce: testDebounce})
	if err != nil {
		t.Fatal(err)
	}
	w.SetPaused(true)
	r := run(t, w)
	writeFile(t, root, "a.c", "x")
	r.none(t, quietPeriod)
	r.SetPaused(false)
	if c := r.next(t); !reflect.DeepEqual(c.Paths, []string{"a.c"}) {
		t.Errorf("Change = %q, want [a.c]", c.Paths)
	}
}

func TestWatchLimit(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"a", "b", "c", "d"} {
		writeFile(t, root, d+"/x.c", "")
	}
	// The root and "a" fit; "b", "c" and "d" hit the limit.
	watches := 0
	w, err := newWatcher(Options{Root: root, Debounce: testDebounce}, func(add func(string) error) func(string) error {
		return func(path string) error {
			if watches >= 2 {
				return syscall.ENOSPC
			}
			watches++
			return add(path)
		}
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	r := run(t, w)
	msg := r.warning(t)
	limit, err := os.ReadFile(maxWatchesFile)
	if err != nil {
		limit = []byte("unknown")
	}
	for _, want := range []string{
		"3 directories",
		"fs.inotify.max_user_watches",
		"(now " + strings.TrimSpace(string(limit)) + ")",
		"sudo sysctl fs.inotify.max_user_watches=524288",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("warning %q does not contain %q", msg, want)
		}
	}

	// What could be watched still works.
	writeFile(t, root, "a/x.c", "changed")
	if c := r.next(t); !reflect.DeepEqual(c.Paths, []string{"a/x.c"}) {
		t.Errorf("Change = %q, want [a/x.c]", c.Paths)
	}
	// A directory moved in is reported but cannot be watched: one more
	// warning.
	outside := t.TempDir()
	writeFile(t, outside, "new/y.c", "")
	if err := os.Rename(filepath.Join(outside, "new"), filepath.Join(root, "a", "new")); err != nil {
		t.Fatal(err)
	}
	if c := r.next(t); !reflect.DeepEqual(c.Paths, []string{"a/new/y.c"}) {
		t.Errorf("Change = %q, want [a/new/y.c]", c.Paths)
	}
	if msg := r.warning(t); !strings.Contains(msg, "1 directory not watched") {
		t.Errorf("warning %q does not name the one new directory", msg)
	}
}

func TestNothingWatchable(t *testing.T) {
	root := t.TempDir()
	_, err := newWatcher(Options{Root: root}, func(func(string) error) func(string) error {
		return func(string) error { return syscall.ENOSPC }
	})
	if err == nil || !strings.Contains(err.Error(), "max_user_watches") {
		t.Errorf("New = %v, want an error explaining the watch limit", err)
	}
}

func TestNewRejects(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "file", "")
	tests := []struct {
		name string
		opts Options
	}{
		{"empty root", Options{}},
		{"relative root", Options{Root: "proj"}},
		{"missing root", Options{Root: filepath.Join(root, "missing")}},
		{"root is a file", Options{Root: filepath.Join(root, "file")}},
		{"negative debounce", Options{Root: root, Debounce: -1}},
		{"max wait shorter than debounce", Options{Root: root, Debounce: time.Second, MaxWait: time.Millisecond}},
		{"negative settle", Options{Root: root, Settle: -1}},
		{"settle longer than debounce", Options{Root: root, Debounce: 10 * time.Millisecond, Settle: 20 * time.Millisecond}},
		{"path outside root", Options{Root: root, Paths: []string{"../elsewhere"}}},
		{"absolute path outside root", Options{Root: root, Paths: []string{os.TempDir()}}},
		{"missing path", Options{Root: root, Paths: []string{"src"}}},
		{"empty path", Options{Root: root, Paths: []string{""}}},
		{"empty ignore path", Options{Root: root, IgnorePaths: []string{""}}},
		{"root as relative ignore path", Options{Root: root, IgnorePaths: []string{"."}}},
		{"root as ignore path", Options{Root: root, IgnorePaths: []string{root}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := New(tt.opts)
			if err == nil {
				w.Close()
				t.Fatal("New succeeded")
			}
			if !strings.HasPrefix(err.Error(), "watcher: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestRunLifecycle(t *testing.T) {
	root := t.TempDir()
	w, err := New(Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after Close = %v, want nil", err)
		}
	case <-time.After(deadline):
		t.Fatal("Run after Close did not return")
	}
	if _, ok := <-w.Changes(); ok {
		t.Error("Changes not closed after Run returned")
	}
	if _, ok := <-w.Warnings(); ok {
		t.Error("Warnings not closed after Run returned")
	}
	if err := w.Run(context.Background()); !errors.Is(err, ErrAlreadyRunning) {
		t.Errorf("second Run = %v, want ErrAlreadyRunning", err)
	}
}

func TestCloseStopsRun(t *testing.T) {
	root := t.TempDir()
	w, err := New(Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background()) }()
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(deadline):
		t.Fatal("Run did not return after Close")
	}
}

func TestBatchChange(t *testing.T) {
	at := time.Unix(1000, 0)
	many := func(n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("f%04d", i))
		}
		return out
	}
	tests := []struct {
		name      string
		paths     []string
		later     []string // merged in from a later batch
		overflow  bool
		wantPaths []string
		wantCount int
	}{
		{"sorted and deduplicated", []string{"b", "a", "b"}, []string{"c", "a"}, false, []string{"a", "b", "c"}, 3},
		{"at most MaxPaths listed", many(250), nil, false, many(MaxPaths), 250},
		{"overflow", []string{"x"}, nil, true, []string{OverflowPath, "x"}, -1},
		{"overflow alone", nil, nil, true, []string{OverflowPath}, -1},
		{"overflow in the later batch", []string{"x"}, []string{"y"}, true, []string{OverflowPath, "x", "y"}, -1},
		{"overflow with many paths", many(150), nil, true, append([]string{OverflowPath}, many(MaxPaths-1)...), -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBatch()
			for _, p := range tt.paths {
				b.add(p, at)
			}
			later := newBatch()
			for _, p := range tt.later {
				later.add(p, at.Add(time.Second))
			}
			target := b
			if tt.later != nil {
				target = later
			}
			if tt.overflow {
				target.markOverflow(at)
			}
			if tt.later != nil {
				b.merge(later)
			}
			c := b.change(at.Add(2 * time.Second))
			if !reflect.DeepEqual(c.Paths, tt.wantPaths) || c.Count != tt.wantCount {
				t.Errorf("Change = %q (count %d), want %q (count %d)", c.Paths, c.Count, tt.wantPaths, tt.wantCount)
			}
			if !c.First.Equal(at) {
				t.Errorf("First = %v, want %v", c.First, at)
			}
		})
	}
}

func TestBatchDue(t *testing.T) {
	at := time.Unix(1000, 0)
	tests := []struct {
		name        string
		first, last time.Duration
		want        time.Duration
	}{
		{"quiet after the last event", 0, 50 * time.Millisecond, 150 * time.Millisecond},
		{"capped by max wait", 0, 1950 * time.Millisecond, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBatch()
			b.add("a", at.Add(tt.first))
			b.add("b", at.Add(tt.last))
			if got := b.due(100*time.Millisecond, 2*time.Second); !got.Equal(at.Add(tt.want)) {
				t.Errorf("due = %v, want %v", got.Sub(at), tt.want)
			}
		})
	}
}

func TestNoSpaceWarning(t *testing.T) {
	tests := []struct {
		dirs int
		want string
	}{
		{1, "watcher: 1 directory not watched"},
		{12, "watcher: 12 directories not watched"},
	}
	for _, tt := range tests {
		if got := noSpaceWarning(tt.dirs, "8192"); !strings.HasPrefix(got, tt.want) || !strings.Contains(got, "(now 8192)") {
			t.Errorf("noSpaceWarning(%d) = %q", tt.dirs, got)
		}
	}
}

// TestRootGoneAndBack removes the project root under a running Watcher and
// brings it back: the Watcher says it is gone, holds the changes made while
// it is (nothing could be built), says it is back, reports what the new
// tree holds, and watches the new tree, not the old one.
func TestRootGoneAndBack(t *testing.T) {
	tests := []struct {
		name  string
		paths []string
		// nest puts the root this deep below the temp dir; remove is
		// relative to the temp dir and removed or moved away.
		nest, remove string
		move         bool
		// cwd keeps a process in the root: the kernel then sends no
		// event for the root's own deletion.
		cwd bool
		// replace puts the new tree in place with one rename, within the
		// same debounce as the removal.
		replace bool
	}{
		{name: "deleted", nest: "proj", remove: "proj"},
		{name: "moved away", nest: "proj", remove: "proj", move: true},
		{name: "deleted with its parents", nest: "a/b/proj", remove: "a"},
		{name: "only a subdirectory watched", nest: "proj", remove: "proj", paths: []string{"src"}},
		{name: "deleted while a process works in it", nest: "proj", remove: "proj", cwd: true},
		{name: "replaced by another directory at once", nest: "proj", remove: "proj", move: true, replace: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			root := filepath.Join(base, filepath.FromSlash(tt.nest))
			writeFile(t, root, "src/main.c", "x")
			if tt.cwd {
				sleep := exec.Command("sleep", "60")
				sleep.Dir = root
				if err := sleep.Start(); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					_ = sleep.Process.Kill()
					_ = sleep.Wait()
				})
			}
			w := start(t, Options{Root: root, Paths: tt.paths, Debounce: testDebounce})

			removed := filepath.Join(base, filepath.FromSlash(tt.remove))
			moved := removed + ".old"
			next := filepath.Join(base, "next")
			if tt.replace {
				writeFile(t, next, "src/main.c", "back")
				writeFile(t, next, "src/util.c", "new")
			}
			if tt.move {
				if err := os.Rename(removed, moved); err != nil {
					t.Fatal(err)
				}
			} else if err := os.RemoveAll(removed); err != nil {
				t.Fatal(err)
			}
			if tt.replace {
				if err := os.Rename(next, root); err != nil {
					t.Fatal(err)
				}
			}
			if msg := w.warning(t); !strings.Contains(msg, root) || !strings.Contains(msg, "gone") {
				t.Fatalf("warning %q, want one saying %s is gone", msg, root)
			}
			if !tt.replace {
				w.none(t, quietPeriod)
				writeFile(t, root, "src/main.c", "back")
				writeFile(t, root, "src/util.c", "new")
			}
			if msg := w.warning(t); !strings.Contains(msg, root) || !strings.Contains(msg, "back") {
				t.Fatalf("warning %q, want one saying %s is back", msg, root)
			}
			c := w.next(t)
			if !slices.Contains(c.Paths, "src/main.c") || !slices.Contains(c.Paths, "src/util.c") {
				t.Errorf("Change after the root came back = %q, want src/main.c and src/util.c in it", c.Paths)
			}

			// The new tree is watched; the old one (moved away) is not.
			if tt.move {
				writeFile(t, moved, "src/main.c", "old tree")
			}
			writeFile(t, root, "src/new.c", "y")
			c = w.next(t)
			if !reflect.DeepEqual(c.Paths, []string{"src/new.c"}) {
				t.Errorf("Change after a write in the new tree = %q, want [src/new.c]", c.Paths)
			}
			if warnings := w.stop(t); len(warnings) > 0 {
				t.Errorf("more warnings: %q", warnings)
			}
		})
	}
}
