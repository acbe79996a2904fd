package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ukdev/ukdev/devloop"
)

// TestRunGDB: `ukdev run --gdb --json` on the example starts the boot
// paused with QEMU's gdb stub open and says how to attach; gdb, run in
// batch mode with that command line, breaks in the timer interrupt,
// reads ticks through the stub and detaches; the guest runs on and ends
// cleanly, leaving no QEMU.
func TestRunGDB(t *testing.T) {
	dir, env := helloProject(t, "")
	needTools(t, "gdb")
	cmd := ukdevCmd(dir, env, "run", "--gdb", "--json")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	r := startRunning(t, cmd, parseEvent)
	e := r.waitFor("vm.gdb", bootWait, isType(devloop.TypeVMGDB))
	runtime := runtimeDirOf(t, env)
	if !strings.HasPrefix(e.Address, runtime+string(filepath.Separator)) || len(e.Args) == 0 || e.Args[0] != "gdb" || e.Boot != 1 {
		t.Fatalf("vm.gdb %s: want a socket in %s and a gdb command line", e.raw, runtime)
	}
	if fi, err := os.Stat(e.Address); err != nil || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("the stub's socket %s: %v", e.Address, err)
	}
	for _, seen := range r.seen {
		if seen.Type == devloop.TypeVMConsole {
			t.Fatalf("the guest printed before gdb let it run: %s", seen.raw)
		}
	}

	// The 25th timer interrupt: 24 have run, and ticks grows every 10th.
	ctx, cancel := context.WithTimeout(t.Context(), bootWait)
	defer cancel()
	args := append(append([]string(nil), e.Args[1:]...), "-batch", "-nx",
		"-ex", "break timer_interrupt", "-ex", "ignore 1 24", "-ex", "continue", "-ex", "print ticks")
	gdb := exec.CommandContext(ctx, e.Args[0], args...)
	gdb.Dir = dir
	out, err := gdb.CombinedOutput()
	if err != nil {
		t.Fatalf("gdb %s: %v\n%s", devloop.ShellJoin(gdb.Args), err, out)
	}
	if !strings.Contains(string(out), "Breakpoint 1, timer_interrupt ()") || !hasLine(string(out), "$1 = 2") {
		t.Fatalf("gdb did not stop in timer_interrupt with ticks = 2:\n%s", out)
	}

	// gdb detached: the guest runs on, and ends when told to.
	r.find("the banner", bootWait, consoleLine(1, helloBanner))
	if _, err := io.WriteString(stdin, "exit 3\n"); err != nil {
		t.Fatal(err)
	}
	exit := r.waitFor("vm.exit", bootWait, isType(devloop.TypeVMExit))
	if exit.ExitCode == nil || *exit.ExitCode != 3 {
		t.Errorf("vm.exit %s, want exit code 3", exit.raw)
	}
	if code := waitExited(r); code != 3 {
		t.Errorf("ukdev run --gdb exited %d, want the guest's 3\n%s", code, r.transcript())
	}
	waitNoQEMU(t, runtime, quickWait)
	if _, err := os.Stat(e.Address); !os.IsNotExist(err) {
		t.Errorf("the stub's socket is left behind: %v", err)
	}
}

// waitExited reads the rest of a command's output and returns its exit
// status once it has ended by itself, failing the test after stopWait.
func waitExited[T any](r *running[T]) int {
	r.t.Helper()
	return r.waitEnd("by itself", true)
}

// gdbPrompt is what gdb shows once it is connected and waits for a
// command.
var gdbPrompt = regexp.MustCompile(`(?m)^\(gdb\) *$`)

// driveGDB runs gdb commands in the session's active pane, where gdb was
// just started on the example: break in the timer interrupt, continue,
// read ticks, quit (which detaches and lets the guest run on).
func driveGDB(t *testing.T, s *tmuxSession, interrupt bool) {
	t.Helper()
	s.waitScreen("gdb connected", bootWait, func(screen string) bool {
		return strings.Contains(screen, "Remote debugging using") && gdbPrompt.MatchString(screen)
	})
	if interrupt {
		// ^C in gdb interrupts the guest, and never reaches ukdev.
		s.typeText("continue")
		s.keys("Enter")
		s.waitText("gdb continuing", quickWait, "Continuing.")
		s.keys("C-c")
		s.waitText("the guest interrupted", bootWait, "received signal SIGINT")
	}
	s.typeText("break timer_interrupt")
	s.keys("Enter")
	s.typeText("continue")
	s.keys("Enter")
	s.waitText("the breakpoint hit", bootWait, "Breakpoint 1, timer_interrupt ()")
	s.typeText("print ticks")
	s.keys("Enter")
	s.waitScreen("ticks", quickWait, regexp.MustCompile(`(?m)^\$1 = \d+`).MatchString)
	s.typeText("quit")
	s.keys("Enter")
	s.waitText("gdb's question", quickWait, "Quit anyway? (y or n)")
	s.keys("y", "Enter")
}

// TestDashboardGDBInTmuxSplit: g in a dashboard inside tmux opens gdb on
// the running VM in a new pane beside it; gdb breaks in the example and
// reads ticks; once it quits, the VM runs on and the dashboard too.
func TestDashboardGDBInTmuxSplit(t *testing.T) {
	dir, env := helloProject(t, "")
	needTools(t, "gdb")
	s := startDashboard(t, "gdbsplit", dir, env, 160, 50, "")
	s.waitText("dashboard with the banner", bootWait, "1 console", helloBanner, "running")
	s.keys("g")
	panes := func() int {
		out, err := s.tmux("list-panes", "-t", s.name)
		if err != nil {
			return 0
		}
		return strings.Count(out, "\n")
	}
	if !pollUntil(quickWait, func() bool { return panes() == 2 }) {
		t.Fatalf("g opened no pane beside the dashboard: %d panes", panes())
	}
	driveGDB(t, s, false)
	if !pollUntil(quickWait, func() bool { return panes() == 1 }) {
		t.Fatalf("gdb's pane stayed after it quit")
	}
	s.waitText("the dashboard, the VM running on", quickWait, helloBanner, "running", "gdb runs in the pane beside")
	s.quit()
}

// TestDashboardGDBSuspends: g in a dashboard outside tmux gives the
// terminal to gdb; its ^C interrupts the guest without stopping ukdev,
// and when gdb quits the dashboard comes back with its panels as they
// were and the VM running.
func TestDashboardGDBSuspends(t *testing.T) {
	dir, env := helloProject(t, "")
	needTools(t, "gdb")
	s := startDashboard(t, "gdbsuspend", dir, env, 160, 50, "env -u TMUX -u TMUX_PANE '"+ukdevBin+"'")
	s.waitText("dashboard with the banner", bootWait, "1 console", helloBanner, "running")
	s.keys("g")
	driveGDB(t, s, true)
	s.waitText("the dashboard again", quickWait, "1 console", "2 logs", helloBanner, "running")
	s.quit()
}
