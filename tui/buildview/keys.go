package buildview

import "charm.land/bubbles/v2/key"

// keyMap is the build panel's keys. They apply only while the panel has
// focus; none of them is one of the root's global keys.
type keyMap struct {
	Up, Down, PageUp, PageDown, HalfUp, HalfDown, Top, Bottom, Open key.Binding
}

func newKeyMap() keyMap {
	return keyMap{
		Up:       key.NewBinding(key.WithKeys("k", "up"), key.WithHelp("k/↑", "previous location")),
		Down:     key.NewBinding(key.WithKeys("j", "down"), key.WithHelp("j/↓", "next location")),
		PageUp:   key.NewBinding(key.WithKeys("pgup", "ctrl+b"), key.WithHelp("pgup", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "ctrl+f", "space"), key.WithHelp("pgdn", "page down")),
		HalfUp:   key.NewBinding(key.WithKeys("ctrl+u"), key.WithHelp("ctrl+u", "half page up")),
		HalfDown: key.NewBinding(key.WithKeys("ctrl+d"), key.WithHelp("ctrl+d", "half page down")),
		Top:      key.NewBinding(key.WithKeys("g", "home"), key.WithHelp("g", "top")),
		Bottom:   key.NewBinding(key.WithKeys("G", "end"), key.WithHelp("G", "bottom, follow")),
		Open:     key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open in $EDITOR")),
	}
}

// bindings lists the keys in help order.
func (k keyMap) bindings() []key.Binding {
	return []key.Binding{k.Down, k.Up, k.Open, k.PageUp, k.PageDown, k.Top, k.Bottom}
}
