package memview

import (
	"testing"

	"github.com/ukdev/ukdev/tui/panel"
)

// A panel the dashboard does not show reads nothing on its ticks (and
// asks for none), and reads at once when it shows again.
func TestMemViewHiddenReadsNothing(t *testing.T) {
	var _ panel.Visibility = (*Model)(nil)
	var _ panel.Ticker = (*Model)(nil)
	f, _ := newFake(t)
	m := newModel(f)
	m.SetSize(120, 20)
	if !m.Ticking() {
		t.Error("a shown panel asks for no ticks")
	}
	refresh(t, m)
	if f.count("pmemsave") != 1 {
		t.Fatalf("pmemsave ran %d times on a shown panel's refresh, want 1", f.count("pmemsave"))
	}

	if cmd := m.SetVisible(false); cmd != nil {
		t.Error("hiding the panel starts a command")
	}
	if m.Ticking() {
		t.Error("a hidden panel asks for ticks")
	}
	for range 3 {
		refresh(t, m)
	}
	if n := f.count("pmemsave"); n != 1 {
		t.Errorf("a hidden panel read memory: pmemsave ran %d times, want 1", n)
	}

	cmd := m.SetVisible(true)
	if cmd == nil {
		t.Fatal("showing the panel again starts no refresh")
	}
	drive(t, m, cmd())
	if !m.Ticking() {
		t.Error("a panel shown again asks for no ticks")
	}
	if n := f.count("pmemsave"); n != 2 {
		t.Errorf("pmemsave ran %d times after the panel showed again, want 2", n)
	}
	if cmd := m.SetVisible(true); cmd != nil {
		t.Error("a panel already shown refreshes when told it is shown")
	}
}
