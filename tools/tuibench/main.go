// Command tuibench measures the dashboard under a flood of guest output, in
// two sections: the console panel alone, then the full dashboard (the root
// model of package tui with every real panel, as ukdev runs it). For each
// it reports the time of View() and of a whole Update+View cycle per event
// batch, a frame (median, p99, max), and the process's resident memory
// after the flood. It drives the models with synthetic events only (no
// QEMU, no terminal), prints numbers and asserts nothing about speed.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/tui"
	"github.com/ukdev/ukdev/tui/console"
	"github.com/ukdev/ukdev/tui/panel"
)

func main() {
	total := flag.Int64("bytes", 1<<30, "console output to feed, in bytes")
	lineLen := flag.Int("line", 100, "bytes per console line, newline included")
	batch := flag.Int("batch", 512, "events per batch (the root flushes every ~40 ms or 512 events)")
	width := flag.Int("width", 80, "console panel width in cells")
	height := flag.Int("height", 30, "console panel height in cells")
	screenWidth := flag.Int("screen-width", 140, "dashboard terminal width in cells")
	screenHeight := flag.Int("screen-height", 45, "dashboard terminal height in cells")
	color := flag.Bool("color", true, "keep SGR colours, as on a colour terminal")
	flag.Parse()
	if *lineLen < 16 || *batch < 1 || *width < 1 || *height < 1 || *screenWidth < 1 || *screenHeight < 1 || *total < 1 {
		fmt.Fprintln(os.Stderr, "tuibench: -line must be at least 16; -batch, -width, -height, -screen-width, -screen-height and -bytes at least 1")
		os.Exit(2)
	}
	run(*total, *lineLen, *batch, *width, *height, *color)
	// The dashboard's memory is measured from a clean start: return what
	// the console section freed to the system first.
	debug.FreeOSMemory()
	runDashboard(*total, *lineLen, *batch, *screenWidth, *screenHeight, *color)
}

// run is the console section: the console panel alone.
func run(total int64, lineLen, batch, width, height int, color bool) {
	m := console.New(panel.Deps{Styles: panel.NewStyles(color), Now: time.Now})
	m.SetSize(width, height)
	rssBefore := rssKiB()

	start := time.Now()
	m.Update(panel.EventsMsg{{Time: start, Type: devloop.TypeVMStart, Boot: 1, Build: 1}})
	var (
		views, cycles []time.Duration
		events        = make(panel.EventsMsg, 0, batch)
		gen           = lineGenerator{length: lineLen - 1}
		fed           int64
		lines         int64
	)
	for fed < total {
		events = events[:0]
		for len(events) < batch && fed < total {
			events = append(events, devloop.Event{Time: start, Type: devloop.TypeVMConsole, Boot: 1, Line: gen.next()})
			fed += int64(lineLen)
			lines++
		}
		t0 := time.Now()
		m.Update(events)
		t1 := time.Now()
		_ = m.View()
		_ = m.Title()
		t2 := time.Now()
		views = append(views, t2.Sub(t1))
		cycles = append(cycles, t2.Sub(t0))
	}
	elapsed := time.Since(start)
	runtime.GC()
	rssAfter := rssKiB()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	runtime.KeepAlive(m) // the scrollback is part of what is measured

	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	fmt.Fprintf(w, "console flood: %s in %d lines of %d bytes, %d batches of %d events, panel %dx%d, colour %v\n",
		size(fed), lines, lineLen, len(cycles), batch, width, height, color)
	fmt.Fprintf(w, "fed in %.1f s: %.0f lines/s, %s/s\n", elapsed.Seconds(),
		float64(lines)/elapsed.Seconds(), size(int64(float64(fed)/elapsed.Seconds())))
	fmt.Fprintf(w, "View():             median %s  p99 %s  max %s\n", pct(views, 50), pct(views, 99), pct(views, 100))
	fmt.Fprintf(w, "Update+View/batch:  median %s  p99 %s  max %s\n", pct(cycles, 50), pct(cycles, 99), pct(cycles, 100))
	fmt.Fprintf(w, "RSS after GC: %s before, %s after the flood (Go heap in use %s)\n",
		kib(rssBefore), kib(rssAfter), size(int64(ms.HeapInuse)))
}

