package panel

import (
	"testing"

	tea "charm.land/bubbletea/v2"
)

func TestScroller(t *testing.T) {
	k := NewScrollKeys()
	press := func(s string) tea.KeyPressMsg { return tea.KeyPressMsg{Code: rune(s[0]), Text: s} }
	tests := []struct {
		name      string
		maxTop    int
		keys      []string
		wantTop   int
		following bool
	}{
		{"the zero value follows", 10, nil, 10, true},
		{"up pins a row above the bottom", 10, []string{"k"}, 9, false},
		{"down moves a pinned view", 10, []string{"k", "k", "j"}, 9, false},
		{"down past the bottom follows", 10, []string{"k", "k", "j", "j", "j"}, 10, true},
		{"up when everything fits pauses at row 0", 0, []string{"k"}, 0, false},
		{"up stops at row 0", 2, []string{"k", "k", "k", "k", "k"}, 0, false},
		{"home goes to row 0", 10, []string{"home"}, 0, false},
		{"home when everything fits follows", 0, []string{"home"}, 0, true},
		{"G follows", 10, []string{"k", "k", "G"}, 10, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Scroller[int]
			r := IndexRows{MaxTop: tt.maxTop}
			for _, c := range tt.keys {
				if !s.Key(press(c), k, r, 5, 2) {
					t.Fatalf("%q is not a scroll key", c)
				}
			}
			if got := s.Top(r); got != tt.wantTop || s.Following() != tt.following {
				t.Errorf("top %d following %v, want %d %v", got, s.Following(), tt.wantTop, tt.following)
			}
		})
	}
	var s Scroller[int]
	if s.Key(press("x"), k, IndexRows{MaxTop: 3}, 5, 2) {
		t.Error("x taken as a scroll key")
	}
	s.Pin(8)
	if got := s.Top(IndexRows{MaxTop: 3}); got != 3 {
		t.Errorf("pinned 8 with MaxTop 3: top %d, want 3", got)
	}
}

func TestScrollerWheel(t *testing.T) {
	var s Scroller[int]
	r := IndexRows{MaxTop: 10}
	if !s.Wheel(tea.MouseWheelMsg{Button: tea.MouseWheelUp}, r) || s.Following() || s.Top(r) != 10-WheelLines {
		t.Fatalf("wheel up: top %d following %v, want %d pinned", s.Top(r), s.Following(), 10-WheelLines)
	}
	if s.Wheel(tea.MouseWheelMsg{Button: tea.MouseWheelLeft}, r) || s.Top(r) != 10-WheelLines {
		t.Errorf("the horizontal wheel scrolled to %d", s.Top(r))
	}
	if !s.Wheel(tea.MouseWheelMsg{Button: tea.MouseWheelDown}, r) || !s.Following() {
		t.Error("wheel down to the bottom does not follow")
	}
}
