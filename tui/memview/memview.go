// Package memview is the dashboard's memory panel: the guest's RAM size,
// QEMU's resident memory, the balloon when the guest has one, and the
// values of a list of kernel symbols read from guest memory once a second,
// on the dashboard's tick and only while the panel is on screen (integers,
// structs field by field with DWARF, hex dumps otherwise), with
// what changed since the last refresh highlighted and counters' rates. A
// symbol browser adds watches, and a hex view shows any address.
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

// keyMap is the panel's keys; KeyBindings and Update both read it. None
// shares a key with the dashboard's global keys.
type keyMap struct {
	Up, Down, Browse, Remove, Open, Goto  key.Binding
	Confirm, Cancel, PrevMatch, NextMatch key.Binding
	// The hex view's.
	HexUp, HexDown, Left, Right, PageUp, PageDown, Follow, Back, Space, Close key.Binding
}

func newKeyMap() keyMap {
	return keyMap{
		Up:        key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "previous symbol")),
		Down:      key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "next symbol")),
		Browse:    key.NewBinding(key.WithKeys("a", "/"), key.WithHelp("a or /", "browse symbols to watch")),
		Remove:    key.NewBinding(key.WithKeys("x", "delete"), key.WithHelp("x", "stop watching")),
		Open:      key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "hex view (a pointer: where it points)")),
		Goto:      key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "hex view at an address or symbol+off")),
		Confirm:   key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "watch it")),
		Cancel:    key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
		PrevMatch: key.NewBinding(key.WithKeys("up", "ctrl+p"), key.WithHelp("↑", "previous match")),
		NextMatch: key.NewBinding(key.WithKeys("down", "ctrl+n"), key.WithHelp("↓", "next match")),
		HexUp:     key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "line up")),
		HexDown:   key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "line down")),
		Left:      key.NewBinding(key.WithKeys("left", "h"), key.WithHelp("←/h", "previous word")),
		Right:     key.NewBinding(key.WithKeys("right", "l"), key.WithHelp("→/l", "next word")),
		PageUp:    key.NewBinding(key.WithKeys("pgup"), key.WithHelp("pgup", "page up")),
		PageDown:  key.NewBinding(key.WithKeys("pgdown"), key.WithHelp("pgdn", "page down")),
		Follow:    key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "follow the pointer under the cursor")),
		Back:      key.NewBinding(key.WithKeys("backspace"), key.WithHelp("backspace", "back")),
		Space:     key.NewBinding(key.WithKeys("v"), key.WithHelp("v", "virtual/physical")),
		Close:     key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "close the hex view")),
	}
}

// mode is what the panel shows below its header.
type mode int

const (
	modeList   mode = iota // the watch list
	modeBrowse             // the symbol browser (captures keys)
	modeGoto               // the address prompt (captures keys)
	modeHex                // the hex view
)

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

	// hidden is true while the dashboard does not show the panel
	// (panel.Visibility): nothing is read then. A panel never told is
	// shown.
	hidden bool
	// inflight is true while a refresh runs; again asks for another one
	// as soon as it returns (the watch list changed meanwhile).
	inflight, again bool

	table *devloop.SymbolTable
	// defaults is the first watch list for table: the flavor's
	// suggestions, then the program's own globals before the libraries'.
	defaults []string
	// entries are table's data symbols, for the browser.
	entries []browseEntry
	// goReader reads table's Go runtime statistics; nil when table is
	// not a Go program.
	goReader *devloop.GoRuntimeReader
	added    []string
	removed  map[string]bool
	known    vmKnown
	// loaded is false until the user's list was read from the state
	// dir at statePath; no refresh starts before (the first list would
	// flash).
	loaded    bool
	statePath string
	saver     *saver

	snap     sampleMsg
	haveSnap bool
	// changes are the values seen at the last refresh, what changed
	// since, and the rates of counters.
	changes changeTracker

	sel, top int
	// selName keeps the selection on the same symbol across refreshes.
	selName string
	notice  string

	mode    mode
	prompt  textinput.Model
	browser browser
	hex     hexView
}

// watchFileName is the file in the project's state dir that keeps the
// user's watch list.
const watchFileName = "memory-watches.json"

// New returns the memory panel reading the VM through in.
func New(d panel.Deps, in panel.Inspector) *Model {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Context == nil {
		d.Context = context.Background()
	}
	p := textinput.New()
	p.CharLimit = 256
	// A steady cursor: the panel refreshes every second anyway, and a
	// blinking one would re-render the dashboard twice a second more.
	ps := textinput.DefaultStyles(true)
	if d.Styles == nil || !d.Styles.Color {
		ps.Focused, ps.Blurred = textinput.StyleState{}, textinput.StyleState{}
	}
	ps.Cursor.Blink = false
	p.SetStyles(ps)
	m := &Model{d: d, in: in, keys: newKeyMap(), removed: make(map[string]bool), prompt: p, now: d.Now(), loaded: true,
		saver: &saver{}}
	if d.StateDir != "" {
		// "" would be the working directory: the watched tree.
		m.statePath, m.loaded = filepath.Join(d.StateDir, watchFileName), false
	}
	if in != nil {
		m.procStats = in.HostStats
	}
	return m
}

// Init reads the user's watch list, then starts the first refresh.
func (m *Model) Init() tea.Cmd {
	if !m.loaded {
		return loadWatchesCmd(m.statePath)
	}
	return m.refresh()
}

// SetVisible stops the refreshes while the panel is off screen (another
// panel maximised): reading the watches costs QMP round trips and file
// reads that nobody sees. Shown again, it refreshes at once.
func (m *Model) SetVisible(visible bool) tea.Cmd {
	if visible != m.hidden {
		return nil
	}
	m.hidden = !visible
	return m.refresh()
}

