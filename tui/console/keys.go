package console

import (
	"charm.land/bubbles/v2/key"

	"github.com/ukdev/ukdev/tui/panel"
)

// keyMap is the console panel's keys. Scrolling keys work while the panel
// is focused; in input mode every key goes to the guest except the two
// that leave input mode.
type keyMap struct {
	panel.ScrollKeys
	Left, Right key.Binding // horizontal scroll, only with wrap off
	Wrap        key.Binding
	Input       key.Binding

	// Input mode.
	Leave   key.Binding
	SendEsc key.Binding
}

func newKeyMap() keyMap {
	k := keyMap{
		ScrollKeys: panel.NewScrollKeys(),
		Left:       key.NewBinding(key.WithKeys("h", "left"), key.WithHelp("←/h", "scroll left")),
		Right:      key.NewBinding(key.WithKeys("l", "right"), key.WithHelp("→/l", "scroll right")),
		Wrap:       key.NewBinding(key.WithKeys("z"), key.WithHelp("z", "wrap on/off")),
		Input:      key.NewBinding(key.WithKeys("i", "enter"), key.WithHelp("i/enter", "type to the guest")),
		Leave:      key.NewBinding(key.WithKeys("esc", "ctrl+]"), key.WithHelp("esc/ctrl+]", "leave input mode")),
		SendEsc:    key.NewBinding(key.WithKeys("ctrl+["), key.WithHelp("ctrl+[", "send ESC (alt+key sends ESC key)")),
	}
	// The console keeps its own help labels and pages with pgup and pgdn
	// only (not space, ctrl+b or ctrl+f).
	k.Up.SetHelp("↑/k", "scroll up")
	k.Down.SetHelp("↓/j", "scroll down")
	k.PageUp.SetKeys("pgup")
	k.PageDown.SetKeys("pgdown")
	k.Top.SetHelp("home", "top")
	k.Bottom.SetHelp("G/end", "bottom, follow")
	return k
}
