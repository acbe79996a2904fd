package main

import (
	"cmp"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/creack/pty"

	"github.com/ukdev/ukdev/project"
)

const (
	// watchesTargetPercent is the most CPU, in percent of one core, that
	// 20 watches refreshed every 500 ms may cost ukdev.
	watchesTargetPercent = 2.0
	// benchWatches is how many symbols the memory panel watches.
	benchWatches = 20
	// panelRefreshesPerSecond is how often the memory panel refreshes: on
	// the dashboard's once-a-second tick. The target is stated for a
	// refresh every 500 ms, so the measured cost is doubled for it.
	panelRefreshesPerSecond  = 1
	targetRefreshesPerSecond = 2
	// extraGlobals is how many uint32 globals the benchmark adds to the
	// example, which has too few data objects of its own for 20 watches.
	extraGlobals = 16
)

// runWatches runs the dashboard on a copy of the example with 20 watches
// in its memory panel (the example's data objects and globals added to
// it, listed in memory-watches.json before ukdev starts) on a 140×45 pty,
// and measures ukdev's and QEMU's CPU with the memory panel maximised
// and with the console maximised.
func runWatches(w io.Writer, o samplingOptions) error {
	ws, err := newWorkspace(o.ukdev, "ukwatch")
	if err != nil {
		return err
	}
	defer ws.remove()
	dir := filepath.Join(ws.tmp, "project")
	if err := copyProject(o.example, dir); err != nil {
		return err
	}
	watched, err := prepareWatches(ws, dir)
	if err != nil {
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
	results, err := measureLayouts(ws, cmd.Process.Pid, ptmx, o.seconds, []layoutStep{
		{"4f", fmt.Sprintf("memory maximised: %d watches", len(watched))},
		{"f1f", "console maximised: memory panel hidden"},
	})
	var cli samplingResult
	if err == nil {
		cli, err = measureMemWatch(ws, dir, cmd.Process.Pid, watched, o.seconds)
	}
	stopFlood(cmd)
	if left := ws.killLeftovers(); len(left) > 0 {
		return fmt.Errorf("bench: ukdev left QEMU processes behind: %v", left)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nwatches: CPU beside the idle VM of %s, %d watches (%s), dashboard on a 140×45 pty, %d s each\n",
		o.example, len(watched), strings.Join(watched, " "), o.seconds)
	fmt.Fprintf(w, "  %-38s %14s %14s\n", "layout", "ukdev % core", "QEMU % core")
	for _, r := range results {
		fmt.Fprintf(w, "  %-38s %14.2f %14.2f\n", r.mode, r.ukdevPct, r.qemuPct)
	}
	cost := results[0].ukdevPct - results[1].ukdevPct
	scaled := cost * targetRefreshesPerSecond / panelRefreshesPerSecond
	fmt.Fprintf(w, "  the panel refreshes every %d ms: %.2f%% of a core; at 500 ms (twice the reads and renders): %.2f%%\n",
		1000/panelRefreshesPerSecond, cost, scaled)
	addTarget(w, fmt.Sprintf("%d watches refreshed every 500 ms cost ukdev ≤ %.0f%% of a core (memory maximised − console maximised, scaled to 500 ms)", benchWatches, watchesTargetPercent),
		fmt.Sprintf("%.2f%%", scaled), scaled <= watchesTargetPercent)
	// The same watches read every 500 ms for real, by `ukdev mem watch`
	// through the dashboard's ukdev: what both processes spend beyond the
	// dashboard with the memory panel hidden.
	cliCost := cli.ukdevPct - results[1].ukdevPct + cli.qemuPct
	fmt.Fprintf(w, "  ukdev mem watch --interval 500ms of the %d: ukdev %.2f%% (+%.2f), the mem watch client %.2f%%\n",
		len(watched), cli.ukdevPct, cli.ukdevPct-results[1].ukdevPct, cli.qemuPct)
	addTarget(w, fmt.Sprintf("%d watches read every 500 ms (ukdev mem watch, measured) cost ≤ %.0f%% of a core, ukdev and client together", benchWatches, watchesTargetPercent),
		fmt.Sprintf("%.2f%%", cliCost), cliCost <= watchesTargetPercent)
	return nil
}

// measureMemWatch runs `ukdev mem watch` of names every 500 ms against
// the ukdev whose pid is given, in dir, and measures both processes' CPU
// over seconds (the client's in qemuPct).
func measureMemWatch(ws *workspace, dir string, pid int, names []string, seconds int) (samplingResult, error) {
	watch := exec.Command(ws.ukdev, append([]string{"mem", "watch", "--interval", "500ms"}, names...)...)
	watch.Dir = dir
	watch.Env = ws.env()
	watch.Stdout, watch.Stderr = io.Discard, io.Discard
	if err := watch.Start(); err != nil {
		return samplingResult{}, fmt.Errorf("bench: ukdev mem watch: %w", err)
	}
	defer func() {
		_ = watch.Process.Signal(os.Interrupt)
		_ = watch.Wait()
	}()
	time.Sleep(2 * time.Second) // its first reads and the symbol check pass
	if watch.ProcessState != nil {
		return samplingResult{}, errors.New("bench: ukdev mem watch ended at once")
	}
	return cpuOver(pid, watch.Process.Pid, seconds)
}

// prepareWatches adds extraGlobals globals to the project's main.c, builds
// it, and writes the memory panel's watch list into the project's state
// dir: benchWatches of the kernel's data objects added (ticks and stats
// first, the added globals last), every other one removed from the first
// list. It returns the
// watched names.
func prepareWatches(ws *workspace, dir string) ([]string, error) {
	f, err := os.OpenFile(filepath.Join(dir, "main.c"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("bench: add globals: %w", err)
	}
	var src strings.Builder
	src.WriteString("\n/* Added by the benchmark: more globals to watch. */\n")
	for i := range extraGlobals {
		fmt.Fprintf(&src, "volatile uint32_t bench_watch_%02d;\n", i)
	}
	_, werr := f.WriteString(src.String())
	if err := f.Close(); werr != nil || err != nil {
		return nil, fmt.Errorf("bench: add globals: %w", errors.Join(werr, err))
	}
	cfg, err := project.Load(filepath.Join(dir, project.FileName))
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	build := exec.Command("sh", "-c", cfg.Build.Command)
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("bench: build %s: %w\n%s", dir, err, out)
	}
	objects, err := dataObjects(cfg.Kernel.Image)
	if err != nil {
		return nil, err
	}
	// The example's own objects (a ring, a table, counters) first, then
	// the added globals.
	watched := []string{"ticks", "stats"}
	for _, added := range []bool{false, true} {
		for _, n := range objects {
			if strings.HasPrefix(n, "bench_watch_") == added && len(watched) < benchWatches && !slices.Contains(watched, n) {
				watched = append(watched, n)
			}
		}
	}
	if len(watched) < benchWatches {
		return nil, fmt.Errorf("bench: %s has %d data objects, fewer than %d", cfg.Kernel.Image, len(watched), benchWatches)
	}
	var removed []string
	for _, n := range objects {
		if !slices.Contains(watched, n) {
			removed = append(removed, n)
		}
	}
	// project.StateDir reads XDG_STATE_HOME; ukdev gets the workspace's.
	old, had := os.LookupEnv("XDG_STATE_HOME")
	os.Setenv("XDG_STATE_HOME", filepath.Join(ws.tmp, "state"))
	stateDir, err := project.StateDir(cfg)
	if had {
		os.Setenv("XDG_STATE_HOME", old)
	} else {
		os.Unsetenv("XDG_STATE_HOME")
	}
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	b, err := json.Marshal(map[string][]string{"added": watched, "removed": removed})
	if err != nil {
		return nil, fmt.Errorf("bench: watch list: %w", err)
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("bench: watch list: %w", err)
	}
	if err := os.WriteFile(filepath.Join(stateDir, "memory-watches.json"), b, 0o600); err != nil {
		return nil, fmt.Errorf("bench: watch list: %w", err)
	}
	return watched, nil
}

// dataObjects lists the sized data objects of the ELF at path, by address.
func dataObjects(path string) ([]string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		return nil, fmt.Errorf("bench: symbols of %s: %w", path, err)
	}
	slices.SortFunc(syms, func(a, b elf.Symbol) int { return cmp.Compare(a.Value, b.Value) })
	var names []string
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_OBJECT && s.Size > 0 {
			names = append(names, s.Name)
		}
	}
	return names, nil
}
