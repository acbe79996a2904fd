package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// crashPC is the PC line of the crash view: the address, then its
// function and offset.
var crashPC = regexp.MustCompile(`PC ([0-9a-f]{8,16})  (\w+\+0x[0-9a-f]+) \((\w+\.c):\d+\)`)

// gdbPC is gdb's `info registers pc` answer.
var gdbPC = regexp.MustCompile(`(?m)^pc\s+0x([0-9a-f]+)`)

// TestDashboardCrashView: `crash` typed into the example's console
// crashes the guest (a triple fault); the crash view opens by itself
// with the faulting PC symbolised; D writes a core file beside the
// boot's log; esc closes the view and c opens it again; after ukdev has
// quit, gdb opens the core with the example's ELF kept beside it and
// finds the same PC.
func TestDashboardCrashView(t *testing.T) {
	dir, env := helloProject(t, "")
	needTools(t, "gdb")
	s := startDashboard(t, "crashview", dir, env, 160, 50, "")
	s.waitText("dashboard with the banner", bootWait, "1 console", helloBanner, "running")
	s.keys("1")
	s.keys("i")
	s.waitText("console input mode", quickWait, "leave input mode")
	s.typeText("crash")
	s.keys("Enter")
	s.waitScreen("the crash view with a symbolised PC", bootWait, crashPC.MatchString)
	s.waitText("the crash view's sections", quickWait, "crash · boot #1", "Registers", "Code", "Stack: words that point into code", "→")
	m := crashPC.FindStringSubmatch(s.last)
	pc, fn := m[1], m[2]
	if !strings.HasPrefix(fn, "kmain+") && !strings.HasPrefix(fn, "cmd_crash+") {
		t.Errorf("the PC is in %s, want the example's crash command (kmain, where cmd_crash is inlined)", fn)
	}

	s.keys("D")
	s.waitText("the core written", bootWait, "core: ", "core-file")
	core := filepath.Join(stateDirOf(t, env), "boots", "boot-000001.core")
	if fi, err := os.Stat(core); err != nil || fi.Size() == 0 {
		t.Fatalf("no core at %s: %v", core, err)
	} else if fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("the core's mode is %v: others may read guest memory", fi.Mode().Perm())
	}
	debug := strings.TrimSuffix(core, ".core") + ".debug"
	for _, f := range []string{core, debug} {
		if !strings.Contains(s.last, filepath.Base(f)) {
			t.Errorf("the view does not name %s:\n%s", f, s.last)
		}
	}

	// esc closes the view, a second esc leaves the console's input
	// mode; c reopens the view while the VM stays frozen.
	s.keys("Escape")
	s.waitScreen("the panels again", quickWait, func(screen string) bool {
		return !strings.Contains(screen, "crash · boot #1") && strings.Contains(screen, "2 logs")
	})
	s.keys("Escape")
	s.waitText("input mode left", quickWait, "? help")
	s.keys("c")
	s.waitScreen("the crash view again", quickWait, crashPC.MatchString)
	s.keys("Escape")
	s.waitText("the view closed", quickWait, "? help")
	s.quit()

	// Once ukdev has quit, gdb opens the core with the example's ELF
	// kept beside it, as the view's command does, and finds the same PC.
	// The example runs in 32-bit protected mode, so QEMU writes an i386
	// core (gdb takes the architecture from it) whose register is eip:
	// pc names it in any mode.
	ctx, cancel := context.WithTimeout(t.Context(), quickWait)
	defer cancel()
	gdb := exec.CommandContext(ctx, "gdb", "-q", debug, "-ex", "core-file "+core,
		"-batch", "-nx", "-ex", "info registers pc", "-ex", "bt")
	out, err := gdb.CombinedOutput()
	if err != nil {
		t.Fatalf("gdb: %v\n%s", err, out)
	}
	g := gdbPC.FindStringSubmatch(string(out))
	if g == nil {
		t.Fatalf("gdb printed no pc:\n%s", out)
	}
	want, _ := strconv.ParseUint(pc, 16, 64)
	if got, _ := strconv.ParseUint(g[1], 16, 64); got != want {
		t.Errorf("gdb's pc in the core is %#x, the crash view's %#x\n%s", got, want, out)
	}
}
