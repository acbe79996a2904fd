package tui

import (
	"slices"

	"charm.land/bubbles/v2/key"
)

// keyMap holds the dashboard's global keys. The footer and the help overlay
// are rendered from it, so a key is described in one place only.
type keyMap struct {
	Help      key.Binding
	Close     key.Binding
	Next      key.Binding
	Prev      key.Binding
	Focus     key.Binding
	Maximise  key.Binding
	Reboot    key.Binding
	Rebuild   key.Binding
	Pause     key.Binding
	StopStart key.Binding
	Watch     key.Binding
	Deploy    key.Binding
	GDB       key.Binding
	Crash     key.Binding
	Quit      key.Binding
}

func newKeyMap() keyMap {
	return keyMap{
		Help:      key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Close:     key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "close help")),
		Next:      key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next panel")),
		Prev:      key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "previous panel")),
		Focus:     key.NewBinding(key.WithKeys("1", "2", "3", "4", "5", "6"), key.WithHelp("1-6", "focus panel")),
		Maximise:  key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "maximise")),
		Reboot:    key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "reboot")),
		Rebuild:   key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "rebuild")),
		Pause:     key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "pause VM")),
		StopStart: key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "stop/start VM")),
		Watch:     key.NewBinding(key.WithKeys("w"), key.WithHelp("w", "pause watching")),
		Deploy:    key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "deploy this build")),
		GDB:       key.NewBinding(key.WithKeys("g"), key.WithHelp("g", "gdb on the VM")),
		Crash:     key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "crash view")),
		Quit:      key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
	}
}

// ShortHelp is the footer: the keys a user needs most.
func (k keyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Help, k.Next, k.Focus, k.Maximise, k.Reboot, k.Rebuild, k.Pause, k.StopStart, k.Watch, k.Deploy, k.Quit}
}

// FullHelp is the help overlay's global columns: moving around, then
// driving the VM and the loop.
func (k keyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Next, k.Prev, k.Focus, k.Maximise, k.Help, k.Close, k.Quit},
		{k.Reboot, k.Rebuild, k.Pause, k.StopStart, k.Watch, k.Deploy, k.GDB, k.Crash},
	}
}

// without returns k with the bindings that share a key with owned
// disabled: the focused panel takes those keys (panel.KeyOwner), so they
// neither fire nor show in the footer and the help overlay. Quit and Help
// always stay.
func (k keyMap) without(owned []key.Binding) keyMap {
	if len(owned) == 0 {
		return k
	}
	taken := map[string]bool{}
	for _, b := range owned {
		for _, name := range b.Keys() {
			taken[name] = true
		}
	}
	for _, b := range []*key.Binding{&k.Close, &k.Next, &k.Prev, &k.Focus, &k.Maximise,
		&k.Reboot, &k.Rebuild, &k.Pause, &k.StopStart, &k.Watch, &k.Deploy, &k.Crash} {
		if slices.ContainsFunc(b.Keys(), func(name string) bool { return taken[name] }) {
			b.SetEnabled(false)
		}
	}
	return k
}

// focusIndex returns the panel a digit key names, or false.
func focusIndex(keyName string) (int, bool) {
	if len(keyName) != 1 || keyName[0] < '1' || keyName[0] > '0'+numPanels {
		return 0, false
	}
	return int(keyName[0] - '1'), true
}
