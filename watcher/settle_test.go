package watcher

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
)

// saveDebounce is the Debounce of the tests of the Settle rule: long
// enough that a Change closed after Settle, even on a loaded machine,
// comes well before it, and that a Change waiting for it is told apart.
const saveDebounce = time.Second

// step runs one syscall of an editor's save, failing the test on error.
func step(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// writeNew creates (or truncates) path with flags and writes content in
// two writes, as editors write a buffer, with an fsync when sync is set.
func writeNew(t *testing.T, path string, flags int, perm os.FileMode, content string, sync bool) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, flags, perm)
	step(t, "open "+path, err)
	half := len(content) / 2
	_, err = f.WriteString(content[:half])
	step(t, "write", err)
	_, err = f.WriteString(content[half:])
	step(t, "write", err)
	if sync {
		step(t, "fsync", f.Sync())
	}
	return f
}

// The editors' saves of main.c, syscall by syscall in the order each
// makes them (as strace shows), in directory dir.
var editorSaves = []struct {
	name string
	// before runs before the watcher starts: what the editor did when
	// the buffer was first modified.
	before func(t *testing.T, dir string)
	save   func(t *testing.T, dir string)
}{
	{
		// vim with backupcopy=auto and writebackup (the defaults) on a
		// file with one link: a probe that the directory is writable,
		// the original renamed to the backup, a new file written and
		// synced, its mode set, the backup removed.
		name: "vim",
		save: func(t *testing.T, dir string) {
			main := filepath.Join(dir, "main.c")
			probe := filepath.Join(dir, "4913")
			f, err := os.OpenFile(probe, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o644)
			step(t, "open 4913", err)
			step(t, "fchown 4913", f.Chown(os.Getuid(), os.Getgid()))
			step(t, "close 4913", f.Close())
			step(t, "unlink 4913", os.Remove(probe))
			step(t, "rename to backup", os.Rename(main, main+"~"))
			f = writeNew(t, main, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644, "int main(void) { return 1; }\n", true)
			step(t, "close", f.Close())
			step(t, "chmod", os.Chmod(main, 0o644))
			step(t, "unlink backup", os.Remove(main+"~"))
		},
	},
	{
		// vim as above, stalled (a loaded machine) for longer than
		// Settle between renaming main.c away and writing it again:
		// the batch waits for main.c, then settles.
		name: "vim stalled between the rename and the write",
		save: func(t *testing.T, dir string) {
			main := filepath.Join(dir, "main.c")
			step(t, "rename to backup", os.Rename(main, main+"~"))
			time.Sleep(5 * DefaultSettle)
			f := writeNew(t, main, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644, "int main(void) { return 1; }\n", true)
			step(t, "close", f.Close())
			step(t, "chmod", os.Chmod(main, 0o644))
			step(t, "unlink backup", os.Remove(main+"~"))
		},
	},
	{
		// vim as above, its fsync outlasting Settle (a busy disk): the
		// content is complete when the batch settles; the chmod that
		// follows changes nothing and is no second Change.
		name: "vim with an fsync longer than Settle",
		save: func(t *testing.T, dir string) {
			main := filepath.Join(dir, "main.c")
			step(t, "rename to backup", os.Rename(main, main+"~"))
			f := writeNew(t, main, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644, "int main(void) { return 1; }\n", true)
			time.Sleep(5 * DefaultSettle)
			step(t, "close", f.Close())
			step(t, "chmod", os.Chmod(main, 0o644))
			step(t, "unlink backup", os.Remove(main+"~"))
		},
	},
	{
		// emacs, first save of the session with make-backup-files: the
		// lock symlink taken when the buffer was modified, the original
		// renamed to the backup, a new file written, the lock removed.
		name: "emacs",
		before: func(t *testing.T, dir string) {
			step(t, "lock", os.Symlink("dev@host.4242:1700000000", filepath.Join(dir, ".#main.c")))
		},
		save: func(t *testing.T, dir string) {
			main := filepath.Join(dir, "main.c")
			step(t, "rename to backup", os.Rename(main, main+"~"))
			f := writeNew(t, main, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666, "int main(void) { return 2; }\n", false)
			step(t, "close", f.Close())
			step(t, "unlock", os.Remove(filepath.Join(dir, ".#main.c")))
		},
	},
	{
		// VS Code: the file opened in place, truncated, written, closed.
		name: "VS Code",
		save: func(t *testing.T, dir string) {
			main := filepath.Join(dir, "main.c")
			f, err := os.OpenFile(main, os.O_RDWR, 0)
			step(t, "open", err)
			step(t, "ftruncate", f.Truncate(0))
			_, err = f.WriteString("int main(void) { return 3; }\n")
			step(t, "write", err)
			step(t, "close", f.Close())
		},
	},
	{
		// VS Code as above, stalled for longer than Settle between the
		// truncate and the write: the batch waits for the content.
		name: "VS Code stalled between the truncate and the write",
		save: func(t *testing.T, dir string) {
			f, err := os.OpenFile(filepath.Join(dir, "main.c"), os.O_RDWR, 0)
			step(t, "open", err)
			step(t, "ftruncate", f.Truncate(0))
			time.Sleep(5 * DefaultSettle)
			_, err = f.WriteString("int main(void) { return 3; }\n")
			step(t, "write", err)
			step(t, "close", f.Close())
		},
	},
	{
		// JetBrains' safe write: a temporary file written beside it, the
		// original renamed away, the temporary renamed in, the old one
		// deleted.
		name: "JetBrains",
		save: func(t *testing.T, dir string) {
			main := filepath.Join(dir, "main.c")
			f := writeNew(t, main+"___jb_tmp___", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644, "int main(void) { return 4; }\n", false)
			step(t, "close", f.Close())
			step(t, "rename away", os.Rename(main, main+"___jb_old___"))
			step(t, "rename in", os.Rename(main+"___jb_tmp___", main))
			step(t, "unlink old", os.Remove(main+"___jb_old___"))
		},
	},
	{
		// sed -i: mkstemp("sedXXXXXX") beside it, the original's mode
		// copied, the output written, the temporary renamed over it.
		name: "sed -i",
		save: func(t *testing.T, dir string) {
			tmp := filepath.Join(dir, "sedq3ZkP1")
			f := writeNew(t, tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600, "int main(void) { return 5; }\n", false)
			step(t, "fchmod", f.Chmod(0o644))
			step(t, "close", f.Close())
			step(t, "rename over", os.Rename(tmp, filepath.Join(dir, "main.c")))
		},
	},
}

