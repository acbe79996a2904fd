package builder

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ukdev/ukdev/internal/procfs"
)

// callerEnv makes the test binary a caller that runs the command in it
// under the supervisor, until the test kills it (see TestMain).
const callerEnv = "UKDEV_BUILDER_TEST_CALLER"

// idlePrefix, before a caller's command, makes it keep a spare waiting
// instead of building.
const idlePrefix = "idle:"

// runCaller runs command under the supervisor, printing its output; the
// test that started it kills it during the build.
// With idlePrefix, the caller only keeps a spare supervisor for command
// waiting, and never builds.
func runCaller(command string) int {
	if idle, ok := strings.CutPrefix(command, idlePrefix); ok {
		b := &Builder{Command: idle, Supervisor: SelfExe}
		b.Prestart()
		select {} // until the test kills the caller
	}
	b := &Builder{Command: command, Supervisor: SelfExe}
	b.Prestart() // the build runs under the spare started now
	res := b.Run(context.Background(), func(l Line) { fmt.Println(l.Text) })
	fmt.Fprintf(os.Stderr, "the build ended before the caller was killed: %+v\n", res)
	return 1
}

// TestSupervisorKillsBuildWhenCallerDies SIGKILLs a process in the middle of
// a supervised build: every process of the build must die within 3 s,
// whether it stayed in the build's group, left it, or was orphaned.
func TestSupervisorKillsBuildWhenCallerDies(t *testing.T) {
	tests := []struct {
		name    string
		command string // SLEEP stands for `sleep <unique marker>`
		sleeps  int    // how many sleeps run once the build is under way
	}{
		{"foreground nested shells", "sh -c 'sh -c \"SLEEP\"'", 1},
		{"background jobs", "SLEEP & SLEEP & wait", 2},
		{"ignores SIGTERM", "trap '' TERM; SLEEP & wait", 1},
		{"left the group with setsid", "setsid SLEEP & SLEEP; wait", 2},
		{"orphaned by a subshell", "(SLEEP &); SLEEP", 2},
		{"orphan that left the group", "(setsid SLEEP &); SLEEP", 2},
		// No build: the spare waiting for the next one must die too.
		{"spare waiting", idlePrefix + "SLEEP", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			marker := fmt.Sprintf("71.%09d", rand.IntN(1e9))
			t.Cleanup(func() {
				for _, p := range procfs.Matching(marker) {
					_ = syscall.Kill(p.PID, syscall.SIGKILL)
				}
			})
			caller := exec.Command(os.Args[0])
			caller.Env = append(os.Environ(), callerEnv+"="+strings.ReplaceAll(tt.command, "SLEEP", "sleep "+marker))
			var stderr strings.Builder
			caller.Stderr = &stderr
			if err := caller.Start(); err != nil {
				t.Fatal(err)
			}
			// One supervisor, started as a spare: the build's, or the one
			// waiting for a build. (The next spare is started only once
			// the build has ended.)
			waitCond(t, fmt.Sprintf("%d sleeps and a supervisor", tt.sleeps), func() bool {
				n, spares := 0, 0
				for _, p := range procfs.Matching(marker) {
					switch cmdline := p.CommandLine(); {
					case strings.HasPrefix(cmdline, "sleep "):
						n++
					case strings.Contains(cmdline, SupervisorArg+" "+modeSpare+" "):
						spares++
					}
				}
				return n >= tt.sleeps && spares == 1
			})
			before := procfs.Matching(marker)
			if err := caller.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			_ = caller.Wait()
			gone := time.Now().Add(3 * time.Second)
			for len(procfs.Matching(marker)) > 0 {
				if time.Now().After(gone) {
					t.Fatalf("3s after the caller died, the build lives on: %v (before: %v)\ncaller stderr: %s",
						procfs.Matching(marker), before, stderr.String())
				}
				time.Sleep(5 * time.Millisecond) // polling /proc: no event to wait on
			}
		})
	}
}

// TestSupervisorRefusesToRunByHand: without ukdev's lifeline the
// supervisor says what it is and starts nothing.
func TestSupervisorRefusesToRunByHand(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], SupervisorArg, modeNow, "touch ran")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "lifeline") {
		t.Errorf("got %v, %q; want exit 2 and a word about the lifeline", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
		t.Error("the command ran")
	}
}

// TestPrestart runs builds with a supervisor started ahead of time: the
// second and later builds run under the spare, which enters the build
// directory as it is when the build starts, and Close ends the spare.
func TestPrestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "proj")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b := &Builder{Command: "echo $PPID; ls", Dir: dir, Supervisor: SelfExe}
	b.Prestart()
	run := func() (supervisor int, files []string) {
		t.Helper()
		rec := newRecorder()
		res := runWithin(t, b, context.Background(), rec.out)
		lines := rec.stream(Stdout)
		if !res.OK() || len(lines) == 0 {
			t.Fatalf("build: %+v, stdout %q, stderr %q", res, lines, rec.stream(Stderr))
		}
		pid, err := strconv.Atoi(lines[0])
		if err != nil {
			t.Fatalf("first line %q is not a pid", lines[0])
		}
		return pid, lines[1:]
	}
	spare := func() int {
		t.Helper()
		var pid int
		waitCond(t, "a spare supervisor", func() bool {
			b.prestart.mu.Lock()
			defer b.prestart.mu.Unlock()
			if s := b.prestart.spare; s != nil {
				pid = s.proc.cmd.Process.Pid
			}
			return pid != 0
		})
		return pid
	}

	for i := range 3 {
		want := spare()
		// The directory is replaced after the spare started: the build
		// must run in the new one.
		next := dir + ".next"
		if err := os.Mkdir(next, 0o755); err != nil {
			t.Fatal(err)
		}
		marker := fmt.Sprintf("new-%d", i)
		if err := os.WriteFile(filepath.Join(next, marker), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(next, dir); err != nil {
			t.Fatal(err)
		}
		got, files := run()
		if got != want {
			t.Errorf("build %d ran under supervisor %d, want the spare %d", i+1, got, want)
		}
		if len(files) != 1 || files[0] != marker {
			t.Errorf("build %d saw %q in its directory, want [%s]", i+1, files, marker)
		}
	}

	// A directory gone when the build starts is reported as such.
	last := spare()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	res := runWithin(t, b, context.Background(), nil)
	var de *DirError
	if !errors.As(res.Err, &de) {
		t.Errorf("with the directory gone: %+v, want a DirError", res)
	}

	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	waitGone(t, last)
	b.prestart.mu.Lock()
	defer b.prestart.mu.Unlock()
	if b.prestart.spare != nil || b.prestart.filling != nil {
		t.Error("a spare is kept or started after Close")
	}
}
