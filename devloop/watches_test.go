package devloop

import (
	"slices"
	"testing"
)

// suggestingKernel is a kernel whose flavor suggests watches.
type suggestingKernel struct{ *fakeKernel }

func (suggestingKernel) SuggestWatches(*SymbolTable) []string { return []string{"stats"} }

func TestLoopSuggestWatches(t *testing.T) {
	tab := &SymbolTable{}
	tests := []struct {
		name string
		l    *Loop
		tab  *SymbolTable
		want []string
	}{
		{"the flavor's", &Loop{flavor: suggestingKernel{}}, tab, []string{"stats"}},
		{"no symbols", &Loop{flavor: suggestingKernel{}}, nil, nil},
		{"a flavor without", &Loop{flavor: &fakeKernel{}}, tab, nil},
	}
	for _, tt := range tests {
		if got := tt.l.SuggestWatches(tt.tab); !slices.Equal(got, tt.want) {
			t.Errorf("%s: SuggestWatches = %v, want %v", tt.name, got, tt.want)
		}
	}
}