// TestEditorSaveSettles saves main.c the way each editor does: exactly one
// Change names main.c alone, closed after Settle rather than the Debounce.
func TestEditorSaveSettles(t *testing.T) {
	for _, tt := range editorSaves {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			writeFile(t, root, "main.c", "int main(void) { return 0; }\n")
			writeFile(t, root, "x86.c", "")
			if tt.before != nil {
				tt.before(t, root)
			}
			w := start(t, Options{Root: root, Debounce: saveDebounce, Settle: DefaultSettle})
			tt.save(t, root)
			c := w.next(t)
			if want := []string{"main.c"}; !reflect.DeepEqual(c.Paths, want) || c.Count != 1 {
				t.Errorf("Change = %q (count %d), want %q", c.Paths, c.Count, want)
			}
			if took := c.Emitted.Sub(c.First); took >= saveDebounce {
				t.Errorf("Change closed %v after its first event: the save waited the Debounce (%v), not Settle", took, saveDebounce)
			}
			w.none(t, saveDebounce+saveDebounce/2)
		})
	}
}

// TestSettleRule: what is not a save waits the whole Debounce.
func TestSettleRule(t *testing.T) {
	tests := []struct {
		name string
		act  func(t *testing.T, w *running, root string)
		// want is every path the act changes; the Changes it gives
		// together must hold them, the last closed after a Debounce.
		want []string
	}{
		{
			name: "a deleted file",
			act: func(t *testing.T, _ *running, root string) {
				step(t, "unlink", os.Remove(filepath.Join(root, "main.c")))
			},
			want: []string{"main.c"},
		},
		{
			name: "more files than a save",
			act: func(t *testing.T, _ *running, root string) {
				for i := range SaveMaxPaths + 1 {
					writeFile(t, root, fmt.Sprintf("f%d.c", i), "x")
				}
			},
			want: []string{"f0.c", "f1.c", "f2.c", "f3.c", "f4.c", "f5.c", "f6.c", "f7.c", "f8.c"},
		},
		{
			name: "a save right after a Change",
			act: func(t *testing.T, w *running, root string) {
				writeFile(t, root, "a.c", "x")
				if c := w.next(t); !reflect.DeepEqual(c.Paths, []string{"a.c"}) {
					t.Fatalf("first Change = %q, want [a.c]", c.Paths)
				}
				writeFile(t, root, "b.c", "x")
			},
			want: []string{"b.c"},
		},
		{
			name: "lost events",
			act: func(t *testing.T, w *running, _ string) {
				w.fsw.Errors <- fsnotify.ErrEventOverflow
			},
			want: []string{OverflowPath},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			writeFile(t, root, "main.c", "x")
			w := start(t, Options{Root: root, Debounce: saveDebounce, Settle: DefaultSettle})
			tt.act(t, w, root)
			// A writer stalled between two steps may let Settle close
			// a first part; the rest then began within a Debounce of it.
			var got []string
			var last Change
			for len(got) < len(tt.want) {
				last = w.next(t)
				got = append(got, last.Paths...)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Changes hold %q, want %q", got, tt.want)
			}
			if took := last.Emitted.Sub(last.First); took < saveDebounce {
				t.Errorf("Change %q closed %v after its first event, before the Debounce %v", last.Paths, took, saveDebounce)
			}
		})
	}
}

