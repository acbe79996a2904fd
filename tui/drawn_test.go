package tui

import (
	"strings"
	"testing"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/ukdev/ukdev/tui/panel"
)

func TestDrawnFrameRedrawsOnlyWhatChanged(t *testing.T) {
	base := drawnFrame{r: rect{0, 1, 40, 10}, focused: true, title: " 1 console ", hint: "", view: "hello"}
	tests := []struct {
		name   string
		change func(f *drawnFrame)
		redraw bool
	}{
		{"nothing changed", func(*drawnFrame) {}, false},
		{"the panel's view", func(f *drawnFrame) { f.view = "hello!" }, true},
		{"the place", func(f *drawnFrame) { f.r.w = 41 }, true},
		{"the position alone", func(f *drawnFrame) { f.r.x = 3 }, true},
		{"the focus", func(f *drawnFrame) { f.focused = false }, true},
		{"the title", func(f *drawnFrame) { f.title = " 1 console (paused) " }, true},
		{"the tab hint", func(f *drawnFrame) { f.hint = " 6 VMs " }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &drawn{}
			draws := 0
			draw := func() []string { draws++; return []string{"drawn", "again"} }
			d.frameLines(panelConsole, base, draw)
			next := base
			tt.change(&next)
			got := d.frameLines(panelConsole, next, draw)
			if want := map[bool]int{false: 1, true: 2}[tt.redraw]; draws != want {
				t.Errorf("draws = %d, want %d", draws, want)
			}
			if strings.Join(got, "\n") != "drawn\nagain" {
				t.Errorf("lines = %q", got)
			}
			// Another panel's frame is its own.
			d.frameLines(panelLogs, next, draw)
			if want := map[bool]int{false: 2, true: 3}[tt.redraw]; draws != want {
				t.Errorf("after another panel: draws = %d, want %d", draws, want)
			}
		})
	}
}

func TestDrawnNilDrawsEveryTime(t *testing.T) {
	var d *drawn
	draws := 0
	for range 2 {
		d.frameLines(panelConsole, drawnFrame{}, func() []string { draws++; return nil })
	}
	if draws != 2 {
		t.Errorf("draws = %d, want 2", draws)
	}
}

func TestDrawnLinesCachedByKey(t *testing.T) {
	var c drawnLines
	draws := 0
	draw := func() []string { draws++; return []string{"x"} }
	for _, step := range []struct {
		key   string
		draws int
	}{{"a", 1}, {"a", 1}, {"b", 2}, {"a", 3}, {"a", 3}, {"", 4}} {
		c.cached(step.key, draw)
		if draws != step.draws {
			t.Fatalf("after key %q: draws = %d, want %d", step.key, draws, step.draws)
		}
	}
}

func TestBindingsKey(t *testing.T) {
	a := key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "act"))
	b := key.NewBinding(key.WithKeys("b"), key.WithHelp("b", "build"))
	off := key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "crash"))
	off.SetEnabled(false)
	tests := []struct {
		name string
		x, y []key.Binding
		same bool
	}{
		{"same bindings", []key.Binding{a, b}, []key.Binding{a, b}, true},
		{"a disabled binding shows nothing", []key.Binding{a, b}, []key.Binding{a, off, b}, true},
		{"order", []key.Binding{a, b}, []key.Binding{b, a}, false},
		{"one more", []key.Binding{a}, []key.Binding{a, b}, false},
		{"other help text", []key.Binding{a}, []key.Binding{key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "acts"))}, false},
		{"no split between key and text", []key.Binding{key.NewBinding(key.WithKeys("x"), key.WithHelp("ab", "c"))}, []key.Binding{key.NewBinding(key.WithKeys("x"), key.WithHelp("a", "bc"))}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := bindingsKey(tt.x) == bindingsKey(tt.y); got != tt.same {
				t.Errorf("same key = %v, want %v", got, tt.same)
			}
		})
	}
}

// textPanel is a fake panel whose view is its text, counting its views.
type textPanel struct {
	*fakePanel
	text string
}

func (p *textPanel) View() string { return p.text }

// TestViewShowsEveryChangeThroughTheCache checks that the screen after a
// change is the screen drawn without the cache: a panel's new text, a
// focus moved, a status change, a resize.
func TestViewShowsEveryChangeThroughTheCache(t *testing.T) {
	m, fakes, _ := fakeModel(140, 45)
	tp := &textPanel{fakePanel: fakes[panelMetrics], text: "cpu 1.0%"}
	m.panels[panelMetrics] = tp
	uncached := func(m Model) string {
		m.drawn = nil
		return m.render()
	}
	steps := []struct {
		name string
		do   func(m Model) Model
		want string
	}{
		{"first", func(m Model) Model { return m }, "cpu 1.0%"},
		{"same again", func(m Model) Model { return m }, "cpu 1.0%"},
		{"the panel's text", func(m Model) Model { tp.text = "cpu 2.0%"; return m }, "cpu 2.0%"},
		{"focus moves", func(m Model) Model { return update(m, tea.KeyPressMsg{Code: '5', Text: "5"}) }, "cpu 2.0%"},
		{"resize", func(m Model) Model { return update(m, tea.WindowSizeMsg{Width: 120, Height: 40}) }, "cpu 2.0%"},
		{"help over the panels", func(m Model) Model { return update(m, tea.KeyPressMsg{Code: '?', Text: "?"}) }, "keys"},
		{"help closed", func(m Model) Model { return update(m, tea.KeyPressMsg{Code: '?', Text: "?"}) }, "cpu 2.0%"},
	}
	for _, s := range steps {
		m = s.do(m)
		got := m.render()
		if want := uncached(m); got != want {
			t.Fatalf("%s: the cached screen differs from the one drawn afresh:\n%s\n---\n%s", s.name, got, want)
		}
		if !strings.Contains(ansi.Strip(got), s.want) {
			t.Fatalf("%s: screen lacks %q:\n%s", s.name, s.want, got)
		}
	}
}

var _ panel.Panel = (*textPanel)(nil)
