package builder

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ukdev/ukdev/internal/procfs"
)

// deadline bounds every wait in these tests; they normally take
// milliseconds.
const deadline = 15 * time.Second

// TestMain lets the test binary be the build supervisor, as cmd/ukdev's
// main does, and the caller that TestSupervisorOutlivesNoCaller kills.
func TestMain(m *testing.M) {
	if IsSupervisor(os.Args) {
		os.Exit(RunSupervisor(os.Args))
	}
	if cmd := os.Getenv(callerEnv); cmd != "" {
		os.Exit(runCaller(cmd))
	}
	os.Exit(m.Run())
}

// modes runs test with the command started directly, under a build
// supervisor (the test binary, through TestMain) started for the build,
// and under one started ahead of time (Prestart). test calls prepare on
// each Builder before running it.
func modes(t *testing.T, test func(t *testing.T, prepare func(*testing.T, *Builder))) {
	t.Run("direct", func(t *testing.T) { test(t, func(*testing.T, *Builder) {}) })
	t.Run("supervised", func(t *testing.T) {
		test(t, func(_ *testing.T, b *Builder) { b.Supervisor = SelfExe })
	})
	t.Run("prestarted", func(t *testing.T) {
		test(t, func(t *testing.T, b *Builder) {
			b.Supervisor = SelfExe
			b.Prestart()
			t.Cleanup(func() { _ = b.Close() })
			waitCond(t, "a spare supervisor", func() bool {
				b.prestart.mu.Lock()
				defer b.prestart.mu.Unlock()
				return b.prestart.spare != nil
			})
		})
	})
}

// recorder collects lines and checks that out is never called concurrently.
type recorder struct {
	mu       sync.Mutex
	lines    []Line
	inside   atomic.Int32
	overlaps atomic.Int32
	first    chan Line // the first stdout line, for tests that wait on it
	once     sync.Once
}

func newRecorder() *recorder { return &recorder{first: make(chan Line, 1)} }

func (r *recorder) out(l Line) {
	if r.inside.Add(1) > 1 {
		r.overlaps.Add(1)
	}
	defer r.inside.Add(-1)
	r.mu.Lock()
	r.lines = append(r.lines, l)
	r.mu.Unlock()
	if l.Stream == Stdout {
		r.once.Do(func() { r.first <- l })
	}
}

