package tui

import (
	"os"
	"runtime/debug"
	"testing"
)

// gcPercent reads the collector's target.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

func TestTuneGC(t *testing.T) {
	tests := []struct {
		name string
		gogc string // "" for unset
		want int    // the target while dashboards run
	}{
		{"default", "", dashboardGCPercent},
		{"the user's GOGC wins", "200", 137},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("GOGC", tt.gogc)
			if tt.gogc == "" {
				_ = os.Unsetenv("GOGC")
			}
			before := debug.SetGCPercent(137)
			defer debug.SetGCPercent(before)

			first := tuneGC()
			second := tuneGC() // an attached dashboard beside
			if got := gcPercent(); got != tt.want {
				t.Errorf("with two dashboards: GC percent %d, want %d", got, tt.want)
			}
			first()
			first() // idempotent
			if got := gcPercent(); got != tt.want {
				t.Errorf("with one dashboard left: GC percent %d, want %d", got, tt.want)
			}
			second()
			if got := gcPercent(); got != 137 {
				t.Errorf("after the last dashboard: GC percent %d, want 137 back", got)
			}
		})
	}
}
