package unikraft

import (
	"slices"

	"github.com/ukdev/ukdev/flavor"
	"github.com/ukdev/ukdev/symbols"
)

// allocStats is the global allocator statistics a kernel built with
// CONFIG_LIBUKALLOC_IFSTATS_GLOBAL keeps (struct uk_alloc_stats: bytes in
// use, allocations, failures).
const allocStats = "_uk_alloc_stats_global"

// SuggestWatches returns the allocator's statistics when the kernel was
// built with them, then the application's own globals.
func (*Kernel) SuggestWatches(t *symbols.Table) []string {
	names := t.DataNames(allocStats)
	for _, n := range t.OwnGlobalNames() {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names
}

var _ flavor.WatchSuggester = (*Kernel)(nil)