func (r *recorder) stream(name string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, l := range r.lines {
		if l.Stream == name {
			out = append(out, l.Text)
		}
	}
	return out
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("a", MaxLine+1000)
	tests := []struct {
		name       string
		b          Builder
		wantCode   int
		wantOK     bool
		wantStdout []string
		wantStderr []string // nil: not checked
		check      func(t *testing.T, res Result, rec *recorder)
	}{
		{name: "success", b: Builder{Command: "echo hi"}, wantCode: 0, wantOK: true, wantStdout: []string{"hi"}, wantStderr: []string{}},
		{name: "exit code 2", b: Builder{Command: "echo bye; exit 2"}, wantCode: 2, wantStdout: []string{"bye"},
			check: func(t *testing.T, res Result, _ *recorder) {
				if res.Err != nil {
					t.Errorf("Err = %v, want nil for a plain non-zero exit", res.Err)
				}
			}},
		{name: "both streams, CRLF, last line without newline",
			b:        Builder{Command: `echo out; echo err >&2; printf 'a\r\n\r\nb'; printf 'e2' >&2`},
			wantCode: 0, wantOK: true,
			wantStdout: []string{"out", "a", "", "b"}, wantStderr: []string{"err", "e2"}},
		{name: "command not found", b: Builder{Command: "ukdev-no-such-command"}, wantCode: 127,
			wantStdout: []string{},
			check: func(t *testing.T, _ Result, rec *recorder) {
				if errs := rec.stream(Stderr); len(errs) != 1 || !strings.Contains(errs[0], "not found") {
					t.Errorf("stderr %q, want a 'not found' line", errs)
				}
			}},
		{name: "env", b: Builder{Command: `echo "$UKDEV_A $UKDEV_B"`, Env: []string{"UKDEV_A=1", "UKDEV_B=x y", "UKDEV_A=2"}},
			wantCode: 0, wantOK: true, wantStdout: []string{"2 x y"}},
		{name: "dir", b: Builder{Command: "pwd", Dir: dir}, wantCode: 0, wantOK: true, wantStdout: []string{dir}},
		{name: "long line split", b: Builder{Command: "printf '%s\\nend' " + long}, wantCode: 0, wantOK: true,
			wantStdout: []string{long[:MaxLine], long[MaxLine:], "end"}},
		{name: "many lines in order per stream", b: Builder{Command: "seq 1 3000 & seq 1 3000 >&2; wait"}, wantCode: 0, wantOK: true,
			check: func(t *testing.T, _ Result, rec *recorder) {
				want := make([]string, 3000)
				for i := range want {
					want[i] = strconv.Itoa(i + 1)
				}
				for _, s := range []string{Stdout, Stderr} {
					if got := rec.stream(s); strings.Join(got, ",") != strings.Join(want, ",") {
						t.Errorf("%s: %d lines out of order or missing", s, len(got))
					}
				}
			}},
		{name: "killed by a signal", b: Builder{Command: "kill -KILL $$"}, wantCode: -1,
			check: func(t *testing.T, res Result, _ *recorder) {
				var se *SignalError
				if !errors.As(res.Err, &se) || se.Signal != syscall.SIGKILL || res.Canceled {
					t.Errorf("Err = %v, Canceled = %v; want a SIGKILL SignalError", res.Err, res.Canceled)
				}
			}},
		{name: "killed by SIGTERM", b: Builder{Command: "kill -TERM $$"}, wantCode: -1, check: wantSignal(syscall.SIGTERM)},
		{name: "killed by SIGSEGV", b: Builder{Command: "ulimit -c 0; kill -SEGV $$", Dir: dir}, wantCode: -1, check: wantSignal(syscall.SIGSEGV)},
		{name: "killed by SIGQUIT", b: Builder{Command: "ulimit -c 0; kill -QUIT $$", Dir: dir}, wantCode: -1, check: wantSignal(syscall.SIGQUIT)},
		{name: "exit 255", b: Builder{Command: "exit 255"}, wantCode: 255},
		{name: "missing dir", b: Builder{Command: "true", Dir: filepath.Join(dir, "nope")}, wantCode: -1,
			check: wantDirError(filepath.Join(dir, "nope"), "does not exist")},
		{name: "dir is a file", b: Builder{Command: "true", Dir: filepath.Join(dir, "file")}, wantCode: -1,
			check: wantDirError(filepath.Join(dir, "file"), "not a directory")},
		{name: "empty command is no build step", b: Builder{}, wantCode: 0, wantOK: true, wantStdout: []string{}},
	}
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	modes(t, func(t *testing.T, prepare func(*testing.T, *Builder)) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				b := tt.b
				prepare(t, &b)
				rec := newRecorder()
				res := runWithin(t, &b, context.Background(), rec.out)
				if res.ExitCode != tt.wantCode || res.OK() != tt.wantOK || res.Canceled {
					t.Errorf("got %+v, want exit code %d, OK %v", res, tt.wantCode, tt.wantOK)
				}
				if tt.b.Command != "" && res.Duration <= 0 {
					t.Errorf("Duration = %v", res.Duration)
				}
				if tt.wantStdout != nil {
					if got := rec.stream(Stdout); !equal(got, tt.wantStdout) {
						t.Errorf("stdout %q, want %q", abbrev(got), abbrev(tt.wantStdout))
					}
				}
				if tt.wantStderr != nil {
					if got := rec.stream(Stderr); !equal(got, tt.wantStderr) {
						t.Errorf("stderr %q, want %q", got, tt.wantStderr)
					}
				}
				if n := rec.overlaps.Load(); n > 0 {
					t.Errorf("out called concurrently %d times", n)
				}
				if tt.check != nil {
					tt.check(t, res, rec)
				}
			})
		}
	})
}

