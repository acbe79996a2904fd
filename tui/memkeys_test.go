package tui

import (
	"slices"
	"testing"

	"charm.land/bubbles/v2/key"

	"github.com/ukdev/ukdev/tui/memview"
	"github.com/ukdev/ukdev/tui/panel"
	"github.com/ukdev/ukdev/tui/panel/paneltest"
)

// The memory panel's keys, in the modes where the dashboard's global
// keys still fire (the watch list, the hex view), share no key with them:
// none is lost to a global action.
func TestMemoryKeysDoNotClash(t *testing.T) {
	g := newKeyMap()
	global := map[string]string{}
	for _, b := range []key.Binding{g.Help, g.Next, g.Prev, g.Focus, g.Maximise, g.Reboot, g.Rebuild,
		g.Pause, g.StopStart, g.Watch, g.Deploy, g.GDB, g.Quit} {
		for _, k := range b.Keys() {
			global[k] = b.Help().Desc
		}
	}
	m := memview.New(panel.Deps{Styles: panel.NewStyles(false)}, nil)
	m.SetSize(100, 30)
	m.Focus(true)
	modes := []struct {
		name string
		keys []string
	}{
		{"watch list", nil},
		{"hex view", []string{"o", "0", "x", "1", "0", "enter"}},
	}
	for _, mode := range modes {
		for _, k := range mode.keys {
			m.Update(paneltest.Press(k))
		}
		if m.Capturing() {
			t.Fatalf("%s: the panel captures keys", mode.name)
		}
		bindings := m.KeyBindings()
		if len(bindings) == 0 {
			t.Fatalf("%s: no keys", mode.name)
		}
		for _, b := range bindings {
			for _, k := range b.Keys() {
				if desc, ok := global[k]; ok {
					t.Errorf("%s: %q (%s) is the global key for %s", mode.name, k, b.Help().Desc, desc)
				}
			}
		}
		if mode.name == "hex view" && !slices.ContainsFunc(bindings, func(b key.Binding) bool { return slices.Contains(b.Keys(), "pgdown") }) {
			t.Errorf("hex view keys lack pgdown: %v", bindings)
		}
	}
}
