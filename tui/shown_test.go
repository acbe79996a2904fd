package tui

import (
	"slices"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/ukdev/ukdev/tui/panel"
	"github.com/ukdev/ukdev/tui/panel/paneltest"
)

// showerPanel records what the root says about it being on screen.
type showerPanel struct {
	*fakePanel
	shown []bool
}

func (p *showerPanel) SetVisible(shown bool) tea.Cmd {
	p.shown = append(p.shown, shown)
	return nil
}

// The metrics panel learns when it leaves the screen (another panel
// maximised, a terminal too small) and when it comes back.
func TestPanelsToldWhetherShown(t *testing.T) {
	var panels [numPanels]panel.Panel
	for i := range panels {
		panels[i] = &fakePanel{name: "p"}
	}
	metrics := &showerPanel{fakePanel: &fakePanel{name: "metrics"}}
	panels[panelMetrics] = metrics
	m := newModel(testDeps(&fakeControl{}), panels, nil, Options{Project: "hello", Flavor: "elf"})
	steps := []struct {
		msg  tea.Msg
		want bool
	}{
		{tea.WindowSizeMsg{Width: 120, Height: 40}, true},
		{paneltest.Press("f"), false}, // the console maximised over it
		{paneltest.Press("f"), true},
		{tea.WindowSizeMsg{Width: 10, Height: 4}, false}, // too small for anything
		{tea.WindowSizeMsg{Width: 120, Height: 40}, true},
	}
	for i, s := range steps {
		m = update(m, s.msg)
		if len(metrics.shown) == 0 || metrics.shown[len(metrics.shown)-1] != s.want {
			t.Fatalf("step %d (%T): shown = %v, want last %v", i, s.msg, metrics.shown, s.want)
		}
	}
	if !slices.Contains(metrics.shown, false) {
		t.Error("never hidden")
	}
}
