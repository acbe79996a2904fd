package console

import "charm.land/bubbles/v2/key"

// keyMap is the console panel's keys. Scrolling keys work while the panel
// is focused; in input mode every key goes to the guest except the two
// that leave input mode.
type keyMap struct {
	Up, Down         key.Binding
	PageUp, PageDown key.Binding
	HalfUp, HalfDown key.Binding
	Top, Follow      key.Binding
	Left, Right      key.Binding // horizontal scroll, only with wrap off
	Wrap             key.Binding
	Input            key.Binding

	// Input mode.
	Leave   key.Binding
	SendEsc key.Binding
}

func newKeyMap() keyMap {
	return keyMap{
		Up:       key.NewBinding(key.WithKeys("k", "up"), key.WithHelp("↑/k", "scroll up")),
		Down:     key.NewBinding(key.WithKeys("j", "down"), key.WithHelp("↓/j", "scroll down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup"), key.WithHelp("pgup", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown"), key.WithHelp("pgdn", "page down")),
		HalfUp:   key.NewBinding(key.WithKeys("ctrl+u"), key.WithHelp("ctrl+u", "half page up")),
		HalfDown: key.NewBinding(key.WithKeys("ctrl+d"), key.WithHelp("ctrl+d", "half page down")),
		Top:      key.NewBinding(key.WithKeys("g", "home"), key.WithHelp("g/home", "top")),
		Follow:   key.NewBinding(key.WithKeys("G", "end"), key.WithHelp("G/end", "bottom, follow")),
		Left:     key.NewBinding(key.WithKeys("h", "left"), key.WithHelp("←/h", "scroll left")),
		Right:    key.NewBinding(key.WithKeys("l", "right"), key.WithHelp("→/l", "scroll right")),
		Wrap:     key.NewBinding(key.WithKeys("z"), key.WithHelp("z", "wrap on/off")),
		Input:    key.NewBinding(key.WithKeys("i", "enter"), key.WithHelp("i/enter", "type to the guest")),
		Leave:    key.NewBinding(key.WithKeys("esc", "ctrl+]"), key.WithHelp("esc/ctrl+]", "leave input mode")),
		SendEsc:  key.NewBinding(key.WithKeys("ctrl+["), key.WithHelp("ctrl+[", "send ESC (alt+key sends ESC key)")),
	}
}
