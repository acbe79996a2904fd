// Package memview is the dashboard's memory panel: the guest's RAM size,
// QEMU's resident memory, the balloon when the guest has one, and the
// values of a list of kernel symbols read from guest memory once a second
// (integers, structs field by field with DWARF, hex dumps otherwise).
package memview

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/tui/panel"
)

// keyMap is the panel's keys; KeyBindings and Update both read it.
type keyMap struct {
	Up, Down, Add, Remove key.Binding
	Confirm, Cancel       key.Binding
}

func newKeyMap() keyMap {
	return keyMap{
		Up:      key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "previous symbol")),
		Down:    key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "next symbol")),
		Add:     key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "watch a symbol")),
		Remove:  key.NewBinding(key.WithKeys("x", "delete"), key.WithHelp("x", "stop watching")),
		Confirm: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "watch it")),
		Cancel:  key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
	}
}

// Model is the memory panel. It implements panel.Panel.
type Model struct {
	d    panel.Deps
	in   panel.Inspector
	keys keyMap
	// procStats reads QEMU's /proc entries (Inspector.HostStats; tests
	// fake it).
	procStats func() (devloop.HostStats, error)

	width, height int
	focused       bool
	// now is the time of the last tick, for the age of the data.
	now time.Time

	// inflight is true while a refresh runs; again asks for another one
	// as soon as it returns (the watch list changed meanwhile).
	inflight, again bool

	table   *devloop.SymbolTable
	added   []string
	removed map[string]bool
	known   vmKnown

	snap     sampleMsg
	haveSnap bool

	sel, top int
	// selName keeps the selection on the same symbol across refreshes.
	selName string
	notice  string

	prompt    textinput.Model
	prompting bool
}

// New returns the memory panel reading the VM through in.
func New(d panel.Deps, in panel.Inspector) *Model {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Context == nil {
		d.Context = context.Background()
	}
	p := textinput.New()
	p.Prompt = "watch symbol: "
	p.Placeholder = "name"
	p.ShowSuggestions = true
	p.CharLimit = 256
	// A steady cursor: the panel refreshes every second anyway, and a
	// blinking one would re-render the dashboard twice a second more.
	ps := textinput.DefaultStyles(true)
	if d.Styles == nil || !d.Styles.Color {
		ps.Focused, ps.Blurred = textinput.StyleState{}, textinput.StyleState{}
	}
	ps.Cursor.Blink = false
	p.SetStyles(ps)
	m := &Model{d: d, in: in, keys: newKeyMap(), removed: make(map[string]bool), prompt: p, now: d.Now()}
	if in != nil {
		m.procStats = in.HostStats
	}
	return m
}

// Init starts the first refresh.
func (m *Model) Init() tea.Cmd { return m.refresh() }

// refresh starts a sample unless one is running.
func (m *Model) refresh() tea.Cmd {
	if m.in == nil {
		return nil
	}
	if m.inflight {
		m.again = true
		return nil
	}
	m.inflight, m.again = true, false
	removed := make(map[string]bool, len(m.removed))
	for k, v := range m.removed {
		removed[k] = v
	}
	req := request{table: m.table, added: append([]string(nil), m.added...), removed: removed, known: m.known,
		procStats: m.procStats}
	return sampleCmd(m.d.Context, m.in, m.d.Now, req)
}

// Update handles ticks, samples and keys.
func (m *Model) Update(msg tea.Msg) (panel.Panel, tea.Cmd) {
	switch msg := msg.(type) {
	case panel.TickMsg:
		m.now = time.Time(msg)
		return m, m.refresh()
	case sampleMsg:
		m.inflight = false
		m.apply(msg)
		if m.again {
			return m, m.refresh()
		}
		return m, nil
	case tea.KeyPressMsg:
		if m.prompting {
			return m, m.updatePrompt(msg)
		}
		return m, m.updateKeys(msg)
	}
	if m.prompting {
		var cmd tea.Cmd
		m.prompt, cmd = m.prompt.Update(msg)
		return m, cmd
	}
	return m, nil
}

// apply takes in a finished sample.
func (m *Model) apply(msg sampleMsg) {
	if msg.table != m.table {
		m.table = msg.table
		var names []string
		if m.table != nil {
			for _, s := range m.table.Symbols() {
				if s.Kind == devloop.SymObject {
					names = append(names, s.Name)
				}
			}
		}
		m.prompt.SetSuggestions(names)
	}
	if msg.running {
		m.known = msg.known
	} else {
		m.known = vmKnown{}
	}
	m.snap, m.haveSnap = msg, true
	// Rows removed while the sample ran stay removed.
	vars := m.snap.vars[:0:0]
	for _, v := range msg.vars {
		if !m.removed[v.name] {
			vars = append(vars, v)
		}
	}
	m.snap.vars = vars
	m.sel = 0
	for i, v := range vars {
		if v.name == m.selName {
			m.sel = i
		}
	}
	m.ensureVisible()
}

