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
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/internal/procfs"
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
	f := startFlood(lineLen)

	m.Update(panel.EventsMsg{{Time: f.start, Type: devloop.TypeVMStart, Boot: 1, Build: 1}})
	events := make(panel.EventsMsg, 0, batch)
	for f.fed < total {
		events = events[:0]
		for len(events) < batch && f.fed < total {
			events = append(events, devloop.Event{Time: f.start, Type: devloop.TypeVMConsole, Boot: 1, Line: f.next()})
		}
		t0 := time.Now()
		m.Update(events)
		t1 := time.Now()
		_ = m.View()
		_ = m.Title()
		f.timed(t0, t1, time.Now())
	}
	f.end(m) // the scrollback is part of what is measured

	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	fmt.Fprintf(w, "console flood: %s in %d lines of %d bytes, %d batches of %d events, panel %dx%d, colour %v\n",
		size(f.fed), f.lines, lineLen, len(f.cycles), batch, width, height, color)
	f.report(w, "", "Update+View/batch: ")
}

// flood is what one section fed its model and measured: each batch's
// View() time and its whole cycle, and the process's memory.
type flood struct {
	gen           lineGenerator
	lineLen       int
	start         time.Time
	elapsed       time.Duration
	fed, lines    int64
	views, cycles []time.Duration
	// rssBefore and rssAfter are in KiB, -1 when unknown.
	rssBefore, rssAfter int64
	heapInUse           uint64
}

// startFlood starts measuring a flood of console lines of lineLen bytes,
// newline included.
func startFlood(lineLen int) *flood {
	f := &flood{gen: lineGenerator{length: lineLen - 1}, lineLen: lineLen, rssBefore: rssKiB()}
	f.start = time.Now()
	return f
}

// next is the next console line, counted as fed.
func (f *flood) next() string {
	f.fed += int64(f.lineLen)
	f.lines++
	return f.gen.next()
}

// timed records a batch whose Update ran from t0 to t1 and View from t1
// to t2.
func (f *flood) timed(t0, t1, t2 time.Time) {
	f.views = append(f.views, t2.Sub(t1))
	f.cycles = append(f.cycles, t2.Sub(t0))
}

// end stops the clock and measures memory after a GC, with model (what
// the flood filled) still alive.
func (f *flood) end(model any) {
	f.elapsed = time.Since(f.start)
	runtime.GC()
	f.rssAfter = rssKiB()
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	f.heapInUse = mem.HeapInuse
	runtime.KeepAlive(model)
}

// report prints the feed rate (followed by extra), the View() and cycle
// times (the cycle named cycle) and the memory.
func (f *flood) report(w io.Writer, extra, cycle string) {
	secs := f.elapsed.Seconds()
	fmt.Fprintf(w, "fed in %.1f s: %.0f lines/s, %s/s%s\n", secs,
		float64(f.lines)/secs, size(int64(float64(f.fed)/secs)), extra)
	fmt.Fprintf(w, "View():             median %s  p99 %s  max %s\n", pct(f.views, 50), pct(f.views, 99), pct(f.views, 100))
	fmt.Fprintf(w, "%s median %s  p99 %s  max %s\n", cycle, pct(f.cycles, 50), pct(f.cycles, 99), pct(f.cycles, 100))
	fmt.Fprintf(w, "RSS after GC: %s before, %s after the flood (Go heap in use %s)\n",
		kib(f.rssBefore), kib(f.rssAfter), size(int64(f.heapInUse)))
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
	f := startFlood(lineLen)

	start := f.start
	ok, exit0, ms := true, 0, 1200.0
	m, _ = m.Update(panel.EventsMsg{
		{Time: start, Type: devloop.TypeStart, Message: "project flood (elf)"},
		{Time: start, Type: devloop.TypeAccel, Accel: "tcg", Detail: "no /dev/kvm — using TCG", Message: "accel tcg"},
		{Time: start, Type: devloop.TypeBuildStart, Build: 1, Command: "make", Message: "build #1: make"},
		{Time: start, Type: devloop.TypeBuildOutput, Build: 1, Stream: "stdout", Line: "cc -c main.c", Message: "cc -c main.c"},
		{Time: start, Type: devloop.TypeBuildDone, Build: 1, OK: &ok, ExitCode: &exit0, DurationMS: &ms, Message: "build #1 ok"},
		{Time: start, Type: devloop.TypeVMStart, Boot: 1, Build: 1, Accel: "tcg", Machine: "microvm", Message: "boot #1"},
	})
	screenBytes := 0
	for f.fed < total {
		// A fresh slice per batch, as the root's batching makes them:
		// panels may keep what they are given.
		at := start.Add(time.Duration(len(f.cycles)) * 40 * time.Millisecond)
		events := make(panel.EventsMsg, 0, batch)
		for len(events) < batch && f.fed < total {
			l := f.next()
			events = append(events, devloop.Event{Time: at, Type: devloop.TypeVMConsole, Boot: 1, Build: 1, Line: l, Message: l})
		}
		t0 := time.Now()
		if len(f.cycles)%25 == 24 {
			m, _ = m.Update(panel.TickMsg(at))
		}
		m, _ = m.Update(events)
		t1 := time.Now()
		v := m.View()
		f.timed(t0, t1, time.Now())
		screenBytes = len(v.Content)
	}
	f.end(m) // the panels' buffers are part of what is measured

	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	fmt.Fprintf(w, "\ndashboard flood: %s in %d lines of %d bytes, %d frames of %d events, screen %dx%d, colour %v\n",
		size(f.fed), f.lines, lineLen, len(f.cycles), batch, width, height, color)
	f.report(w, "; last screen "+size(int64(screenBytes)), "frame (Update+View per batch):")
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
func (noVM) Registers(context.Context) (devloop.Registers, error) {
	return devloop.Registers{}, devloop.ErrNoVM
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

// rssKiB is this process's resident memory in KiB; -1 when unknown.
func rssKiB() int64 {
	rss, _, err := procfs.Memory(os.Getpid())
	if err != nil {
		return -1
	}
	return rss
}

func kib(n int64) string {
	if n < 0 {
		return "unknown"
	}
	return size(n << 10)
}

// size renders n bytes as the dashboard does.
func size(n int64) string { return panel.FormatBytes(float64(n)) }
