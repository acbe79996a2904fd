package devloop

import (
	"github.com/ukdev/ukdev/flavor"
	"github.com/ukdev/ukdev/symbols"
)

// SuggestWatches returns the variables of t the flavor suggests watching
// first (flavor.WatchSuggester), none when it suggests nothing. It reads
// t's DWARF: call it outside a view's Update. It is safe to call from any
// goroutine.
func (l *Loop) SuggestWatches(t *SymbolTable) []string {
	s, ok := l.flavor.(flavor.WatchSuggester)
	if !ok || t == nil {
		return nil
	}
	return s.SuggestWatches(t)
}

// Symbol is one named address of the guest's ELF.
type Symbol = symbols.Symbol
