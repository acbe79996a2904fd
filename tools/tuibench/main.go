// Command tuibench measures the dashboard's console panel under a flood of
// guest output: the time of View() and of a whole Update+View cycle per
// event batch (median, p99, max), and the process's resident memory after
// the flood. It drives the console package with synthetic events only (no
// QEMU), prints numbers and asserts nothing about speed.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/tui/console"
	"github.com/ukdev/ukdev/tui/panel"
)

func main() {
	total := flag.Int64("bytes", 1<<30, "console output to feed, in bytes")
	lineLen := flag.Int("line", 100, "bytes per console line, newline included")
	batch := flag.Int("batch", 512, "events per batch (the root flushes every ~40 ms or 512 events)")
	width := flag.Int("width", 80, "panel width in cells")
	height := flag.Int("height", 30, "panel height in cells")
	color := flag.Bool("color", true, "keep SGR colours, as on a colour terminal")
	flag.Parse()
	if *lineLen < 16 || *batch < 1 || *width < 1 || *height < 1 || *total < 1 {
		fmt.Fprintln(os.Stderr, "tuibench: -line must be at least 16; -batch, -width, -height and -bytes at least 1")
		os.Exit(2)
	}
	run(*total, *lineLen, *batch, *width, *height, *color)
}

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
