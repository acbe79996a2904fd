// Package console is the dashboard's console panel: the live serial console
// of the current boot, with a bounded scrollback, boot separators, wrap or
// horizontal scroll, follow mode, and an input mode that types into the
// guest.
//
// Guest output is untrusted: every line is passed through logs.Sanitize
// before it is stored, keeping only SGR colour sequences (and only when
// colour is on), so the guest cannot move the host's cursor, set its title,
// write its clipboard or query it.
//
// Input mode: i or enter enters it, and then every key goes to the guest as
// the bytes a VT terminal sends (ctrl+c is 0x03 for the guest, not quit).
// esc and ctrl+] leave it. A literal ESC is sent by ctrl+[ on terminals that
// tell it apart from esc (kitty keyboard protocol), and alt+key sends ESC
// followed by the key everywhere, as xterm's meta does.
package console

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/logs"
	"github.com/ukdev/ukdev/tui/panel"
)

const (
	// maxLines and maxBytes bound the scrollback; the oldest lines go first.
	maxLines = 10_000
	maxBytes = 8 << 20
	// maxLineBytes is the most of one line the console keeps (devloop
	// splits the console into pieces of 4 KiB); the rest is cut with a
	// marker saying how much. The boot's log file has the whole line.
	maxLineBytes = 16 << 10
	// maxPendingInput bounds input waiting behind a slow write.
	maxPendingInput = 64 << 10
	// hStep is how far one horizontal scroll moves, in cells.
	hStep = 8
	// wheelStep is how far one mouse wheel notch scrolls, in rows.
	wheelStep = 3
)

// Model is the console panel. It implements panel.Panel; use it through a
// pointer.
type Model struct {
	deps panel.Deps
	keys keyMap
	loc  *time.Location // separator times; time.Local except in tests

	sb            *scrollback
	width, height int

	wrap     bool
	xoff     int                 // first shown column with wrap off
	scroller panel.Scroller[pos] // the top visible row when not following

	focused bool
	input   bool

	boot, build int
	vmState     string // "", "VM paused", "ended: exit 3"

	writing  bool   // a WriteConsole runs
	pending  []byte // input typed while it runs, sent next in order
	writeErr string // the last failed write, shown in the title
}

// writeDoneMsg reports the end of one WriteConsole.
type writeDoneMsg struct{ err error }

// New returns an empty console panel following the newest line, wrapping
// long lines.
func New(d panel.Deps) *Model {
	if d.Styles == nil {
		d.Styles = panel.NewStyles(false)
	}
	return &Model{
		deps: d,
		keys: newKeyMap(),
		loc:  time.Local,
		sb:   newScrollback(maxLines, maxBytes),
		wrap: true,
	}
}

// Init starts nothing: the console fills from the root's event batches.
func (m *Model) Init() tea.Cmd { return nil }

// Update handles event batches, keys, mouse wheel, paste and the end of
// console writes. It costs O(batch size) for an EventsMsg.
func (m *Model) Update(msg tea.Msg) (panel.Panel, tea.Cmd) {
	switch msg := msg.(type) {
	case panel.EventsMsg:
		for i := range msg {
			m.apply(&msg[i])
		}
	case writeDoneMsg:
		m.writing = false
		if msg.err != nil {
			m.writeErr = "input failed: " + oneLine(msg.err.Error())
		} else {
			m.writeErr = ""
		}
		return m, m.flushInput()
	case tea.PasteMsg:
		if m.input {
			return m, m.send([]byte(msg.Content))
		}
	case tea.KeyPressMsg:
		if m.input {
			return m, m.inputKey(msg)
		}
		m.scrollKey(msg)
	case tea.MouseWheelMsg:
		switch msg.Button {
		case tea.MouseWheelUp:
			m.scroll(-wheelStep)
		case tea.MouseWheelDown:
			m.scroll(wheelStep)
		case tea.MouseWheelLeft:
			m.hscroll(-hStep)
		case tea.MouseWheelRight:
			m.hscroll(hStep)
		}
	}
	return m, nil
}

// apply adds one loop event to the scrollback and the panel's state.
func (m *Model) apply(e *devloop.Event) {
	switch e.Type {
	case devloop.TypeVMConsole:
		if e.Boot > m.boot {
			m.boot, m.vmState = e.Boot, ""
		}
		m.sb.push(guestLine, m.guestText(e))
	case devloop.TypeVMStart:
		m.boot, m.build, m.vmState = e.Boot, e.Build, ""
		m.sb.push(markerLine, fmt.Sprintf("boot %d · build %d · %s", e.Boot, e.Build, m.clock(e.Time)))
	case devloop.TypeVMReset:
		m.vmState = ""
		m.sb.push(markerLine, fmt.Sprintf("boot %d reset · build %d · %s", e.Boot, e.Build, m.clock(e.Time)))
	case devloop.TypeVMExit:
		// The boot a reload replaced ends after the new one started: its
		// end would land under the new boot's separator, so only the
		// current boot's end is drawn.
		if e.Boot != m.boot {
			break
		}
		end := exitText(e)
		m.vmState = "ended: " + end
		if d := oneLine(e.Detail); d != "" {
			end += " (" + d + ")"
		}
		m.sb.push(markerLine, fmt.Sprintf("boot %d ended: %s", e.Boot, end))
	case devloop.TypeVMGDB:
		if e.Boot == m.boot {
			m.sb.push(markerLine, fmt.Sprintf("boot %d · gdb stub at %s", e.Boot, e.Address))
		}
	case devloop.TypeVMPaused:
		m.vmState = "VM paused"
	case devloop.TypeVMResumed:
		m.vmState = ""
	case devloop.TypeVMDropped:
		m.sb.push(markerLine, fmt.Sprintf("%d lines not shown (output too fast); they are in the boot log", e.Count))
	}
}

