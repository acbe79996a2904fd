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

// samplingTargetPercent is the most CPU, in percent of one core, that
// sampling and graphing an idle VM may add to ukdev's own.
const samplingTargetPercent = 1.0

// samplingOptions says how long the sampling cost is measured.
type samplingOptions struct {
	ukdev, example string
	seconds        int
	verbose        bool
}

// samplingResult is the CPU ukdev and its QEMU used over one period.
type samplingResult struct {
	mode              string
	ukdevPct, qemuPct float64
}

// runSampling runs the dashboard on the example on a 140×45 pty, waits for
// its VM, and measures ukdev's and QEMU's CPU over o.seconds in three
// layouts (measureSampling).
func runSampling(w io.Writer, o samplingOptions) error {
	ws, err := newWorkspace(o.ukdev, "uksample")
	if err != nil {
		return err
	}
	defer ws.remove()
	dir := filepath.Join(ws.tmp, "project")
	if err := copyProject(o.example, dir); err != nil {
		return err
	}
	cmd := exec.Command(ws.ukdev, "dev")
	cmd.Dir = dir
	cmd.Env = append(ws.env(), "TERM=xterm-256color", "NO_COLOR=")
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 45, Cols: 140})
	if err != nil {
		return fmt.Errorf("bench: start ukdev on a pty: %w", err)
	}
	defer ptmx.Close()
	go func() {
		dst := io.Discard
		if o.verbose {
			dst = os.Stderr
		}
		_, _ = io.Copy(dst, ptmx)
	}()
	results, err := measureSampling(ws, cmd.Process.Pid, ptmx, o.seconds)
	stopFlood(cmd)
	if left := ws.killLeftovers(); len(left) > 0 {
		return fmt.Errorf("bench: ukdev left QEMU processes behind: %v", left)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nsampling: CPU beside the idle VM of %s, dashboard on a 140×45 pty, %d s each\n", o.example, o.seconds)
	fmt.Fprintf(w, "  %-38s %14s %14s\n", "metrics panel", "ukdev % core", "QEMU % core")
	for _, r := range results {
		fmt.Fprintf(w, "  %-38s %14.2f %14.2f\n", r.mode, r.ukdevPct, r.qemuPct)
	}
	cost := results[1].ukdevPct - results[2].ukdevPct
	addTarget(w, fmt.Sprintf("sampling and graphing an idle VM costs ukdev ≤ %.0f%% of a core (metrics maximised − console maximised)", samplingTargetPercent),
		fmt.Sprintf("%.2f%%", cost), cost <= samplingTargetPercent)
	return nil
}

// layoutStep is one measurement: the keys typed into the dashboard first
// (none: the layout as it is) and what the layout is called.
type layoutStep struct{ keys, mode string }

// measureSampling measures the default grid (every panel, the metrics
// panel sampling), the metrics panel maximised (sampling, graphs drawn)
// and the console maximised (nothing sampled): the last two differ only by
// what sampling costs.
func measureSampling(ws *workspace, pid int, term io.Writer, seconds int) ([]samplingResult, error) {
	return measureLayouts(ws, pid, term, seconds, []layoutStep{
		{"", "grid: every panel, metrics sampling"},
		{"5f", "metrics maximised: sampling every 1 s"},
		{"f1f", "console maximised: nothing sampled"},
	})
}

// measureLayouts waits for the dashboard's QEMU and for ukdev to settle
// after the boot, then measures ukdev's and QEMU's CPU over seconds in
// each step's layout, in order.
func measureLayouts(ws *workspace, pid int, term io.Writer, seconds int, steps []layoutStep) ([]samplingResult, error) {
	var qemuPID int
	deadline := time.Now().Add(waitTimeout)
	for qemuPID == 0 {
		for _, p := range procfs.Matching(ws.runtime) {
			if p.IsQEMU() {
				qemuPID = p.PID
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("bench: the dashboard booted no VM within %s", waitTimeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Let the boot's own work (console, first samples) pass.
	if _, err := measureIdle(floodResult{}, pid, time.Now()); err != nil {
		return nil, err
	}
	var results []samplingResult
	for _, step := range steps {
		if step.keys != "" {
			if _, err := term.Write([]byte(step.keys)); err != nil {
				return nil, fmt.Errorf("bench: type into the dashboard: %w", err)
			}
			time.Sleep(2 * time.Second) // the layout settles, a sample in flight ends
		}
		r, err := cpuOver(pid, qemuPID, seconds)
		if err != nil {
			return nil, err
		}
		r.mode = step.mode
		results = append(results, r)
	}
	return results, nil
}

// cpuOver measures the CPU of ukdev and QEMU over seconds, in percent of
// one core.
func cpuOver(ukdev, qemu, seconds int) (samplingResult, error) {
	u0, err := procfs.Stat(ukdev)
	if err != nil {
		return samplingResult{}, fmt.Errorf("bench: %w", err)
	}
	q0, err := procfs.Stat(qemu)
	if err != nil {
		return samplingResult{}, fmt.Errorf("bench: %w", err)
	}
	start := time.Now()
	time.Sleep(time.Duration(seconds) * time.Second)
	u1, err := procfs.Stat(ukdev)
	if err != nil {
		return samplingResult{}, fmt.Errorf("bench: %w", err)
	}
	q1, err := procfs.Stat(qemu)
	if err != nil {
		return samplingResult{}, fmt.Errorf("bench: the VM ended while measured: %w", err)
	}
	secs := time.Since(start).Seconds()
	pct := func(ticks int64) float64 { return float64(ticks) / secs } // 100 ticks a second: ticks/s is percent
	return samplingResult{ukdevPct: pct(u1.CPUTicks - u0.CPUTicks), qemuPct: pct(q1.CPUTicks - q0.CPUTicks)}, nil
}