// wantDirError checks that the build did not start because its directory
// is missing or not one, and that the error says so.
func wantDirError(dir, why string) func(t *testing.T, res Result, _ *recorder) {
	return func(t *testing.T, res Result, _ *recorder) {
		t.Helper()
		var de *DirError
		if !errors.As(res.Err, &de) || de.Dir != dir || !strings.Contains(res.Err.Error(), why) {
			t.Errorf("Err = %v, want a DirError for %s saying %q", res.Err, dir, why)
		}
	}
}

// wantSignal checks that the build was reported killed by sig, and not
// canceled.
func wantSignal(sig syscall.Signal) func(t *testing.T, res Result, _ *recorder) {
	return func(t *testing.T, res Result, _ *recorder) {
		t.Helper()
		var se *SignalError
		if !errors.As(res.Err, &se) || se.Signal != sig || res.Canceled {
			t.Errorf("Err = %v, Canceled = %v; want a %v SignalError", res.Err, res.Canceled, sig)
		}
	}
}

func TestRunCanceledBeforeStart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	b := &Builder{Command: "touch ran", Dir: dir}
	res := runWithin(t, b, ctx, nil)
	if !res.Canceled || !errors.Is(res.Err, context.Canceled) || res.OK() {
		t.Errorf("got %+v, want canceled", res)
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
		t.Error("the command ran")
	}
}

// TestCancelKillsGroup cancels builds whose processes honour SIGTERM. Grace
// is far longer than the test's deadline, so the test also proves that Run
// does not wait for Grace when the group is already gone.
func TestCancelKillsGroup(t *testing.T) {
	tests := []struct {
		name    string
		command string
	}{
		{"background sleep", "sleep 60 & echo $$; wait"},
		{"sleep under a nested shell", "sh -c 'sleep 60; true' & echo $$; wait"},
		{"sh -c sleep", "sh -c 'sleep 60' & echo $$; wait"},
		{"foreground nested shell", "echo $$; sh -c 'sleep 60'; true"},
	}
	modes(t, func(t *testing.T, prepare func(*testing.T, *Builder)) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				b := &Builder{Command: tt.command, Grace: time.Hour}
				prepare(t, b)
				res, members := cancelAfterSleepStarts(t, b)
				if !res.Canceled || !errors.Is(res.Err, context.Canceled) || res.OK() {
					t.Errorf("got %+v, want canceled", res)
				}
				for _, pid := range members {
					waitGone(t, pid)
				}
			})
		}
	})
}

// TestCancelEscalates cancels a build that ignores SIGTERM: it must be
// killed once Grace has passed.
func TestCancelEscalates(t *testing.T) {
	const grace = 200 * time.Millisecond
	tests := []struct {
		name    string
		command string
	}{
		{"shell and child ignore TERM", "trap '' TERM; sleep 60 & echo $$; wait"},
		{"only the grandchild ignores TERM", "sh -c \"trap '' TERM; sleep 60 & wait\" & echo $$; wait"},
	}
	modes(t, func(t *testing.T, prepare func(*testing.T, *Builder)) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				start := time.Now()
				b := &Builder{Command: tt.command, Grace: grace}
				prepare(t, b)
				res, members := cancelAfterSleepStarts(t, b)
				if !res.Canceled || res.OK() {
					t.Errorf("got %+v, want canceled", res)
				}
				if elapsed := time.Since(start); elapsed < grace {
					t.Errorf("returned after %v, before Grace %v", elapsed, grace)
				}
				for _, pid := range members {
					waitGone(t, pid)
				}
			})
		}
	})
}

// TestLeftoverHoldingOutput: a build that exits but leaves a process
// holding its stdout must not make Run wait for that process.
func TestLeftoverHoldingOutput(t *testing.T) {
	modes(t, func(t *testing.T, prepare func(*testing.T, *Builder)) {
		rec := newRecorder()
		b := &Builder{Command: "sleep 60 & echo $!", Grace: 100 * time.Millisecond}
		prepare(t, b)
		res := runWithin(t, b, context.Background(), rec.out)
		if !res.OK() {
			t.Errorf("got %+v, want OK", res)
		}
		lines := rec.stream(Stdout)
		if len(lines) != 1 {
			t.Fatalf("stdout %q, want the pid of sleep", lines)
		}
		pid, err := strconv.Atoi(lines[0])
		if err != nil {
			t.Fatal(err)
		}
		waitGone(t, pid)
	})
}

