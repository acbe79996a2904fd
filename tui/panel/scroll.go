package panel

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// ScrollKeys are the scroll keys every scrolling panel shares. A panel
// embeds them in its keymap and may change a binding's help text or keys
// (the console has no ctrl+b page up, for one).
type ScrollKeys struct {
	Up, Down, PageUp, PageDown, HalfUp, HalfDown, Top, Bottom key.Binding
}

// NewScrollKeys returns the usual scroll keys: vi and arrow keys for a
// row, pgup/pgdn (ctrl+b, ctrl+f, space) for a page, ctrl+u/ctrl+d for
// half a page, home for the oldest row (g opens gdb on the dashboard) and
// G/end to follow the newest.
func NewScrollKeys() ScrollKeys {
	return ScrollKeys{
		Up:       key.NewBinding(key.WithKeys("k", "up"), key.WithHelp("k/↑", "up")),
		Down:     key.NewBinding(key.WithKeys("j", "down"), key.WithHelp("j/↓", "down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup", "ctrl+b"), key.WithHelp("pgup", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "ctrl+f", "space"), key.WithHelp("pgdn", "page down")),
		HalfUp:   key.NewBinding(key.WithKeys("ctrl+u"), key.WithHelp("ctrl+u", "half page up")),
		HalfDown: key.NewBinding(key.WithKeys("ctrl+d"), key.WithHelp("ctrl+d", "half page down")),
		Top:      key.NewBinding(key.WithKeys("home"), key.WithHelp("home", "top")),
		Bottom:   key.NewBinding(key.WithKeys("G", "end"), key.WithHelp("G", "bottom, follow")),
	}
}

// Rows are the positions a Scroller moves over, in the panel's own terms
// P: a line index, a line's sequence number, a wrapped row. The panel
// builds them for each call, since they change as lines come and go.
type Rows[P any] interface {
	// First is the top position that shows the oldest rows.
	First() P
	// Bottom is the top position that shows the newest rows.
	Bottom() P
	// Move returns p moved n rows (towards older rows when n < 0) and
	// whether that reaches the bottom, where the view follows again.
	Move(p P, n int) (P, bool)
	// Clamp returns the pinned top p as a valid top position now.
	Clamp(p P) P
}

// Scroller is the follow-or-pinned scroll state every scrolling panel
// shares: while following, the view shows the newest rows as they come;
// scrolling pins a top position, and scrolling back to the bottom (or the
// Bottom key) follows again. The zero value follows.
type Scroller[P any] struct {
	pinned bool
	top    P
}

// Following reports whether the view shows the newest rows.
func (s *Scroller[P]) Following() bool { return !s.pinned }

// Follow makes the view show the newest rows as they come.
func (s *Scroller[P]) Follow() { s.pinned = false }

// Pin stops following with p at the top, even at the bottom.
func (s *Scroller[P]) Pin(p P) { s.pinned, s.top = true, p }

// Pinned returns the top position last pinned, as it was given: what the
// panel must carry over when its positions change meaning.
func (s *Scroller[P]) Pinned() P { return s.top }

// Top returns the top position now.
func (s *Scroller[P]) Top(r Rows[P]) P {
	if s.pinned {
		return r.Clamp(s.top)
	}
	return r.Bottom()
}

// ScrollTo puts p at the top; at the bottom the view follows.
func (s *Scroller[P]) ScrollTo(r Rows[P], p P) { s.settle(r.Move(p, 0)) }

// ScrollBy moves the view n rows (towards older rows when n < 0); reaching
// the bottom resumes following.
func (s *Scroller[P]) ScrollBy(r Rows[P], n int) { s.settle(r.Move(s.Top(r), n)) }

func (s *Scroller[P]) settle(p P, bottom bool) {
	if bottom {
		s.Follow()
		return
	}
	s.Pin(p)
}

// Key applies msg if it is one of k's keys and reports whether it was.
// page is how many rows a page moves, half how many half a page does.
// Top scrolls to r.First(); a panel that means something else by a key
// (the build panel's Up and Down select a location) handles it first.
func (s *Scroller[P]) Key(msg tea.KeyPressMsg, k ScrollKeys, r Rows[P], page, half int) bool {
	switch {
	case key.Matches(msg, k.Up):
		s.ScrollBy(r, -1)
	case key.Matches(msg, k.Down):
		s.ScrollBy(r, 1)
	case key.Matches(msg, k.PageUp):
		s.ScrollBy(r, -page)
	case key.Matches(msg, k.PageDown):
		s.ScrollBy(r, page)
	case key.Matches(msg, k.HalfUp):
		s.ScrollBy(r, -half)
	case key.Matches(msg, k.HalfDown):
		s.ScrollBy(r, half)
	case key.Matches(msg, k.Top):
		s.ScrollTo(r, r.First())
	case key.Matches(msg, k.Bottom):
		s.Follow()
	default:
		return false
	}
	return true
}

// WheelLines is how far one step of a mouse wheel scrolls.
const WheelLines = 3

// Wheel scrolls WheelLines rows for a step of the vertical wheel and
// reports whether msg was one.
func (s *Scroller[P]) Wheel(msg tea.MouseWheelMsg, r Rows[P]) bool {
	switch msg.Mouse().Button {
	case tea.MouseWheelUp:
		s.ScrollBy(r, -WheelLines)
	case tea.MouseWheelDown:
		s.ScrollBy(r, WheelLines)
	default:
		return false
	}
	return true
}

// IndexRows are the rows of a plain list, 0 to n-1, of which the view
// shows the last from MaxTop on. Scrolling above row 0 pins row 0.
type IndexRows struct{ MaxTop int }

// First is row 0.
func (r IndexRows) First() int { return 0 }

// Bottom is MaxTop.
func (r IndexRows) Bottom() int { return r.MaxTop }

// Move returns p+n, no lower than 0, and whether it is at or past MaxTop.
func (r IndexRows) Move(p, n int) (int, bool) { return max(p+n, 0), p+n >= r.MaxTop }

// Clamp keeps p at or above MaxTop.
func (r IndexRows) Clamp(p int) int { return min(p, r.MaxTop) }
