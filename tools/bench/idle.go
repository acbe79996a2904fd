package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/creack/pty"

	"github.com/ukdev/ukdev/internal/procfs"
)

const (
	// idleHeadlessTargetPercent is the most CPU, in percent of one core,
	// ukdev may use beside an idle VM without a dashboard.
	idleHeadlessTargetPercent = 0.5
	// idleDashboardTargetPercent is the most CPU, in percent of one core,
	// ukdev may use beside an idle VM with the dashboard open.
	idleDashboardTargetPercent = 1.0
	// idleSettleTicks is the CPU time, in clock ticks (1/100 s), under
	// which a second counts as quiet while the boot's own work passes.
	idleSettleTicks = 2
	// idleSettleSeconds is how many quiet seconds in a row end the
	// settling; idleSettleLimit bounds it (a ukdev that never goes quiet
	// is measured anyway: that is the finding).
	idleSettleSeconds = 3
	idleSettleLimit   = 30 * time.Second
)

// idleOptions says what the idle part runs and for how long.
type idleOptions struct {
	ukdev, example string
	seconds        int
	verbose        bool
}

// runIdle measures ukdev's own CPU (utime + stime of its process, not
// QEMU's) over o.seconds beside the idle VM of the example, once the
// boot's work has passed: headless with --json, headless with the plain
// printer (stdout a pipe), and with the dashboard on a 140×45 pty in its
// default layout (the grid, the metrics panel sampling), twice: during the
// boot's first minute, and after it (the target; with -idle-seconds
// shorter than a minute both fall in the first one), and with the console
// maximised. The targets are the worst headless figure, and the
// dashboard in each layout: the grid a user sees first (the metrics and
// memory panels sampling, graphs and values redrawn as they change) and
// the console maximised.
func runIdle(w io.Writer, o idleOptions) error {
	if o.seconds < 1 {
		return fmt.Errorf("bench: -idle-seconds must be at least 1, got %d", o.seconds)
	}
	var results []samplingResult
	for _, mode := range []string{"--json", "--plain"} {
		r, err := idleHeadless(o, mode)
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	dash, err := idleDashboard(o)
	if err != nil {
		return err
	}
	results = append(results, dash...)

	fmt.Fprintf(w, "\nidle: ukdev's own CPU beside the idle VM of %s, %d s each, after the boot settled\n", o.example, o.seconds)
	fmt.Fprintf(w, "  %-48s %14s %14s\n", "mode", "ukdev % core", "QEMU % core")
	for _, r := range results {
		fmt.Fprintf(w, "  %-48s %14.2f %14.2f\n", r.mode, r.ukdevPct, r.qemuPct)
	}
	headless := max(results[0].ukdevPct, results[1].ukdevPct)
	addTarget(w, fmt.Sprintf("idle: ukdev's CPU beside an idle VM, headless (--json and --plain, the worse) ≤ %.1f%% of a core", idleHeadlessTargetPercent),
		fmt.Sprintf("%.2f%%", headless), headless <= idleHeadlessTargetPercent)
	grid := results[3].ukdevPct
	addTarget(w, fmt.Sprintf("idle: ukdev's CPU beside an idle VM, dashboard open (default grid, metrics and memory sampling, after the boot's first minute) ≤ %.0f%% of a core", idleDashboardTargetPercent),
		fmt.Sprintf("%.2f%%; %.2f%% during the boot's first minute, while the uptime counts seconds", grid, results[2].ukdevPct), grid <= idleDashboardTargetPercent)
	console := results[4].ukdevPct
	addTarget(w, fmt.Sprintf("idle: ukdev's CPU beside an idle VM, dashboard open (console maximised) ≤ %.0f%% of a core", idleDashboardTargetPercent),
		fmt.Sprintf("%.2f%%", console), console <= idleDashboardTargetPercent)
	return nil
}

// idleHeadless runs `ukdev dev` with mode (--json or --plain) on a copy
// of the example, its output drained, and measures it once the VM runs
// and ukdev settled.
func idleHeadless(o idleOptions, mode string) (samplingResult, error) {
	ws, err := newWorkspace(o.ukdev, "ukidle")
	if err != nil {
		return samplingResult{}, err
	}
	defer ws.remove()
	dir := filepath.Join(ws.tmp, "project")
	if err := copyProject(o.example, dir); err != nil {
		return samplingResult{}, err
	}
	cmd := exec.Command(ws.ukdev, "dev", mode)
	cmd.Dir = dir
	cmd.Env = ws.env("NO_COLOR=1")
	// stdin stays open and silent: EOF is not a way to stop ukdev.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return samplingResult{}, fmt.Errorf("bench: start ukdev: %w", err)
	}
	defer stdin.Close()
	out, err := cmd.StdoutPipe()
	if err != nil {
		return samplingResult{}, fmt.Errorf("bench: start ukdev: %w", err)
	}
	var dst io.Writer = io.Discard
	if o.verbose {
		dst = os.Stderr
	}
	cmd.Stderr = dst
	if err := cmd.Start(); err != nil {
		return samplingResult{}, fmt.Errorf("bench: start ukdev: %w", err)
	}
	go func() { _, _ = io.Copy(dst, out) }()
	r, err := idleOver(ws, cmd.Process.Pid, o.seconds)
	r.mode = "headless: ukdev dev " + mode
	stopFlood(cmd)
	if left := ws.killLeftovers(); len(left) > 0 {
		return r, fmt.Errorf("bench: ukdev left QEMU processes behind: %v", left)
	}
	return r, err
}