func (m *Model) updateKeys(msg tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(msg, m.keys.Up):
		m.move(-1)
	case key.Matches(msg, m.keys.Down):
		m.move(1)
	case key.Matches(msg, m.keys.Add):
		m.prompting, m.notice = true, ""
		m.prompt.Reset()
		return m.prompt.Focus()
	case key.Matches(msg, m.keys.Remove):
		m.removeSelected()
	}
	return nil
}

func (m *Model) updatePrompt(msg tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(msg, m.keys.Cancel):
		m.prompting = false
		m.prompt.Blur()
		return nil
	case key.Matches(msg, m.keys.Confirm):
		m.prompting = false
		m.prompt.Blur()
		return m.add(strings.TrimSpace(m.prompt.Value()))
	}
	var cmd tea.Cmd
	m.prompt, cmd = m.prompt.Update(msg)
	return cmd
}

// add starts watching name; an unknown name is refused with a notice.
func (m *Model) add(name string) tea.Cmd {
	if name == "" {
		return nil
	}
	if m.table != nil {
		if _, ok := m.table.Lookup(name); !ok {
			m.notice = fmt.Sprintf("no symbol %q in %s", name, filepath.Base(m.table.Path()))
			return nil
		}
	}
	delete(m.removed, name)
	for _, n := range m.added {
		if n == name {
			m.selName = name
			return m.refresh()
		}
	}
	m.added = append(m.added, name)
	m.selName = name
	return m.refresh()
}

// removeSelected stops watching the selected symbol, at once.
func (m *Model) removeSelected() {
	vars := m.snap.vars
	if m.sel < 0 || m.sel >= len(vars) {
		return
	}
	name := vars[m.sel].name
	m.removed[name] = true
	added := m.added[:0]
	for _, n := range m.added {
		if n != name {
			added = append(added, n)
		}
	}
	m.added = added
	m.snap.vars = append(vars[:m.sel:m.sel], vars[m.sel+1:]...)
	m.sel = min(m.sel, len(m.snap.vars)-1)
	m.selName = ""
	if m.sel >= 0 {
		m.selName = m.snap.vars[m.sel].name
	}
	m.ensureVisible()
}

func (m *Model) move(delta int) {
	n := len(m.snap.vars)
	if n == 0 {
		return
	}
	m.sel = max(0, min(n-1, m.sel+delta))
	m.selName = m.snap.vars[m.sel].name
	m.ensureVisible()
}

// ensureVisible scrolls the symbol list so the selected symbol's first
// line, and as much of it as fits, is on screen.
func (m *Model) ensureVisible() {
	region := m.height - len(m.headerLines())
	if region <= 0 {
		m.top = 0
		return
	}
	_, starts := m.symbolLines()
	total := starts[len(starts)-1]
	if m.sel < 0 || m.sel >= len(starts)-1 {
		m.top = max(0, min(m.top, total-region))
		return
	}
	first, end := starts[m.sel], starts[m.sel+1]
	if end > m.top+region {
		m.top = min(first, end-region)
	}
	if first < m.top {
		m.top = first
	}
	m.top = max(0, min(m.top, total-region))
}

// SetSize sets the content size.
func (m *Model) SetSize(width, height int) {
	m.width, m.height = width, height
	m.prompt.SetWidth(max(1, width-len(m.prompt.Prompt)-1))
	m.ensureVisible()
}

// Title names the panel.
func (m *Model) Title() string {
	if m.prompting {
		return "memory · add symbol"
	}
	return "memory"
}

// Focus tells the panel whether it has the keyboard.
func (m *Model) Focus(focused bool) {
	m.focused = focused
	if !focused && m.prompting {
		m.prompting = false
		m.prompt.Blur()
	}
}

// Capturing is true while the symbol prompt is open.
func (m *Model) Capturing() bool { return m.prompting }

// KeyBindings lists the panel's keys: the prompt's while it is open.
func (m *Model) KeyBindings() []key.Binding {
	if m.prompting {
		return []key.Binding{m.keys.Confirm, m.keys.Cancel}
	}
	return []key.Binding{m.keys.Up, m.keys.Down, m.keys.Add, m.keys.Remove}
}