// cancelAfterSleepStarts runs b, waits for its first stdout line (the
// shell's pid, whose group is the build's) and for a sleep to appear in
// the group, cancels, and returns the result and the group's members seen
// before the cancel.
func cancelAfterSleepStarts(t *testing.T, b *Builder) (Result, []int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := newRecorder()
	done := make(chan Result, 1)
	go func() { done <- b.Run(ctx, rec.out) }()

	var pgid int
	select {
	case l := <-rec.first:
		shell, err := strconv.Atoi(l.Text)
		if err != nil {
			t.Fatalf("first line %q is not a pid", l.Text)
		}
		// The shell leads the group, or the supervisor does.
		p, err := procfs.Stat(shell)
		if err != nil {
			t.Fatalf("shell %d: %v", shell, err)
		}
		pgid = p.PGID
	case res := <-done:
		t.Fatalf("build ended early: %+v, output %q", res, rec.stream(Stderr))
	case <-time.After(deadline):
		t.Fatal("no output")
	}
	var members []int
	waitCond(t, "a sleep in the group", func() bool {
		var sleeping bool
		members, sleeping = group(pgid)
		return sleeping
	})
	cancel()
	select {
	case res := <-done:
		return res, members
	case <-time.After(deadline):
		t.Fatal("Run did not return after cancel")
	}
	return Result{}, nil
}

func runWithin(t *testing.T, b *Builder, ctx context.Context, out func(Line)) Result {
	t.Helper()
	done := make(chan Result, 1)
	go func() { done <- b.Run(ctx, out) }()
	select {
	case res := <-done:
		return res
	case <-time.After(deadline):
		t.Fatal("Run did not return")
	}
	return Result{}
}

// group lists the live processes in a process group and says whether one
// of them is sleep.
func group(pgid int) (pids []int, sleeping bool) {
	all, _ := procfs.PIDs()
	for _, pid := range all {
		p, err := procfs.Stat(pid)
		if err != nil || p.PGID != pgid || !p.Live() {
			continue
		}
		pids = append(pids, pid)
		sleeping = sleeping || p.Comm == "sleep"
	}
	return pids, sleeping
}

// waitGone waits until pid no longer runs; a zombie waiting for its
// reaper (init) counts as gone.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	waitCond(t, fmt.Sprintf("pid %d to be gone", pid), func() bool {
		p, err := procfs.Stat(pid)
		return err != nil || !p.Live()
	})
}

// waitCond polls cond until it holds or the deadline passes.
func waitCond(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(deadline)
	for !cond() {
		select {
		case <-tick.C:
		case <-timeout:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// abbrev shortens long lines in failure messages.
func abbrev(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		if len(l) > 40 {
			l = fmt.Sprintf("%s... (%d bytes)", l[:20], len(l))
		}
		out[i] = l
	}
	return out
}

// TestPrestartRefillsAfterTheBuild: the next spare is started once a build
// has ended and the delay has passed, never beside the build, and each
// build takes the spare waiting.
func TestPrestartRefillsAfterTheBuild(t *testing.T) {
	b := &Builder{Command: "true", Supervisor: SelfExe}
	b.Prestart()
	t.Cleanup(func() { _ = b.Close() })
	hasSpare := func() bool {
		b.prestart.mu.Lock()
		defer b.prestart.mu.Unlock()
		return b.prestart.spare != nil
	}
	for i := range 2 {
		waitCond(t, "a spare supervisor", hasSpare)
		if res := b.Run(context.Background(), nil); !res.OK() {
			t.Fatalf("build %d: %+v", i, res)
		}
		ended := time.Now()
		if hasSpare() {
			t.Fatalf("build %d: a spare is waiting right after the build took the last one", i)
		}
		waitCond(t, "the next spare", hasSpare)
		if waited := time.Since(ended); waited < refillDelay {
			t.Errorf("build %d: the next spare came %v after the build, before refillDelay (%v)", i, waited, refillDelay)
		}
	}
}
