// Package buildview is the dashboard's build panel: the output of the
// current or last build, its result, and a failed build pinned at the top
// until a later build succeeds. Compiler locations (file:line:col) are
// highlighted; j/k select them and enter opens $EDITOR there, with the
// dashboard suspended meanwhile.
package buildview

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/logs"
	"github.com/ukdev/ukdev/tui/panel"
)

// MaxLines is the most output lines of one build the panel keeps; the
// oldest are dropped first.
const MaxLines = 10000

const (
	// maxBytes bounds the text the panel keeps, however long the lines:
	// the oldest lines are dropped first.
	maxBytes = 8 << 20
	// maxLineBytes is the most of one line the panel keeps, far more than
	// a row shows (the panel has no horizontal scroll); the rest is cut
	// with a marker saying how much.
	maxLineBytes = 4 << 10
	// lineOverhead is what a line costs beside its text, counted in the
	// byte bound so that many empty lines count too.
	lineOverhead = 64
)

type state int

const (
	stateNone state = iota
	stateRunning
	stateOK
	stateFailed
	stateCanceled
)

type lineKind int

const (
	kindOutput  lineKind = iota
	kindCommand          // the build command, first
	kindOK               // the result of a good build, last
	kindFailed           // the result of a failed or canceled build, last
)

// outLine is one line of the panel: text is sanitized (SGR kept only with
// colour), plain is text without SGR, what locations are parsed from; cut
// is how many bytes of a very long line were left out.
type outLine struct {
	kind        lineKind
	text, plain string
	locs        []location
	cut         int
}

// size is what the line counts against the panel's byte bound.
func (l *outLine) size() int {
	n := lineOverhead + len(l.text)
	if l.plain != l.text {
		n += len(l.plain)
	}
	return n
}

// Model is the build panel. Create it with New.
type Model struct {
	styles *panel.Styles
	keys   keyMap

	build      int
	state      state
	exitCode   *int
	durationMS *float64
	// pinned is the message of the last failed build, shown above the
	// output until a build succeeds.
	pinned string

	lines []outLine
	bytes int // the size of lines, at most maxBytes after each batch

	sel    int // index in lines of the selected location line; -1 for none
	scroll panel.Scroller[int]

	width, height int
	status        string
	focused       bool

	// dir is where relative paths in the output are resolved; "" is the
	// working directory.
	dir    string
	getenv func(string) string
}

var _ panel.Panel = (*Model)(nil)

// New returns the build panel.
func New(d panel.Deps) *Model {
	if d.Styles == nil {
		d.Styles = panel.NewStyles(false)
	}
	return &Model{styles: d.Styles, keys: newKeyMap(), sel: -1, getenv: os.Getenv}
}

// SetDir sets the directory the build runs in, against which relative
// paths in its output are resolved. Without it they are resolved against
// the working directory of ukdev.
func (m *Model) SetDir(dir string) { m.dir = dir }

// Init has nothing to load: the panel follows the live build events.
func (m *Model) Init() tea.Cmd { return nil }

// editorMsg carries the command line that opens the editor, once the file
// and the editor were found.
type editorMsg struct{ argv []string }

// editorDoneMsg reports that the editor could not start, or ended.
type editorDoneMsg struct{ err error }

// Update handles build events, keys and the mouse.
func (m *Model) Update(msg tea.Msg) (panel.Panel, tea.Cmd) {
	switch msg := msg.(type) {
	case panel.EventsMsg:
		for _, e := range msg {
			m.event(e)
		}
		m.trim()
	case tea.KeyPressMsg:
		return m, m.key(msg)
	case tea.MouseWheelMsg:
		m.scroll.Wheel(msg, m.rows())
	case editorMsg:
		c := exec.Command(msg.argv[0], msg.argv[1:]...)
		return m, tea.ExecProcess(c, func(err error) tea.Msg { return editorDoneMsg{err: err} })
	case editorDoneMsg:
		if msg.err != nil {
			m.status = "editor: " + msg.err.Error()
		}
	}
	return m, nil
}

func (m *Model) event(e devloop.Event) {
	switch e.Type {
	case devloop.TypeBuildStart:
		m.start(e.Build)
		if e.Command != "" {
			text := logs.Sanitize("$ "+e.Command, false)
			m.add(outLine{kind: kindCommand, text: text, plain: text})
		}
	case devloop.TypeBuildOutput:
		if e.Build != m.build {
			// The panel started during this build.
			m.start(e.Build)
		}
		m.appendOutput(e.Line)
	case devloop.TypeBuildDone:
		if e.Build != m.build {
			m.start(e.Build)
		}
		m.exitCode, m.durationMS = e.ExitCode, e.DurationMS
		text := logs.Sanitize(e.Message, false)
		if e.OK != nil && *e.OK {
			m.state, m.pinned = stateOK, ""
			m.add(outLine{kind: kindOK, text: text, plain: text})
		} else {
			m.state, m.pinned = stateFailed, text
			m.add(outLine{kind: kindFailed, text: text, plain: text})
		}
	case devloop.TypeBuildCanceled:
		if e.Build == m.build {
			m.state = stateCanceled
			text := logs.Sanitize(e.Message, false)
			m.add(outLine{kind: kindFailed, text: text, plain: text})
		}
	}
}

