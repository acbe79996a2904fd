// Package goruntime reads a Go program's runtime statistics from its
// memory, through the runtime's own variables and their DWARF types: heap
// in use, heap objects, GC cycles, the last GC pause, goroutines, the next
// GC goal and the bytes allocated so far. Nothing runs in the guest.
//
// The runtime's variables change shape between Go versions, so each
// statistic is found by the DWARF names of its fields (see variants), not
// by the version the program was built with, and each is optional: a
// field a version lacks leaves its statistic unknown.
package goruntime

import (
	"fmt"
	"slices"
	"strings"
)

// Stat names one statistic.
type Stat int

// The statistics, in the order Line shows them.
const (
	// HeapInUse is the bytes of heap spans in use.
	HeapInUse Stat = iota
	// HeapObjects is the number of allocated heap objects, as counted
	// when spans are handed to a P (so it runs slightly ahead of
	// runtime.MemStats.HeapObjects, which flushes the caches first).
	HeapObjects
	// GCCycles is the number of completed GC cycles.
	GCCycles
	// LastPause is the stop-the-world pause of the last GC, in
	// nanoseconds.
	LastPause
	// Goroutines is the number of goroutines: the ones ever made less
	// the free ones on the scheduler's global lists and the runtime's
	// own (free ones cached per P are still counted, so it may run
	// ahead of runtime.NumGoroutine by a few).
	Goroutines
	// NextGC is the heap size the next GC aims to finish at.
	NextGC
	// TotalAlloc is the bytes allocated since the program started.
	TotalAlloc
	numStats
)

// String is the statistic's short name, as the series keys use it
// ("heap_inuse").
func (s Stat) String() string {
	names := [...]string{"heap_inuse", "heap_objects", "gc_cycles", "gc_pause", "goroutines", "next_gc", "total_alloc"}
	if s >= 0 && int(s) < len(names) {
		return names[s]
	}
	return fmt.Sprintf("stat(%d)", int(s))
}

// Stats is one reading of the statistics; a statistic is known when Has
// says so.
type Stats struct {
	vals [numStats]uint64
	has  [numStats]bool
}

// Get returns a statistic's value and whether it is known.
func (s Stats) Get(st Stat) (uint64, bool) {
	if st < 0 || st >= numStats {
		return 0, false
	}
	return s.vals[st], s.has[st]
}

// Known reports whether any statistic is known.
func (s Stats) Known() bool { return slices.Contains(s.has[:], true) }

func (s *Stats) set(st Stat, v uint64) { s.vals[st], s.has[st] = v, true }

// Line is the statistics that are known, compact, for one line of a
// panel: "heap 4.2MiB · 1234 objs · gc 12 (pause 85µs) · 7 goroutines ·
// next gc 8.0MiB".
func (s Stats) Line() string {
	var parts []string
	if v, ok := s.Get(HeapInUse); ok {
		parts = append(parts, "heap "+bytesText(v))
	}
	if v, ok := s.Get(HeapObjects); ok {
		parts = append(parts, fmt.Sprintf("%d objs", v))
	}
	if v, ok := s.Get(GCCycles); ok {
		gc := fmt.Sprintf("gc %d", v)
		if p, ok := s.Get(LastPause); ok && v > 0 {
			gc += " (pause " + pauseText(p) + ")"
		}
		parts = append(parts, gc)
	}
	if v, ok := s.Get(Goroutines); ok {
		parts = append(parts, fmt.Sprintf("%d goroutines", v))
	}
	if v, ok := s.Get(NextGC); ok {
		parts = append(parts, "next gc "+bytesText(v))
	}
	return strings.Join(parts, " · ")
}

// Point is one statistic as a metrics series sees it.
type Point struct {
	// Name is the series key: "go." and the statistic's name
	// ("go.heap_inuse").
	Name string
	// Unit is "B", "ns" or "" for a count.
	Unit  string
	Value float64
	// Counter is set for a statistic that only grows (GC cycles, bytes
	// allocated): graphed as a rate.
	Counter bool
}

// Graphed are the statistics the metrics panel graphs.
var Graphed = []Stat{HeapInUse, HeapObjects, GCCycles, LastPause, Goroutines}

// Points returns the known statistics among which (all of them when which
// is empty) as series points.
func (s Stats) Points(which ...Stat) []Point {
	units := [numStats]string{HeapInUse: "B", LastPause: "ns", NextGC: "B", TotalAlloc: "B"}
	var out []Point
	for st := range numStats {
		v, ok := s.Get(st)
		if !ok || (len(which) > 0 && !slices.Contains(which, st)) {
			continue
		}
		out = append(out, Point{Name: "go." + st.String(), Unit: units[st], Value: float64(v),
			Counter: st == GCCycles || st == TotalAlloc})
	}
	return out
}

func bytesText(v uint64) string {
	switch {
	case v >= 1<<30:
		return fmt.Sprintf("%.1fGiB", float64(v)/(1<<30))
	case v >= 1<<20:
		return fmt.Sprintf("%.1fMiB", float64(v)/(1<<20))
	case v >= 1<<10:
		return fmt.Sprintf("%.1fKiB", float64(v)/(1<<10))
	}
	return fmt.Sprintf("%dB", v)
}

func pauseText(ns uint64) string {
	switch {
	case ns >= 1e9:
		return fmt.Sprintf("%.2fs", float64(ns)/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%.1fms", float64(ns)/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%dµs", ns/1e3)
	}
	return fmt.Sprintf("%dns", ns)
}
