package buildview

import (
	"charm.land/bubbles/v2/key"

	"github.com/ukdev/ukdev/tui/panel"
)

// keyMap is the build panel's keys. They apply only while the panel has
// focus; none of them is one of the root's global keys. Up and Down
// select the previous and next location rather than scroll.
type keyMap struct {
	panel.ScrollKeys
	Open key.Binding
}

func newKeyMap() keyMap {
	k := keyMap{
		ScrollKeys: panel.NewScrollKeys(),
		Open:       key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open in $EDITOR")),
	}
	k.Up.SetHelp("k/↑", "previous location")
	k.Down.SetHelp("j/↓", "next location")
	return k
}

// bindings lists the keys in help order.
func (k keyMap) bindings() []key.Binding {
	return []key.Binding{k.Down, k.Up, k.Open, k.PageUp, k.PageDown, k.Top, k.Bottom}
}
