package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ukdev/ukdev/devloop"
)

// stormDirs and stormFiles shape the storm: stormDirs directories of
// stormFiles C files each, none of them built by examples/hello's Makefile.
const stormDirs, stormFiles = 100, 100

// stormPause is how long the storm's writer stops every stormPauseEvery
// directories, as git does while it reads objects from a pack: longer
// than watch.settle, shorter than watch.debounce. A rule that closed
// every batch after a few quiet milliseconds would cut the storm there.
const (
	stormPause      = 25 * time.Millisecond
	stormPauseEvery = 20
)

// stormPath is the path of file f of directory d of the storm.
func stormPath(dir string, d, f int) string {
	return filepath.Join(dir, "vendor", fmt.Sprintf("lib%02d", d), fmt.Sprintf("f%02d.c", f))
}

// TestStormBuildsOnce makes two storms in the watched tree of `ukdev dev
// --json` on examples/hello: a checkout that creates 10,000 files in new
// directories, then a `git stash`-like rewrite of all of them (each file
// unlinked and written anew, as git does). Each storm also changes
// main.c's banner halfway through. Each must end in exactly one completed
// build (builds started by the storm's first files and cancelled are
// allowed, and logged), booting the storm's banner; a save after it
// changes main.c alone, so nothing of the storm was left to build.
func TestStormBuildsOnce(t *testing.T) {
	// MaxWait closes a batch during a storm that outlasts it (a slow disk
	// or a loaded machine), which rightly gives more than one build: the
	// watcher's own tests cover that. Here the storm must end as one.
	dir, env := helloProject(t, "watch.max_wait = \"1m\"\n")
	s := startDev(t, dir, env)
	s.waitFor("boot 1 banner", bootWait, consoleLine(1, helloBanner))

	storms := []struct {
		name  string
		write func(d, f int)
	}{
		{"checkout", func(d, f int) {
			p := stormPath(dir, d, f)
			if f == 0 {
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			writeFile(t, p, fmt.Sprintf("int lib%02d_f%02d;\n", d, f))
		}},
		{"stash", func(d, f int) {
			p := stormPath(dir, d, f)
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			writeFile(t, p, fmt.Sprintf("int lib%02d_f%02d = 1;\n", d, f))
		}},
	}
	for _, storm := range storms {
		before := 0
		for _, e := range s.seen {
			before = max(before, e.Build)
		}
		banner := "after the " + storm.name
		began := time.Now()
		for d := range stormDirs {
			for f := range stormFiles {
				storm.write(d, f)
			}
			if d == stormDirs/2 {
				setBanner(t, dir, banner)
			}
			if d%stormPauseEvery == stormPauseEvery-1 {
				time.Sleep(stormPause)
			}
		}
		t.Logf("%s: %d files written in %v", storm.name, stormDirs*stormFiles, time.Since(began))
		s.waitFor(storm.name+" banner", bootWait, consoleAny(banner))

		// A save after the storm's boot: its change names main.c alone
		// (a batch left over from the storm would name vendor files).
		saved := "saved after the " + storm.name
		setBanner(t, dir, saved)
		change := s.waitFor("the save's watch.change", bootWait, isType(devloop.TypeWatchChange))
		if !slices.Equal(change.Paths, []string{"main.c"}) {
			t.Fatalf("first change after the %s's boot = %q, want [main.c]: the storm gave more than one change\n%s", storm.name, change.Paths, s.transcript())
		}
		next := s.waitFor("the save's build.start", bootWait, isType(devloop.TypeBuildStart))

		var done, canceled []int
		for _, e := range s.seen {
			if e.Build <= before || e.Build >= next.Build {
				continue
			}
			switch {
			case e.Type == devloop.TypeBuildDone && e.OK != nil && *e.OK:
				done = append(done, e.Build)
			case e.Type == devloop.TypeBuildCanceled:
				canceled = append(canceled, e.Build)
			}
		}
		t.Logf("%s: builds completed %v, cancelled %v", storm.name, done, canceled)
		if len(done) != 1 {
			t.Errorf("%s: %d builds completed (%v), want exactly 1\n%s", storm.name, len(done), done, s.transcript())
		}
		s.waitFor("the saved banner", bootWait, consoleAny(saved))
	}
	s.quit()
}
