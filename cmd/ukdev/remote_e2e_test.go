package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/ukdev/ukdev/metrics"
)

// TestGDBCommandEndToEnd: `ukdev gdb` from another terminal asks the
// ukdev that runs the example (over its control socket) to open QEMU's gdb
// stub, and runs gdb on it: in batch mode it breaks in the timer
// interrupt and reads ticks; --print prints the same command line, which
// attaches as it is. The guest runs on after each detach.
func TestGDBCommandEndToEnd(t *testing.T) {
	needTools(t, "gdb")
	dir, env := helloProject(t, "")
	s := startDev(t, dir, env)
	s.waitFor("the banner", bootWait, consoleLine(1, helloBanner))

	r := runCLIWithin(t, bootWait, dir, env, "", "gdb", "--", "-batch", "-nx",
		"-ex", "break timer_interrupt", "-ex", "continue", "-ex", "print ticks > 0")
	if r.code != 0 || !strings.Contains(r.stdout, "Breakpoint 1, timer_interrupt ()") || !hasLine(r.stdout, "$1 = 1") {
		t.Fatalf("ukdev gdb did not break in timer_interrupt and read ticks:\n%s", r)
	}

	// From elsewhere, naming the project by a directory in it.
	p := runCLIWithin(t, quickWait, t.TempDir(), env, "", "gdb", dir, "--print")
	if p.code != 0 || !strings.HasPrefix(p.stdout, "gdb ") || !strings.Contains(p.stdout, "target remote") {
		t.Fatalf("ukdev gdb --print:\n%s", p)
	}
	ctx, cancel := context.WithTimeout(t.Context(), bootWait)
	defer cancel()
	line := strings.TrimSpace(p.stdout) + " -batch -nx -ex 'print ticks > 0'"
	out, err := exec.CommandContext(ctx, "sh", "-c", line).CombinedOutput()
	if err != nil || !hasLine(string(out), "$1 = 1") {
		t.Fatalf("the printed command line %s: %v\n%s", line, err, out)
	}
	s.send("echo still here")
	s.waitFor("the guest answering after gdb detached", bootWait, consoleAny("still here"))
	s.quit()
}

// TestAppMetricsEndToEnd: the dashboard on examples/go-http-linux graphs
// the app's own series, scraped from its /metrics (metrics.url) through
// the forwarded port, beside QEMU's; `ukdev stats --json` from another
// terminal gets the same sampler's numbers from that dashboard's ukdev.
func TestAppMetricsEndToEnd(t *testing.T) {
	port := freePort(t)
	dir := linuxProject(t, port)
	env := testEnv(t)
	s := startDashboard(t, "appmetrics", dir, env, 160, 60, "")
	s.waitText("the status bar's readiness", linuxWait, "ready ")

	s.keys("5", "f")
	s.waitText("the app's series graphed", linuxWait, "app.go_goroutines", "cpu · QEMU CPU", "┤")

	r := runCLIWithin(t, linuxWait, t.TempDir(), env, "", "stats", "--json", dir)
	if r.code != 0 {
		t.Fatalf("ukdev stats --json:\n%s", r)
	}
	var snap metrics.Snapshot
	if err := json.Unmarshal([]byte(strings.TrimSpace(r.stdout)), &snap); err != nil {
		t.Fatalf("ukdev stats --json: %v\n%s", err, r)
	}
	var names []string
	for _, se := range snap.Series {
		if len(se.Points) > 0 {
			names = append(names, se.Name)
		}
	}
	for _, want := range []string{"cpu", "rss", "app.go_goroutines"} {
		if !slices.Contains(names, want) {
			t.Errorf("ukdev stats has no points for %s; series with points: %q", want, names)
		}
	}
	s.quit()
}
