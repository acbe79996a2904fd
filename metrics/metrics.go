// Package metrics turns what ukdev can see of a running VM into time
// series: QEMU's CPU (in total and per vCPU thread) and resident memory,
// its disks' and its own I/O rates, the guest's dirty-page rate, KVM's
// exit counters, and the application's own numbers scraped over a
// forwarded port. A Sampler samples only while someone looks (Acquire),
// once an interval, in its own goroutine: nothing it does waits on the
// console or the dev loop, and nothing is polled while nothing shows it.
//
// Snapshots are plain values that encode to JSON (ukdev stats --json) and
// print as a table (WriteText).
package metrics

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// Snapshot is the state of every series at one moment.
type Snapshot struct {
	// At is when the last sample was taken (zero: none yet).
	At time.Time `json:"at"`
	// IntervalMS is the sampling interval, in milliseconds.
	IntervalMS int64 `json:"interval_ms"`
	// Running says a VM was sampled at At; PID is its QEMU's.
	Running bool `json:"running"`
	PID     int  `json:"pid,omitempty"`
	// PeakRSS is the peak resident memory of that QEMU, in bytes.
	PeakRSS uint64 `json:"peak_rss,omitempty"`
	// Series are the series with at least one point, in a fixed order:
	// CPU, per-vCPU CPU, memory, block, QEMU I/O, dirty rate, KVM, the
	// Go runtime, app.
	Series []Series `json:"series"`
	// VMError and AppError say why the last sample of the VM or of the
	// application failed; empty when it did not.
	VMError  string `json:"vm_error,omitempty"`
	AppError string `json:"app_error,omitempty"`
}

// Series is one measured quantity over time, oldest point first.
type Series struct {
	// Name identifies the series: "cpu", "cpu.vcpu0", "rss",
	// "block.virtio0.read", "qemu.io.write", "dirty", "kvm.exits",
	// "go.heap_inuse", "app.go_goroutines"...
	Name string `json:"name"`
	// Unit is "%" (of one host CPU), "B", "B/s", "MiB/s", "/s", or ""
	// for a plain number.
	Unit   string  `json:"unit"`
	Points []Point `json:"points"`
}

// Point is one value of a series.
type Point struct {
	T time.Time `json:"t"`
	V float64   `json:"v"`
}

// Last returns the newest value; false when the series has no point.
func (s Series) Last() (float64, bool) {
	if len(s.Points) == 0 {
		return 0, false
	}
	return s.Points[len(s.Points)-1].V, true
}

// Stats returns the smallest, largest and mean value of the series' points
// (zeros for none).
func (s Series) Stats() (lo, hi, mean float64) {
	if len(s.Points) == 0 {
		return 0, 0, 0
	}
	lo, hi = math.Inf(1), math.Inf(-1)
	sum := 0.0
	for _, p := range s.Points {
		lo, hi = math.Min(lo, p.V), math.Max(hi, p.V)
		sum += p.V
	}
	return lo, hi, sum / float64(len(s.Points))
}

// Find returns the series named name.
func (s Snapshot) Find(name string) (Series, bool) {
	for _, ser := range s.Series {
		if ser.Name == name {
			return ser, true
		}
	}
	return Series{}, false
}

// Describe returns what a series measures, for people ("QEMU CPU, % of
// one core"); the name itself for one it does not know.
func Describe(name string) string {
	switch {
	case name == "cpu":
		return "QEMU CPU"
	case strings.HasPrefix(name, "cpu.vcpu"):
		return "vCPU " + strings.TrimPrefix(name, "cpu.vcpu") + " CPU"
	case name == "rss":
		return "QEMU resident memory"
	case strings.HasPrefix(name, "block."):
		dev, dir, _ := cutLast(strings.TrimPrefix(name, "block."), ".")
		return "disk " + dev + " " + dir + "s"
	case name == "qemu.io.read":
		return "QEMU reads (disk, network, console)"
	case name == "qemu.io.write":
		return "QEMU writes (disk, network, console)"
	case name == "dirty":
		return "guest dirty-page rate"
	case strings.HasPrefix(name, "kvm."):
		return "KVM " + strings.TrimPrefix(name, "kvm.")
	case strings.HasPrefix(name, "app."):
		return "app " + strings.TrimPrefix(name, "app.")
	case strings.HasPrefix(name, "go."):
		if d, ok := goNames[strings.TrimPrefix(name, "go.")]; ok {
			return "Go " + d
		}
	}
	return name
}