// guestText is what the scrollback keeps of a console line: at most
// maxLineBytes of it, sanitised, tabs expanded, coloured by level, and
// ended by a marker when it was cut.
func (m *Model) guestText(e *devloop.Event) string {
	raw, cut := panel.Clip(e.Line, maxLineBytes)
	text := m.colourByLevel(e.Level, expandTabs(logs.Sanitize(raw, m.deps.Styles.Color)))
	if cut == 0 {
		return text
	}
	if strings.IndexByte(text, 0x1b) >= 0 {
		text += "\x1b[m"
	}
	return text + m.deps.Styles.Muted.Render(panel.ClipMarker(cut))
}

// colourByLevel colours a sanitised console line by the level the flavor
// read from it (devloop.Event.Level): crit and err as errors, warn as a
// warning, debug muted, info and unknown levels as they are. Without
// colour, and for a line the guest coloured itself (Unikraft's
// CONFIG_LIBUKDEBUG_ANSI_COLOR), the text is unchanged.
func (m *Model) colourByLevel(level, text string) string {
	st := m.deps.Styles
	if !st.Color || text == "" || strings.IndexByte(text, 0x1b) >= 0 {
		return text
	}
	switch level {
	case "crit", "err":
		return st.Error.Render(text)
	case "warn":
		return st.Warn.Render(text)
	case "debug":
		return st.Muted.Render(text)
	}
	return text
}

func (m *Model) clock(t time.Time) string { return t.In(m.loc).Format("15:04:05") }

// exitText is how a boot ended, short: "exit 3", "crash", "killed".
func exitText(e *devloop.Event) string {
	s := oneLine(e.Reason)
	if s == "" {
		s = "ended"
	}
	if e.ExitCode != nil {
		s += " " + strconv.Itoa(*e.ExitCode)
	}
	return s
}

// oneLine makes s safe and short for a title or separator: its first line,
// without escape sequences, at most 80 cells.
func oneLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return ansi.Truncate(strings.TrimSpace(logs.Sanitize(s, false)), 80, "…")
}

// scrollKey handles a key outside input mode.
func (m *Model) scrollKey(msg tea.KeyPressMsg) {
	half := max(m.height/2, 1)
	page := max(m.height-1, 1)
	switch k := m.keys; {
	case key.Matches(msg, k.Input):
		m.input = true
	case key.Matches(msg, k.Bottom):
		m.scroller.Follow()
	case !m.sb.empty() && m.scroller.Key(msg, k.ScrollKeys, m.rows(), page, half):
		// Scrolled; with nothing to show, the scroll keys do nothing.
	case key.Matches(msg, k.Wrap):
		m.toggleWrap()
	case key.Matches(msg, k.Left):
		m.hscroll(-hStep)
	case key.Matches(msg, k.Right):
		m.hscroll(hStep)
	}
}

// inputKey handles a key in input mode: esc and ctrl+] leave it, every
// other key goes to the guest.
func (m *Model) inputKey(msg tea.KeyPressMsg) tea.Cmd {
	if msg.Code == tea.KeyEscape || key.Matches(msg, m.keys.Leave) {
		m.input = false
		return nil
	}
	b, ok := keyBytes(msg.Key())
	if !ok {
		return nil
	}
	return m.send(b)
}

// send queues p for the guest. Writes run one at a time, in order, in a
// tea.Cmd, because WriteConsole may block; what is typed meanwhile is sent
// together by the next write.
func (m *Model) send(p []byte) tea.Cmd {
	if len(m.pending)+len(p) > maxPendingInput {
		m.writeErr = "input dropped: the guest is not reading"
		return nil
	}
	m.pending = append(m.pending, p...)
	return m.flushInput()
}

// flushInput starts a write of the pending input unless one runs.
func (m *Model) flushInput() tea.Cmd {
	if m.writing || len(m.pending) == 0 {
		return nil
	}
	ctrl := m.deps.Control
	if ctrl == nil {
		m.pending = nil
		m.writeErr = "input failed: no console to write to"
		return nil
	}
	p := m.pending
	m.pending = nil
	m.writing = true
	return func() tea.Msg { return writeDoneMsg{err: ctrl.WriteConsole(p)} }
}

