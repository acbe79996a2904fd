package logview

import (
	"charm.land/bubbles/v2/key"

	"github.com/ukdev/ukdev/tui/panel"
)

// keyMap is the logs panel's keys. They apply only while the panel has
// focus; none of them is one of the root's global keys (q ? tab digits f
// r R p s w).
type keyMap struct {
	panel.ScrollKeys

	Search, Next, Prev, Filter, Clear key.Binding
	ToggleCase, ToggleRegex           key.Binding
	Source, Level, Times, Boot, Save  key.Binding

	// Prompt keys, active only while a prompt is open.
	Confirm, Cancel, PromptRegex, PromptCase key.Binding
}

func newKeyMap() keyMap {
	k := keyMap{
		ScrollKeys: panel.NewScrollKeys(),

		Search:      key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "search")),
		Next:        key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "next match")),
		Prev:        key.NewBinding(key.WithKeys("N"), key.WithHelp("N", "previous match")),
		Filter:      key.NewBinding(key.WithKeys("&"), key.WithHelp("&", "filter lines")),
		Clear:       key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear search, then filter")),
		ToggleCase:  key.NewBinding(key.WithKeys("C"), key.WithHelp("C", "toggle ignore case")),
		ToggleRegex: key.NewBinding(key.WithKeys("X"), key.WithHelp("X", "toggle regexp")),
		Source:      key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "source: all/console/syslog/build/vm/ukdev/cloud")),
		Level:       key.NewBinding(key.WithKeys("L"), key.WithHelp("L", "level: all/≥err/≥warn/≥info")),
		Times:       key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "timestamps")),
		Boot:        key.NewBinding(key.WithKeys("b"), key.WithHelp("b", "jump to boot")),
		Save:        key.NewBinding(key.WithKeys("ctrl+s"), key.WithHelp("ctrl+s", "save shown lines")),

		Confirm:     key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "confirm")),
		Cancel:      key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
		PromptRegex: key.NewBinding(key.WithKeys("ctrl+r"), key.WithHelp("ctrl+r", "regexp on/off")),
		PromptCase:  key.NewBinding(key.WithKeys("ctrl+t"), key.WithHelp("ctrl+t", "ignore case on/off")),
	}
	k.Top.SetHelp("home", "oldest")
	k.Bottom.SetHelp("G", "newest, follow")
	return k
}

// bindings lists the keys in help order.
func (k keyMap) bindings() []key.Binding {
	return []key.Binding{
		k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom,
		k.Search, k.Next, k.Prev, k.Filter, k.Clear, k.ToggleCase, k.ToggleRegex,
		k.Source, k.Level, k.Times, k.Boot, k.Save,
	}
}

// promptBindings lists the keys of an open prompt.
func (k keyMap) promptBindings() []key.Binding {
	return []key.Binding{k.Confirm, k.Cancel, k.PromptRegex, k.PromptCase}
}
