package vmsview

import (
	"charm.land/bubbles/v2/key"
)

// keyMap is the VMs panel's keys. They apply only while the panel has
// focus. p is also the dashboard's global pause key: while this panel has
// the focus it pauses or resumes the selected VM instead (OwnKeys); the
// others (b, x, a) are none of the global keys, so r, R, s, w, d and f
// keep acting on this dashboard's own VM and loop.
type keyMap struct {
	Up, Down key.Binding
	Attach   key.Binding
	Pause    key.Binding
	Reboot   key.Binding
	Stop     key.Binding
	// Yes and No answer the stop confirmation.
	Yes, No key.Binding
}

// newKeyMap returns the keys. Their help says "it" for the selected VM:
// short, so that the help overlay's three columns fit 80 cells.
func newKeyMap() keyMap {
	return keyMap{
		Up:     key.NewBinding(key.WithKeys("k", "up"), key.WithHelp("k/↑", "previous VM")),
		Down:   key.NewBinding(key.WithKeys("j", "down"), key.WithHelp("j/↓", "next VM")),
		Attach: key.NewBinding(key.WithKeys("enter", "a"), key.WithHelp("enter/a", "attach to it")),
		Pause:  key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "pause/resume it")),
		Reboot: key.NewBinding(key.WithKeys("b"), key.WithHelp("b", "reboot it")),
		Stop:   key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "stop it (y/n)")),
		Yes:    key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "stop it")),
		No:     key.NewBinding(key.WithKeys("n", "esc"), key.WithHelp("n/esc", "keep it running")),
	}
}

// bindings lists the keys in help order: the answers while a stop waits
// for one, else the list's keys.
func (k keyMap) bindings(confirming bool) []key.Binding {
	if confirming {
		return []key.Binding{k.Yes, k.No}
	}
	return []key.Binding{k.Down, k.Up, k.Attach, k.Pause, k.Reboot, k.Stop}
}
