// Package crashview is the dashboard's crash view, shown over the panels
// when a boot ends in a crash, a panic or a frozen machine: why it ended
// (the loop's vm.exit and vm.crash events), vCPU 0's registers, the
// instructions around the faulting PC, the stack words that point into
// code, and the flavor's own report, every code address symbolised to
// function+offset (file:line). enter on a frame opens $EDITOR there; D
// writes a core file of the frozen guest and shows the gdb command that
// opens it; esc closes the view, and the dashboard's c reopens it while
// the machine stays frozen.
//
// The view reads the machine only through panel.Inspector and
// panel.CoreDumper, inside tea.Cmds.
package crashview

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/guestexit"
	"github.com/ukdev/ukdev/tui/panel"
)

// dumpTimeout bounds writing a core: QEMU writes about 0.5 GiB/s here.
const dumpTimeout = 2 * time.Minute

// keyMap holds the view's keys.
type keyMap struct {
	Up, Down, PageUp, PageDown, Open, Dump, Close key.Binding
}

func newKeyMap() keyMap {
	return keyMap{
		Up:       key.NewBinding(key.WithKeys("k", "up"), key.WithHelp("k/↑", "previous frame")),
		Down:     key.NewBinding(key.WithKeys("j", "down"), key.WithHelp("j/↓", "next frame")),
		PageUp:   key.NewBinding(key.WithKeys("pgup", "ctrl+b"), key.WithHelp("pgup", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "ctrl+f", "space"), key.WithHelp("pgdn", "page down")),
		Open:     key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open in $EDITOR")),
		Dump:     key.NewBinding(key.WithKeys("D"), key.WithHelp("D", "write a core file")),
		Close:    key.NewBinding(key.WithKeys("esc", "q"), key.WithHelp("esc", "close")),
	}
}

// crashed is the boot that ended abnormally, as the events said.
type crashed struct {
	boot, build    int
	reason, detail string   // vm.exit's
	summary        string   // vm.crash's, "" when the console had no report
	frames         []string // vm.crash's, symbolised by the flavor
	ended          bool     // its vm.exit came
}

// Model is the crash view. It implements panel.Panel; the root shows it
// over the panels while Active.
type Model struct {
	deps   panel.Deps
	in     panel.Inspector
	styles *panel.Styles
	keys   keyMap
	getenv func(string) string

	width, height int
	open          bool
	// openOnLoad: open once the snapshot shows the machine is still
	// there (a QEMU error may or may not leave one).
	openOnLoad bool

	crash   crashed
	snap    *snapshot // nil until read
	loading bool
	sel     int // the selected location, among the rows that have one
	top     int // the first row shown

	dumping bool
	core    *devloop.CoreDump
	coreErr string
	status  string // what the editor came to
}

// New returns the closed crash view over in, the machine's inspection.
func New(d panel.Deps, in panel.Inspector) *Model {
	if d.Styles == nil {
		d.Styles = panel.NewStyles(false)
	}
	if d.Context == nil {
		d.Context = context.Background()
	}
	return &Model{deps: d, in: in, styles: d.Styles, keys: newKeyMap(), getenv: os.Getenv}
}

// Active reports whether the view is open: the root then shows it and
// gives it every key.
func (m *Model) Active() bool { return m.open }

// CanOpen reports whether there is a crashed boot to show: one ended
// abnormally and no boot or reset has come since.
func (m *Model) CanOpen() bool { return m.crash.ended }

// Open opens the view on the last crashed boot and reads its machine
// again. It does nothing when there is none (CanOpen) or the view is
// open.
func (m *Model) Open() tea.Cmd {
	if m.open || !m.CanOpen() {
		return nil
	}
	m.open, m.top, m.sel, m.status = true, 0, 0, ""
	return m.reload()
}