// start clears the output for build n; a pinned failure stays.
func (m *Model) start(n int) {
	m.build, m.state = n, stateRunning
	m.exitCode, m.durationMS = nil, nil
	m.lines, m.bytes = nil, 0
	m.sel, m.scroll = -1, panel.Scroller[int]{}
	m.status = ""
}

// appendOutput adds a line of build output, cut to maxLineBytes: the
// panel never sanitises, stores or shows more of a line than that.
func (m *Model) appendOutput(raw string) {
	raw, cut := panel.Clip(raw, maxLineBytes)
	text := strings.ReplaceAll(logs.Sanitize(raw, m.styles.Color), "\t", "    ")
	plain := text
	if strings.IndexByte(text, 0x1b) >= 0 {
		plain = ansi.Strip(text)
	}
	m.add(outLine{kind: kindOutput, text: text, plain: plain, locs: parseLocations(plain), cut: cut})
}

// add appends a line and counts its size.
func (m *Model) add(l outLine) {
	m.lines = append(m.lines, l)
	m.bytes += l.size()
}

// trim drops the oldest lines once the output is an eighth over its line
// bound or over its byte bound, down to the line bound and an eighth
// under the byte bound, moving the selection and the scroll position with
// them. The kept lines move to a new array, so the old one is freed.
func (m *Model) trim() {
	if len(m.lines) <= MaxLines+MaxLines/8 && m.bytes <= maxBytes {
		return
	}
	drop := max(len(m.lines)-MaxLines, 0)
	for i := range drop {
		m.bytes -= m.lines[i].size()
	}
	for drop < len(m.lines)-1 && m.bytes > maxBytes-maxBytes/8 {
		m.bytes -= m.lines[drop].size()
		drop++
	}
	m.lines = slices.Clone(m.lines[drop:])
	if !m.scroll.Following() {
		m.scroll.Pin(max(m.scroll.Pinned()-drop, 0))
	}
	if m.sel >= 0 {
		m.sel -= drop
		if m.sel < 0 {
			m.sel = -1
		}
	}
}

func (m *Model) bodyRows() int {
	if m.pinned != "" {
		return max(m.height-1, 0)
	}
	return m.height
}

func (m *Model) maxTop() int { return max(len(m.lines)-m.bodyRows(), 0) }

// rows are the lines the view scrolls over.
func (m *Model) rows() panel.IndexRows { return panel.IndexRows{MaxTop: m.maxTop()} }

func (m *Model) topLine() int { return m.scroll.Top(m.rows()) }

func (m *Model) scrollTo(i int) { m.scroll.ScrollTo(m.rows(), i) }

func (m *Model) scrollBy(n int) { m.scroll.ScrollBy(m.rows(), n) }

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	m.status = ""
	k := m.keys
	page := max(m.bodyRows(), 1)
	switch {
	case key.Matches(msg, k.Up):
		m.moveSelection(-1)
	case key.Matches(msg, k.Down):
		m.moveSelection(1)
	case key.Matches(msg, k.Open):
		return m.open()
	default:
		m.scroll.Key(msg, k.ScrollKeys, m.rows(), page, max(page/2, 1))
	}
	return nil
}

// moveSelection selects the next (dir 1) or previous (dir -1) line with a
// location and scrolls to it. Without any location it scrolls a line.
func (m *Model) moveSelection(dir int) {
	i := m.sel
	if i < 0 && dir < 0 {
		i = len(m.lines)
	}
	for i += dir; i >= 0 && i < len(m.lines); i += dir {
		if len(m.lines[i].locs) > 0 {
			m.sel = i
			m.reveal(i)
			return
		}
	}
	if !m.hasLocations() {
		m.scrollBy(dir)
	}
}

func (m *Model) hasLocations() bool {
	for _, l := range m.lines {
		if len(l.locs) > 0 {
			return true
		}
	}
	return false
}

// reveal scrolls just enough to show line i.
func (m *Model) reveal(i int) {
	top, rows := m.topLine(), max(m.bodyRows(), 1)
	switch {
	case i < top:
		m.scrollTo(i)
	case i >= top+rows:
		m.scrollTo(i - rows + 1)
	}
}

