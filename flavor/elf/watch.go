package elf

import (
	"github.com/ukdev/ukdev/flavor"
	"github.com/ukdev/ukdev/symbols"
)

// SuggestWatches returns the kernel's own global variables (those its
// DWARF places in its own sources, not a library's): a bare kernel's
// counters and state, such as the example's ticks and stats.
func (Kernel) SuggestWatches(t *symbols.Table) []string { return t.OwnGlobalNames() }

var _ flavor.WatchSuggester = Kernel{}