// reload reads the crashed boot's machine.
func (m *Model) reload() tea.Cmd {
	if m.in == nil {
		s := snapshot{boot: m.crash.boot, regsErr: fmt.Errorf("this dashboard cannot inspect the VM")}
		m.snap = &s
		return nil
	}
	m.loading = true
	return load(m.deps.Context, m.in, m.crash.boot)
}

// Init implements panel.Panel.
func (m *Model) Init() tea.Cmd { return nil }

// editorMsg carries the command line that opens the editor.
type editorMsg struct{ argv []string }

// editorDoneMsg reports that the editor could not start, or ended.
type editorDoneMsg struct{ err error }

// coreMsg carries the result of D.
type coreMsg struct {
	boot int
	core devloop.CoreDump
	err  error
}

// Update implements panel.Panel.
func (m *Model) Update(msg tea.Msg) (panel.Panel, tea.Cmd) {
	switch msg := msg.(type) {
	case panel.EventsMsg:
		var cmd tea.Cmd
		for _, e := range msg {
			if c := m.apply(e); c != nil {
				cmd = c
			}
		}
		return m, cmd
	case snapshotMsg:
		if msg.boot != m.crash.boot || !m.crash.ended {
			return m, nil // an older boot's
		}
		s := snapshot(msg)
		m.snap, m.loading = &s, false
		if m.openOnLoad && s.live {
			m.open, m.top, m.sel = true, 0, 0
		}
		m.openOnLoad = false
		m.sel = min(m.sel, max(len(m.targets())-1, 0))
	case coreMsg:
		if msg.boot != m.crash.boot {
			return m, nil
		}
		m.dumping = false
		if msg.err != nil {
			m.core, m.coreErr = nil, msg.err.Error()
		} else {
			m.core, m.coreErr = &msg.core, ""
		}
		m.scrollToEnd()
	case tea.KeyPressMsg:
		if m.open {
			return m, m.key(msg)
		}
	case editorMsg:
		c := exec.Command(msg.argv[0], msg.argv[1:]...)
		return m, tea.ExecProcess(c, func(err error) tea.Msg { return editorDoneMsg{err: err} })
	case editorDoneMsg:
		m.status = ""
		if msg.err != nil {
			m.status = "editor: " + msg.err.Error()
		}
	}
	return m, nil
}

// apply follows one event: a crashed boot's end opens the view; a new
// boot or a reset closes it, its machine gone.
func (m *Model) apply(e devloop.Event) tea.Cmd {
	switch e.Type {
	case devloop.TypeVMStart, devloop.TypeVMReset:
		m.crash, m.snap, m.core, m.coreErr = crashed{}, nil, nil, ""
		m.open, m.openOnLoad, m.loading, m.dumping = false, false, false, false
	case devloop.TypeVMCrash:
		if m.crash.boot != e.Boot {
			m.crash = crashed{boot: e.Boot, build: e.Build}
		}
		m.crash.summary, m.crash.frames = e.Detail, e.Frames
	case devloop.TypeVMExit:
		if !e.Crashed() {
			return nil
		}
		if m.crash.boot != e.Boot {
			m.crash = crashed{boot: e.Boot, build: e.Build}
		}
		m.crash.reason, m.crash.detail, m.crash.ended = e.Reason, e.Detail, true
		m.snap, m.core, m.coreErr, m.top, m.sel, m.status = nil, nil, "", 0, 0, ""
		switch guestexit.Reason(e.Reason) {
		case guestexit.ReasonCrash, guestexit.ReasonPanic:
			// The machine stays, frozen for inspection.
			m.open = true
		default:
			// QEMU failed: show the view only if its machine is left.
			m.openOnLoad = !m.open
		}
		return m.reload()
	}
	return nil
}

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	switch {
	case key.Matches(msg, k.Close):
		m.open = false
	case key.Matches(msg, k.Up):
		m.moveSelection(-1)
	case key.Matches(msg, k.Down):
		m.moveSelection(1)
	case key.Matches(msg, k.PageUp):
		m.top = max(m.top-m.bodyHeight(), 0)
	case key.Matches(msg, k.PageDown):
		m.top = min(m.top+m.bodyHeight(), m.maxTop())
	case key.Matches(msg, k.Open):
		return m.openEditor()
	case key.Matches(msg, k.Dump):
		return m.dump()
	}
	return nil
}