// runDashboard is the full-dashboard section: the root model of package
// tui over its real panels, with no VM (the memory and metrics panels have
// nothing to sample) and no loop to control, on a width×height colour
// terminal. Each batch of events goes through Model.Update as the root's
// event batching delivers it, followed by one View(), as one frame of the
// running program. A TickMsg joins every 25th frame, as the once-a-second
// tick does at 40 ms frames. The commands Update returns are not run: they
// would only sample the absent VM.
func runDashboard(total int64, lineLen, batch, width, height int, color bool) {
	d := panel.Deps{Styles: panel.NewStyles(color), Control: noControl{}, Now: time.Now, Context: context.Background()}
	var m tea.Model = tui.New(d, noVM{}, nil, tui.Options{Color: color, Project: "flood", Flavor: "elf"})
	m, _ = m.Update(tea.WindowSizeMsg{Width: width, Height: height})
	rssBefore := rssKiB()

	start := time.Now()
	ok, exit0, ms := true, 0, 1200.0
	m, _ = m.Update(panel.EventsMsg{
		{Time: start, Type: devloop.TypeStart, Message: "project flood (elf)"},
		{Time: start, Type: devloop.TypeAccel, Accel: "tcg", Detail: "no /dev/kvm — using TCG", Message: "accel tcg"},
		{Time: start, Type: devloop.TypeBuildStart, Build: 1, Command: "make", Message: "build #1: make"},
		{Time: start, Type: devloop.TypeBuildOutput, Build: 1, Stream: "stdout", Line: "cc -c main.c", Message: "cc -c main.c"},
		{Time: start, Type: devloop.TypeBuildDone, Build: 1, OK: &ok, ExitCode: &exit0, DurationMS: &ms, Message: "build #1 ok"},
		{Time: start, Type: devloop.TypeVMStart, Boot: 1, Build: 1, Accel: "tcg", Machine: "microvm", Message: "boot #1"},
	})
	var (
		views, frames []time.Duration
		gen           = lineGenerator{length: lineLen - 1}
		fed, lines    int64
		screenBytes   int
	)
	for fed < total {
		// A fresh slice per batch, as the root's batching makes them:
		// panels may keep what they are given.
		at := start.Add(time.Duration(len(frames)) * 40 * time.Millisecond)
		events := make(panel.EventsMsg, 0, batch)
		for len(events) < batch && fed < total {
			l := gen.next()
			events = append(events, devloop.Event{Time: at, Type: devloop.TypeVMConsole, Boot: 1, Build: 1, Line: l, Message: l})
			fed += int64(lineLen)
			lines++
		}
		t0 := time.Now()
		if len(frames)%25 == 24 {
			m, _ = m.Update(panel.TickMsg(at))
		}
		m, _ = m.Update(events)
		t1 := time.Now()
		v := m.View()
		t2 := time.Now()
		screenBytes = len(v.Content)
		views = append(views, t2.Sub(t1))
		frames = append(frames, t2.Sub(t0))
	}
	elapsed := time.Since(start)
	runtime.GC()
	rssAfter := rssKiB()
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	runtime.KeepAlive(m) // the panels' buffers are part of what is measured

	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	fmt.Fprintf(w, "\ndashboard flood: %s in %d lines of %d bytes, %d frames of %d events, screen %dx%d, colour %v\n",
		size(fed), lines, lineLen, len(frames), batch, width, height, color)
	fmt.Fprintf(w, "fed in %.1f s: %.0f lines/s, %s/s; last screen %s\n", elapsed.Seconds(),
		float64(lines)/elapsed.Seconds(), size(int64(float64(fed)/elapsed.Seconds())), size(int64(screenBytes)))
	fmt.Fprintf(w, "View():             median %s  p99 %s  max %s\n", pct(views, 50), pct(views, 99), pct(views, 100))
	fmt.Fprintf(w, "frame (Update+View per batch): median %s  p99 %s  max %s\n", pct(frames, 50), pct(frames, 99), pct(frames, 100))
	fmt.Fprintf(w, "RSS after GC: %s before, %s after the flood (Go heap in use %s)\n",
		kib(rssBefore), kib(rssAfter), size(int64(mem.HeapInuse)))
}

// noVM is an Inspector with no VM running.
type noVM struct{}

func (noVM) Current() (devloop.VMInfo, bool)            { return devloop.VMInfo{}, false }
func (noVM) MemorySize(context.Context) (uint64, error) { return 0, devloop.ErrNoVM }
func (noVM) BalloonStats(context.Context) (devloop.BalloonStats, error) {
	return devloop.BalloonStats{}, devloop.ErrNoVM
}
func (noVM) ReadMemory(context.Context, uint64, uint64, bool) ([]byte, error) {
	return nil, devloop.ErrNoVM
}
func (noVM) HostStats() (devloop.HostStats, error) { return devloop.HostStats{}, devloop.ErrNoVM }

// noControl is a loop that ignores what it is asked.
type noControl struct{}

func (noControl) Reboot()                   {}
func (noControl) Rebuild()                  {}
func (noControl) StopVM()                   {}
func (noControl) StartVM()                  {}
func (noControl) TogglePause()              {}
func (noControl) ToggleWatch()              {}
func (noControl) WriteConsole([]byte) error { return nil }

// lineGenerator makes distinct console lines of one length: a counter,
// every 8th line coloured, every 16th holding a tab.
type lineGenerator struct {
	length int
	n      int
	buf    []byte
}

const filler = "the guest floods its serial console with log lines, quickly, again and again, forever and ever, "

func (g *lineGenerator) next() string {
	g.n++
	b := g.buf[:0]
	switch {
	case g.n%8 == 0:
		b = append(b, "\x1b[32m"...)
		b = strconv.AppendInt(b, int64(g.n), 10)
		b = append(b, "\x1b[m"...)
	case g.n%16 == 1:
		b = strconv.AppendInt(b, int64(g.n), 10)
		b = append(b, '\t')
	default:
		b = strconv.AppendInt(b, int64(g.n), 10)
	}
	b = append(b, ' ')
	for len(b) < g.length {
		b = append(b, filler[:min(len(filler), g.length-len(b))]...)
	}
	g.buf = b
	return string(b[:g.length])
}

// pct returns the p-th percentile of ds (sorting it).
func pct(ds []time.Duration, p int) string {
	if len(ds) == 0 {
		return "-"
	}
	slices.Sort(ds)
	i := min(len(ds)*p/100, len(ds)-1)
	return ds[i].Round(time.Microsecond / 10).String()
}

// rssKiB reads VmRSS from /proc/self/status; -1 when unavailable.
func rssKiB() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for l := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}

func kib(n int64) string {
	if n < 0 {
		return "unknown"
	}
	return size(n << 10)
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