// Ticking implements panel.Ticker: the panel samples on every tick while
// it is on screen.
func (m *Model) Ticking() bool { return m.in != nil && m.loaded && !m.hidden }

// refresh starts a sample unless one is running or the panel is hidden.
func (m *Model) refresh() tea.Cmd {
	if m.in == nil || !m.loaded || m.hidden {
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
	req := request{table: m.table, defaults: m.defaults, goReader: m.goReader, added: append([]string(nil), m.added...), removed: removed,
		known: m.known, procStats: m.procStats, hex: m.hexRequest()}
	if s, ok := m.in.(panel.WatchSuggester); ok {
		req.suggest = s.SuggestWatches
	}
	return sampleCmd(m.d.Context, m.in, m.d.Now, req)
}

// Update handles ticks, samples and keys.
func (m *Model) Update(msg tea.Msg) (panel.Panel, tea.Cmd) {
	switch msg := msg.(type) {
	case panel.TickMsg:
		m.now = time.Time(msg)
		return m, m.refresh()
	case watchesLoadedMsg:
		m.loaded = true
		if msg.err != nil {
			m.notice = msg.err.Error()
		}
		m.added = append(m.added, msg.file.Added...)
		for _, n := range msg.file.Removed {
			m.removed[n] = true
		}
		return m, m.refresh()
	case watchesSavedMsg:
		if msg.err != nil {
			m.notice = msg.err.Error()
		}
		return m, nil
	case sampleMsg:
		m.inflight = false
		m.apply(msg)
		if m.again {
			return m, m.refresh()
		}
		return m, nil
	case tea.KeyPressMsg:
		switch m.mode {
		case modeBrowse:
			return m, m.updateBrowser(msg)
		case modeGoto:
			return m, m.updateGoto(msg)
		case modeHex:
			return m, m.updateHex(msg)
		}
		return m, m.updateKeys(msg)
	}
	if m.mode == modeBrowse || m.mode == modeGoto {
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
		m.defaults, m.entries, m.goReader = msg.defaults, msg.entries, msg.goReader
		m.changes = changeTracker{}
		m.hex.resetData()
		if m.mode == modeBrowse {
			m.filter()
		}
	}
	if msg.running {
		m.known = msg.known
	} else {
		// Nothing read from a VM that is gone is shown as fresh.
		m.known = vmKnown{}
		m.hex.resetData()
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
	m.changes.update(msg.at, msg.info.Boot, vars, m.byteOrder(), m.table)
	m.hex.apply(msg.hex)
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
	case key.Matches(msg, m.keys.Browse):
		return m.openBrowser()
	case key.Matches(msg, m.keys.Goto):
		return m.openGoto()
	case key.Matches(msg, m.keys.Open):
		return m.openSelected()
	case key.Matches(msg, m.keys.Remove):
		return m.removeSelected()
	}
	return nil
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
	m.notice = ""
	delete(m.removed, name)
	m.selName = name
	if !contains(m.added, name) && !contains(m.defaults, name) {
		m.added = append(m.added, name)
	}
	return tea.Batch(m.refresh(), m.save())
}

// removeSelected stops watching the selected symbol, at once.
func (m *Model) removeSelected() tea.Cmd {
	vars := m.snap.vars
	if m.sel < 0 || m.sel >= len(vars) {
		return nil
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
	return m.save()
}

// save writes the user's list to the state dir, in the background.
func (m *Model) save() tea.Cmd {
	if m.statePath == "" {
		return nil
	}
	f := watchFile{Added: append([]string(nil), m.added...)}
	for n := range m.removed {
		f.Removed = append(f.Removed, n)
	}
	return m.saver.saveCmd(m.statePath, f)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
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
	m.browser.clamp(m.browseRows())
}

// Title names the panel, with the mode it is in.
func (m *Model) Title() string {
	switch m.mode {
	case modeBrowse:
		return "memory · watch a symbol"
	case modeGoto:
		return "memory · go to"
	case modeHex:
		return "memory · hex " + m.hex.where()
	}
	return "memory"
}

// Focus tells the panel whether it has the keyboard.
func (m *Model) Focus(focused bool) {
	m.focused = focused
	if !focused && (m.mode == modeBrowse || m.mode == modeGoto) {
		m.closePrompt()
	}
}

// Capturing is true while the browser or the address prompt is open.
func (m *Model) Capturing() bool { return m.mode == modeBrowse || m.mode == modeGoto }

// KeyBindings lists the keys of the mode the panel is in.
func (m *Model) KeyBindings() []key.Binding {
	k := m.keys
	switch m.mode {
	case modeBrowse:
		return []key.Binding{k.Confirm, k.PrevMatch, k.NextMatch, k.Cancel}
	case modeGoto:
		confirm := k.Confirm
		confirm.SetHelp("enter", "go")
		return []key.Binding{confirm, k.Cancel}
	case modeHex:
		jump := k.Goto
		jump.SetHelp("o", "go to an address or symbol+off")
		return []key.Binding{k.HexUp, k.HexDown, k.Left, k.Right, k.PageUp, k.PageDown, k.Follow, k.Back, jump, k.Space, k.Close}
	}
	return []key.Binding{k.Up, k.Down, k.Browse, k.Remove, k.Open, k.Goto}
}

// closePrompt leaves the browser or the address prompt for the mode
// below it.
func (m *Model) closePrompt() {
	m.prompt.Blur()
	if m.mode == modeGoto && m.hex.open {
		m.mode = modeHex
		return
	}
	m.mode = modeList
}

// trimmed is the prompt's text without surrounding blanks.
func (m *Model) trimmed() string { return strings.TrimSpace(m.prompt.Value()) }