// moveSelection selects the next (dir 1) or previous (dir -1) location
// and scrolls it into view.
func (m *Model) moveSelection(dir int) {
	t := m.targets()
	if len(t) == 0 {
		return
	}
	m.sel = min(max(m.sel+dir, 0), len(t)-1)
	row := t[m.sel].row
	h := m.bodyHeight()
	switch {
	case row < m.top:
		m.top = row
	case row >= m.top+h:
		m.top = row - h + 1
	}
}

// scrollToEnd shows the last rows (the core's path and gdb command).
func (m *Model) scrollToEnd() { m.top = m.maxTop() }

// dump writes the core (D).
func (m *Model) dump() tea.Cmd {
	if m.dumping {
		return nil
	}
	c := m.deps.Core
	if c == nil {
		m.coreErr = "this dashboard cannot write core files"
		m.scrollToEnd()
		return nil
	}
	m.dumping, m.core, m.coreErr = true, nil, ""
	m.scrollToEnd()
	boot, ctx := m.crash.boot, m.deps.Context
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, dumpTimeout)
		defer cancel()
		core, err := c.DumpCore(ctx)
		return coreMsg{boot: boot, core: core, err: err}
	}
}

// openEditor starts $EDITOR at the selected location: a tea.Cmd checks
// that the file and the editor exist, then editorMsg runs it through
// tea.ExecProcess, which suspends the dashboard until the editor quits.
func (m *Model) openEditor() tea.Cmd {
	t := m.targets()
	if m.sel >= len(t) {
		m.status = "no frame with a source line to open"
		return nil
	}
	file, line := t[m.sel].file, t[m.sel].line
	argv := panel.EditorArgv(m.getenv("EDITOR"), file, line, 0)
	return func() tea.Msg {
		if _, err := os.Stat(file); err != nil {
			return editorDoneMsg{err: fmt.Errorf("open %s:%d: %w", file, line, err)}
		}
		if _, err := exec.LookPath(argv[0]); err != nil {
			return editorDoneMsg{err: err}
		}
		return editorMsg{argv: argv}
	}
}

// frameLoc matches the source location a flavor's frame ends with:
// "main.crash+0x12 (/src/main.go:12)".
var frameLoc = regexp.MustCompile(`\(([^()\s]+):(\d+)\)\s*$`)

// reportLoc returns the file and line of a report frame, if it has one.
func reportLoc(frame string) (string, int, bool) {
	sm := frameLoc.FindStringSubmatch(frame)
	if sm == nil {
		return "", 0, false
	}
	n, err := strconv.Atoi(sm[2])
	if err != nil || n <= 0 {
		return "", 0, false
	}
	return filepath.Clean(sm[1]), n, true
}

// SetSize implements panel.Panel.
func (m *Model) SetSize(w, h int) {
	m.width, m.height = w, h
	m.top = min(m.top, m.maxTop())
}

// Title implements panel.Panel.
func (m *Model) Title() string {
	if m.crash.boot == 0 {
		return "crash"
	}
	return fmt.Sprintf("crash · boot #%d", m.crash.boot)
}

// Focus implements panel.Panel; the view has the keyboard while open.
func (m *Model) Focus(bool) {}

// Capturing implements panel.Panel: while open the view takes every key.
func (m *Model) Capturing() bool { return m.open }

// KeyBindings implements panel.Panel: D first, which the footer of a
// narrow terminal still shows.
func (m *Model) KeyBindings() []key.Binding {
	k := m.keys
	return []key.Binding{k.Dump, k.Open, k.Close, k.Down, k.Up, k.PageDown}
}