func (m *Model) layout() layout {
	return layout{sb: m.sb, width: max(m.width, 1), wrap: m.wrap}
}

// rows are the rows the view scrolls over, for a screen of m.height.
func (m *Model) rows() scrollRows { return scrollRows{m.layout(), max(m.height, 1)} }

// topPos is the top visible row now.
func (m *Model) topPos() pos { return m.scroller.Top(m.rows()) }

// scroll moves the view delta rows (negative: towards older lines).
// Scrolling up pauses following; reaching the bottom resumes it.
func (m *Model) scroll(delta int) {
	if m.sb.empty() || delta == 0 {
		return
	}
	m.scroller.ScrollBy(m.rows(), delta)
}

// scrollRows are the wrapped rows of the scrollback, as a Scroller moves
// over them: at the bottom the newest row is on the last of height rows,
// and when everything fits the view follows.
type scrollRows struct {
	lo     layout
	height int
}

func (r scrollRows) First() pos      { return pos{seq: r.lo.sb.first} }
func (r scrollRows) Bottom() pos     { return r.lo.bottomTop(r.height) }
func (r scrollRows) Clamp(p pos) pos { return r.lo.clamp(p) }

func (r scrollRows) Move(p pos, n int) (pos, bool) {
	if n < 0 {
		p = r.lo.up(p, -n)
	} else {
		p = r.lo.down(p, n)
	}
	return p, !p.before(r.Bottom())
}

func (m *Model) toggleWrap() {
	if !m.scroller.Following() {
		p := m.scroller.Pinned()
		p.row = 0
		m.scroller.Pin(p)
	}
	m.wrap = !m.wrap
	m.xoff = 0
}

// hscroll moves the view sideways, with wrap off, no further than the
// widest visible line allows.
func (m *Model) hscroll(delta int) {
	if m.wrap {
		return
	}
	limit := max(m.widestVisible()-m.width, 0)
	m.xoff = min(max(m.xoff+delta, 0), limit)
}

func (m *Model) widestVisible() int {
	widest := 0
	if m.sb.empty() {
		return 0
	}
	p := m.topPos()
	for i := 0; i < m.height && p.seq <= m.sb.last(); i, p.seq = i+1, p.seq+1 {
		if l := m.sb.at(p.seq); l.kind == guestLine {
			widest = max(widest, ansi.StringWidth(l.text))
		}
	}
	return widest
}

// SetSize sets the content size. A paused view keeps its top line; within a
// wrapped line it keeps about the same text at the top.
func (m *Model) SetSize(width, height int) {
	if !m.scroller.Following() && m.wrap && m.width > 0 && width > 0 && width != m.width {
		p := m.scroller.Pinned()
		p.row = p.row * m.width / width
		m.scroller.Pin(p)
	}
	m.width, m.height = max(width, 0), max(height, 0)
}

// Focus tells the panel whether it has the keyboard; losing it leaves
// input mode.
func (m *Model) Focus(focused bool) {
	m.focused = focused
	if !focused {
		m.input = false
	}
}

// Capturing reports whether input mode is on: every key then goes to the
// guest, and the root's global keys do not fire.
func (m *Model) Capturing() bool { return m.input }

// Title names the panel with the boot, its state and the panel's modes:
// "console · boot 7 · INPUT (esc to leave) · paused at 120/4000 (G follows)".
func (m *Model) Title() string {
	parts := []string{"console"}
	if m.boot > 0 {
		b := "boot " + strconv.Itoa(m.boot)
		if m.vmState != "" {
			b += " (" + m.vmState + ")"
		}
		parts = append(parts, b)
	}
	if m.input {
		parts = append(parts, "INPUT (esc to leave)")
	}
	if !m.scroller.Following() && !m.sb.empty() {
		p := m.layout().clamp(m.scroller.Pinned())
		parts = append(parts, fmt.Sprintf("paused at %d/%d (G follows)", p.seq-m.sb.first+1, m.sb.n))
	}
	if !m.wrap {
		s := "nowrap"
		if m.xoff > 0 {
			s += " +" + strconv.Itoa(m.xoff)
		}
		parts = append(parts, s)
	}
	if m.writeErr != "" {
		parts = append(parts, m.writeErr)
	}
	return strings.Join(parts, " · ")
}

// KeyBindings lists the keys of the current mode: in input mode how to leave
// it, otherwise scrolling, wrap and input.
func (m *Model) KeyBindings() []key.Binding {
	k := m.keys
	if m.input {
		return []key.Binding{k.Leave, k.SendEsc}
	}
	k.Left.SetEnabled(!m.wrap)
	k.Right.SetEnabled(!m.wrap)
	return []key.Binding{k.Input, k.Up, k.Down, k.PageUp, k.PageDown, k.HalfUp, k.HalfDown,
		k.Top, k.Bottom, k.Wrap, k.Left, k.Right}
}
