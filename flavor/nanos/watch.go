package nanos

import (
	"slices"

	"github.com/ukdev/ukdev/flavor"
	"github.com/ukdev/ukdev/symbols"
)

// goRuntimeStats are the Go runtime's variables that hold its statistics:
// the GC controller (heap in use, live heap, goal), the number of
// goroutines ever made, the GC's work state (cycles) and memstats.
var goRuntimeStats = []string{"runtime.gcController", "runtime.allglen", "runtime.work", "runtime.memstats"}

// SuggestWatches returns a Go program's runtime statistics, then the
// program's own globals (a C program's, or a Go program's package main).
func (*Kernel) SuggestWatches(t *symbols.Table) []string {
	names := t.DataNames(goRuntimeStats...)
	for _, n := range t.OwnGlobalNames() {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names
}

var _ flavor.WatchSuggester = (*Kernel)(nil)