// idleDashboard runs the dashboard on a copy of the example on a 140×45
// pty and measures it in the default layout, then with the console
// maximised.
func idleDashboard(o idleOptions) ([]samplingResult, error) {
	ws, err := newWorkspace(o.ukdev, "ukidle")
	if err != nil {
		return nil, err
	}
	defer ws.remove()
	dir := filepath.Join(ws.tmp, "project")
	if err := copyProject(o.example, dir); err != nil {
		return nil, err
	}
	cmd := exec.Command(ws.ukdev, "dev")
	cmd.Dir = dir
	cmd.Env = append(ws.env(), "TERM=xterm-256color", "NO_COLOR=")
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 45, Cols: 140})
	if err != nil {
		return nil, fmt.Errorf("bench: start ukdev on a pty: %w", err)
	}
	defer ptmx.Close()
	go func() {
		dst := io.Discard
		if o.verbose {
			dst = os.Stderr
		}
		_, _ = io.Copy(dst, ptmx)
	}()
	var results []samplingResult
	// In the boot's first minute the status bar counts its uptime in
	// seconds, so the screen changes every second whatever the panels
	// do; the grid is measured then, and again once that has passed.
	first, err := idleOver(ws, cmd.Process.Pid, o.seconds)
	first.mode = "dashboard: default grid, the boot's first minute"
	results = append(results, first)
	if err == nil {
		var grid samplingResult
		grid, err = idleOver(ws, cmd.Process.Pid, o.seconds)
		grid.mode = "dashboard: default grid, metrics sampling"
		results = append(results, grid)
	}
	if err == nil {
		// 1 focuses the console, f maximises it: nothing else shows.
		if _, err = ptmx.Write([]byte("1f")); err != nil {
			err = fmt.Errorf("bench: type into the dashboard: %w", err)
		}
	}
	if err == nil {
		var console samplingResult
		console, err = idleOver(ws, cmd.Process.Pid, o.seconds)
		console.mode = "dashboard: console maximised"
		results = append(results, console)
	}
	stopFlood(cmd)
	if left := ws.killLeftovers(); len(left) > 0 {
		return nil, fmt.Errorf("bench: ukdev left QEMU processes behind: %v", left)
	}
	return results, err
}

// idleOver waits for the workspace's QEMU, then for ukdev (pid) to settle,
// and measures both over seconds.
func idleOver(ws *workspace, pid, seconds int) (samplingResult, error) {
	qemuPID, err := waitQEMU(ws)
	if err != nil {
		return samplingResult{}, err
	}
	settle(pid)
	return cpuOver(pid, qemuPID, seconds)
}

// waitQEMU returns the pid of the workspace's QEMU once there is one.
func waitQEMU(ws *workspace) (int, error) {
	deadline := time.Now().Add(waitTimeout)
	for {
		for _, p := range procfs.Matching(ws.runtime) {
			if p.IsQEMU() {
				return p.PID, nil
			}
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("bench: ukdev booted no VM within %s", waitTimeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// settle waits until pid has used at most idleSettleTicks in each of
// idleSettleSeconds seconds in a row, or idleSettleLimit passed.
func settle(pid int) {
	deadline := time.Now().Add(idleSettleLimit)
	quiet := 0
	last, err := procfs.Stat(pid)
	for err == nil && quiet < idleSettleSeconds && time.Now().Before(deadline) {
		time.Sleep(time.Second)
		var now procfs.Proc
		if now, err = procfs.Stat(pid); err != nil {
			return
		}
		if now.CPUTicks-last.CPUTicks <= idleSettleTicks {
			quiet++
		} else {
			quiet = 0
		}
		last = now
	}
}