// open starts the editor on the selected location: a tea.Cmd checks that
// the file and the editor exist, then editorMsg runs it through
// tea.ExecProcess, which suspends the dashboard until the editor quits.
func (m *Model) open() tea.Cmd {
	if m.sel < 0 || m.sel >= len(m.lines) {
		m.status = "no location selected: j/k select one"
		return nil
	}
	loc := m.lines[m.sel].locs[0]
	file := loc.file
	if !filepath.IsAbs(file) && m.dir != "" {
		file = filepath.Join(m.dir, file)
	}
	argv := panel.EditorArgv(m.getenv("EDITOR"), file, loc.line, loc.col)
	return func() tea.Msg {
		if _, err := os.Stat(file); err != nil {
			return editorDoneMsg{err: fmt.Errorf("open %s: %w", loc, err)}
		}
		if _, err := exec.LookPath(argv[0]); err != nil {
			return editorDoneMsg{err: err}
		}
		return editorMsg{argv: argv}
	}
}

// SetSize sets the content size.
func (m *Model) SetSize(width, height int) {
	m.width, m.height = max(width, 0), max(height, 0)
}

// Title names the build and its state, and the outcome of the last
// action.
func (m *Model) Title() string {
	var s string
	switch m.state {
	case stateNone:
		s = "build · none yet"
	case stateRunning:
		s = fmt.Sprintf("build #%d · running", m.build)
	case stateOK:
		s = fmt.Sprintf("build #%d · ok", m.build)
		if m.durationMS != nil {
			s += " in " + panel.FormatMS(*m.durationMS)
		}
	case stateFailed:
		s = fmt.Sprintf("build #%d · failed", m.build)
		if m.exitCode != nil {
			s += " (exit " + strconv.Itoa(*m.exitCode) + ")"
		}
	case stateCanceled:
		s = fmt.Sprintf("build #%d · canceled", m.build)
	}
	if !m.scroll.Following() {
		s += " · paused (G follows)"
	}
	if m.status != "" {
		s += " · " + m.status
	}
	return s
}

// Focus tells the panel whether it has the keyboard.
func (m *Model) Focus(focused bool) { m.focused = focused }

// Capturing is always false: the panel has no text input.
func (m *Model) Capturing() bool { return false }

// KeyBindings returns the panel's keys.
func (m *Model) KeyBindings() []key.Binding { return m.keys.bindings() }

// View renders the pinned failure, then the output, in exactly the
// panel's size.
func (m *Model) View() string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	rows := make([]string, 0, m.height)
	if m.pinned != "" {
		rows = append(rows, panel.Fit(m.styles.Error.Render(ansi.Truncate(m.pinned, m.width, "…")), m.width))
	}
	top := m.topLine()
	for r := range m.bodyRows() {
		i := top + r
		s := ""
		switch {
		case i < len(m.lines):
			s = m.renderLine(i)
			if cut := m.lines[i].cut; cut > 0 {
				s = withMarker(s, m.width, m.styles.Muted.Render(panel.ClipMarker(cut)))
			}
		case r == 0 && m.state == stateNone:
			s = m.styles.Muted.Render("no build yet")
		}
		rows = append(rows, panel.Fit(s, m.width))
	}
	return strings.Join(rows, "\n")
}

func (m *Model) renderLine(i int) string {
	l := m.lines[i]
	switch {
	case i == m.sel:
		return m.styles.Selected.Render(panel.Fit(l.plain, m.width))
	case l.kind == kindCommand:
		return m.styles.Muted.Render(l.text)
	case l.kind == kindOK:
		return m.styles.OK.Render(l.text)
	case l.kind == kindFailed:
		return m.styles.Error.Render(l.text)
	case len(l.locs) > 0:
		return highlight(l.plain, l.locs, m.styles.Location)
	}
	return l.text
}

// highlight renders plain with its locations in style.
func highlight(plain string, locs []location, style lipgloss.Style) string {
	var b strings.Builder
	at := 0
	for _, l := range locs {
		if l.start < at {
			continue
		}
		b.WriteString(plain[at:l.start])
		b.WriteString(style.Render(plain[l.start:l.end]))
		at = l.end
	}
	b.WriteString(plain[at:])
	return b.String()
}

// withMarker ends the row s, width cells at most, with marker: the row
// says that its line was cut.
func withMarker(s string, width int, marker string) string {
	s = ansi.Truncate(s, max(width-ansi.StringWidth(marker), 0), "")
	if strings.IndexByte(s, 0x1b) >= 0 {
		s += "\x1b[m"
	}
	return s + marker
}