// goNames describes the Go runtime's series (package goruntime's
// statistics).
var goNames = map[string]string{
	"heap_inuse":   "heap in use",
	"heap_objects": "heap objects",
	"gc_cycles":    "GC cycles",
	"gc_pause":     "last GC pause",
	"goroutines":   "goroutines",
	"next_gc":      "next GC goal",
	"total_alloc":  "allocation",
}

// cutLast cuts s around the last sep.
func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// FormatValue renders v in unit for people: "12.5%", "48.0 MiB",
// "1.2 MiB/s", "3.4k/s", "12".
func FormatValue(v float64, unit string) string {
	switch unit {
	case "%":
		return fmt.Sprintf("%.1f%%", v)
	case "B":
		return formatBytes(v)
	case "B/s":
		return formatBytes(v) + "/s"
	case "MiB/s":
		return fmt.Sprintf("%.1f MiB/s", v)
	case "/s":
		return formatCount(v) + "/s"
	case "ns":
		return time.Duration(v).String()
	}
	return formatCount(v)
}

// formatBytes renders a byte count with a binary unit.
func formatBytes(v float64) string {
	const units = "KMGTPE"
	if math.Abs(v) < 1024 {
		return fmt.Sprintf("%.0f B", v)
	}
	i := -1
	for math.Abs(v) >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, units[i])
}

// formatCount renders a number with a metric suffix past ten thousand, and
// without decimals when it is whole.
func formatCount(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e9:
		return fmt.Sprintf("%.1fG", v/1e9)
	case a >= 1e6:
		return fmt.Sprintf("%.1fM", v/1e6)
	case a >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	case v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// WriteText prints s as the table of ukdev stats: one row per series with
// its newest value and its minimum, mean and maximum over the window.
func WriteText(w io.Writer, s Snapshot) error {
	var head string
	switch {
	case s.At.IsZero():
		head = "no sample yet"
	case !s.Running:
		head = "no VM running"
	default:
		head = fmt.Sprintf("QEMU pid %d", s.PID)
	}
	if len(s.Series) > 0 {
		head += fmt.Sprintf(" · %d points of %s", maxPoints(s.Series), time.Duration(s.IntervalMS)*time.Millisecond)
	}
	if _, err := fmt.Fprintln(w, head); err != nil {
		return fmt.Errorf("metrics: write: %w", err)
	}
	for _, e := range []struct{ what, err string }{{"vm", s.VMError}, {"app", s.AppError}} {
		if e.err != "" {
			if _, err := fmt.Fprintf(w, "%s: %s\n", e.what, e.err); err != nil {
				return fmt.Errorf("metrics: write: %w", err)
			}
		}
	}
	if len(s.Series) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERIES\tNOW\tMIN\tMEAN\tMAX\tWHAT")
	for _, ser := range s.Series {
		last, _ := ser.Last()
		lo, hi, mean := ser.Stats()
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", ser.Name, FormatValue(last, ser.Unit), FormatValue(lo, ser.Unit),
			FormatValue(mean, ser.Unit), FormatValue(hi, ser.Unit), Describe(ser.Name))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("metrics: write: %w", err)
	}
	return nil
}

func maxPoints(ss []Series) int {
	n := 0
	for _, s := range ss {
		n = max(n, len(s.Points))
	}
	return n
}