// TestAttributesAfterASave: attribute changes right after a Change that
// leave its files as they were end that save; those that change the
// modification time (touch) or the mode are changes.
func TestAttributesAfterASave(t *testing.T) {
	tests := []struct {
		name   string
		act    func(t *testing.T, main string)
		change bool
	}{
		{"chmod to the same mode", func(t *testing.T, main string) { step(t, "chmod", os.Chmod(main, 0o644)) }, false},
		{"chmod to another mode", func(t *testing.T, main string) { step(t, "chmod", os.Chmod(main, 0o755)) }, true},
		{"touch", func(t *testing.T, main string) {
			later := time.Now().Add(time.Hour)
			step(t, "utimes", os.Chtimes(main, later, later))
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			main := filepath.Join(root, "main.c")
			writeFile(t, root, "main.c", "x")
			w := start(t, Options{Root: root, Debounce: saveDebounce, Settle: DefaultSettle})
			writeFile(t, root, "main.c", "int main;")
			if c := w.next(t); !reflect.DeepEqual(c.Paths, []string{"main.c"}) {
				t.Fatalf("Change = %q, want [main.c]", c.Paths)
			}
			tt.act(t, main)
			if !tt.change {
				w.none(t, saveDebounce+saveDebounce/2)
				return
			}
			if c := w.next(t); !reflect.DeepEqual(c.Paths, []string{"main.c"}) {
				t.Errorf("Change = %q, want [main.c]", c.Paths)
			}
		})
	}
}

// TestQuiet is the Settle rule's decision for one batch.
func TestQuiet(t *testing.T) {
	const debounce, settle = 100 * time.Millisecond, 5 * time.Millisecond
	root := t.TempDir()
	writeFile(t, root, "present.c", "x")
	writeFile(t, root, "empty.c", "")
	at := time.Unix(1000, 0)
	// created returns n names of files created in the batch, gone again.
	created := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("gone%d.c", i)
		}
		return out
	}
	tests := []struct {
		name      string
		settle    time.Duration
		present   []string // paths there before the batch
		created   []string // paths the batch created
		lastClose time.Time
		overflow  bool
		truncated bool
		want      time.Duration
	}{
		{name: "one file written", present: []string{"present.c"}, want: settle},
		{name: "as many files as a save", present: []string{"present.c"}, created: created(SaveMaxPaths - 1), want: settle},
		{name: "more files than a save", present: []string{"present.c"}, created: created(SaveMaxPaths), want: debounce},
		{name: "a file there before and missing now", present: []string{"present.c", "missing.c"}, want: debounce},
		{name: "a created file gone again", present: []string{"present.c"}, created: []string{"tmp.c"}, want: settle},
		{name: "an empty file", present: []string{"present.c", "empty.c"}, want: debounce},
		{name: "an empty file created", present: []string{"present.c"}, created: []string{"empty.c"}, want: debounce},
		{name: "began within a debounce of the last Change", present: []string{"present.c"}, lastClose: at.Add(-debounce + time.Millisecond), want: debounce},
		{name: "began a debounce after the last Change", present: []string{"present.c"}, lastClose: at.Add(-debounce), want: settle},
		{name: "lost events", present: []string{"present.c"}, overflow: true, want: debounce},
		{name: "too many paths to track", present: []string{"present.c"}, truncated: true, want: debounce},
		{name: "settle equal to the debounce", settle: debounce, present: []string{"present.c"}, want: debounce},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := settle
			if tt.settle != 0 {
				s = tt.settle
			}
			w, err := checkOptions(Options{Root: root, Debounce: debounce, Settle: s})
			if err != nil {
				t.Fatal(err)
			}
			b := newBatch()
			for _, p := range tt.present {
				b.add(p, at)
			}
			for _, p := range tt.created {
				b.addCreated(p, at)
			}
			b.overflow, b.truncated = tt.overflow, tt.truncated
			if got := w.quiet(b, tt.lastClose); got != tt.want {
				t.Errorf("quiet = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestSettleDefault: Settle 0 is DefaultSettle, or the Debounce when that
// is shorter.
func TestSettleDefault(t *testing.T) {
	root := t.TempDir()
	tests := []struct {
		debounce, want time.Duration
	}{
		{0, DefaultSettle},
		{time.Second, DefaultSettle},
		{3 * time.Millisecond, 3 * time.Millisecond},
	}
	for _, tt := range tests {
		w, err := checkOptions(Options{Root: root, Debounce: tt.debounce})
		if err != nil {
			t.Fatal(err)
		}
		if w.settle != tt.want {
			t.Errorf("debounce %v: settle %v, want %v", tt.debounce, w.settle, tt.want)
		}
	}
}
