// Package logview is the dashboard's logs panel: the log history across
// boots and sources (guest console, build output, VM events, ukdev's own
// messages), each line with its time, boot and source.
//
// The panel starts from history (the boot files of the log store and the
// recent lines of the ring, read in a tea.Cmd) and appends the live events
// the root broadcasts. It keeps at most MaxLines lines and MaxBytes bytes.
// It searches (/, n, N), filters lines (&) by a literal or a regexp,
// matching case or not, filters by source (o) and by the level of kernel
// log lines (L), hides timestamps (t), jumps to a boot (b) and saves the
// shown lines to a file in the state directory (ctrl+s).
package logview

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/logs"
	"github.com/ukdev/ukdev/tui/panel"
)

// MaxLines and MaxBytes bound what the panel keeps: lines, and bytes of
// their text (each cut to logs.MaxDisplayLine for display); older lines
// are dropped (they stay in the boot files). The panel trims in steps, so
// it may hold up to an eighth more for a moment.
const (
	MaxLines = 50000
	MaxBytes = 16 << 20
)

// historyBytes bounds how much of the boot files the history load reads.
const historyBytes = 32 << 20

// cloudSources is the source filter that shows the consoles of every
// deployed instance (the sources devloop.CloudSource names).
const cloudSources logs.Source = "cloud"

// sourceMatches reports whether a line of source src passes the source
// filter f.
func sourceMatches(src, f logs.Source) bool {
	return f == "" || src == f || f == cloudSources && strings.HasPrefix(string(src), "cloud:")
}

// nextSource is the cycle of the source filter: all ("") → console →
// syslog → build → vm → ukdev → cloud → all.
func nextSource(s logs.Source) logs.Source {
	switch s {
	case "":
		return logs.SourceConsole
	case logs.SourceConsole:
		return logs.SourceSyslog
	case logs.SourceSyslog:
		return logs.SourceBuild
	case logs.SourceBuild:
		return logs.SourceVM
	case logs.SourceVM:
		return logs.SourceUkdev
	case logs.SourceUkdev:
		return cloudSources
	default:
		return ""
	}
}

// levelSeverity orders the console levels of flavor.ConsoleLine, most severe first: 0 for
// crit up to 4 for debug; -1 for a line without a known level.
func levelSeverity(level string) int {
	switch level {
	case "crit":
		return 0
	case "err":
		return 1
	case "warn":
		return 2
	case "info":
		return 3
	case "debug":
		return 4
	}
	return -1
}

// nextLevel is the cycle of the level filter, as the most verbose level
// shown: all (-1) → crit and err (1) → warn and worse (2) → info and worse
// (3) → all.
func nextLevel(cur int) int {
	switch cur {
	case -1:
		return 1
	case 1:
		return 2
	case 2:
		return 3
	default:
		return -1
	}
}

// levelNames name the level filter in the title.
var levelNames = map[int]string{1: "≥err", 2: "≥warn", 3: "≥info"}

type promptKind int

const (
	promptNone promptKind = iota
	promptSearch
	promptFilter
	promptBoot
)

// Model is the logs panel. Create it with New.
type Model struct {
	deps   panel.Deps
	styles *panel.Styles
	keys   keyMap

	// lines holds the log, oldest first; line i has seq base+i.
	lines    lineStore
	base     uint64
	maxLines int
	bytes    int // text held, as lineBytes counts it
	maxBytes int

	curBoot   int          // the running boot, as vm.start events tell
	maxBoot   int          // the highest boot number held, for the column width
	liveSince time.Time    // time of the first live console or build line
	liveBoots map[int]bool // boots whose console lines came live

	source logs.Source // "" for all
	// maxLevel is the level filter: the most verbose level shown (see
	// levelSeverity), -1 for all lines. When set, lines without a level
	// are hidden.
	maxLevel int
	filter   *pattern
	visible  []uint64 // seqs of the shown lines when filtering; nil shows all

	search   *pattern
	matchSeq uint64 // the line the last n/N landed on; 0 for none

	regex, ignoreCase bool // flags of the search and the filter

	showTime      bool
	width, height int
	scroll        panel.Scroller[uint64] // the top line's seq when not following

	prompt promptKind
	input  textinput.Model

	status string // the outcome of the last action, shown in the title
	// notice is shown whole under the log until the next key: where ctrl+s
	// wrote, a path too long for the title.
	notice  string
	focused bool
}

var _ panel.Panel = (*Model)(nil)

// New returns the logs panel. Call Init to load the history.
func New(d panel.Deps) *Model {
	if d.Styles == nil {
		d.Styles = panel.NewStyles(false)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	in := textinput.New()
	st := textinput.DefaultDarkStyles()
	if !d.Styles.Color {
		st.Focused, st.Blurred = textinput.StyleState{}, textinput.StyleState{}
	}
	st.Cursor.Blink = false
	in.SetStyles(st)
	return &Model{
		deps: d, styles: d.Styles, keys: newKeyMap(),
		base: 1, maxLines: MaxLines, maxBytes: MaxBytes, liveBoots: map[int]bool{}, maxLevel: -1,
		ignoreCase: true, showTime: true,
		input: in,
	}
}

// Init returns the command that reads the history from the log store and
// the ring.
func (m *Model) Init() tea.Cmd {
	store, ring, since := m.deps.Store, m.deps.Ring, m.deps.LiveSince
	if store == nil && ring == nil {
		return nil
	}
	if since.IsZero() {
		since = m.deps.Now()
	}
	lim := historyLimits{lines: m.maxLines, bytes: historyBytes}
	color := m.styles.Color
	return func() tea.Msg { return loadHistory(store, ring, since, lim, color) }
}

// savedMsg reports the outcome of ctrl+s.
type savedMsg struct {
	path  string
	lines int
	err   error
}

// Update handles events, the history, keys and the mouse.
func (m *Model) Update(msg tea.Msg) (panel.Panel, tea.Cmd) {
	switch msg := msg.(type) {
	case panel.EventsMsg:
		m.addEvents(msg)
		return m, nil
	case historyMsg:
		m.addHistory(msg)
		return m, nil
	case savedMsg:
		if msg.err != nil {
			m.status = "save failed"
			m.notice = "save failed: " + msg.err.Error()
		} else {
			m.status = fmt.Sprintf("saved %d lines", msg.lines)
			m.notice = "saved to " + msg.path
		}
		return m, nil
	case tea.KeyPressMsg:
		m.notice = ""
		if m.prompt != promptNone {
			return m, m.promptKey(msg)
		}
		return m, m.key(msg)
	case tea.MouseWheelMsg:
		m.scroll.Wheel(msg, shownRows{m})
		return m, nil
	}
	if m.prompt != promptNone {
		var cmd tea.Cmd
		m.input, cmd = m.input.Update(msg)
		return m, cmd
	}
	return m, nil
}

// addEvents appends live events as lines. Events without a boot belong
// to the boot running at the time.
func (m *Model) addEvents(evs []devloop.Event) {
	for _, e := range evs {
		if e.Type == devloop.TypeVMStart && e.Boot > 0 {
			m.curBoot = e.Boot
		}
		boot := e.Boot
		if boot == 0 {
			boot = m.curBoot
		}
		src := sourceOf(e)
		output := e.Type.HasLine()
		if output && m.liveSince.IsZero() {
			m.liveSince = e.Time
		}
		if e.Type == devloop.TypeVMConsole {
			m.liveBoots[boot] = true
		}
		l := newLine(e.Time, boot, src, eventText(e), output && m.styles.Color)
		if e.Type == devloop.TypeVMConsole {
			l.level = e.Level
		}
		m.appendLine(l)
	}
	m.trim()
}

func (m *Model) appendLine(l line) {
	l.seq = m.base + uint64(m.lines.len())
	m.lines.push(l)
	m.bytes += lineBytes(l)
	m.maxBoot = max(m.maxBoot, l.boot)
	if m.visible != nil && m.passes(l) {
		m.visible = append(m.visible, l.seq)
	}
}

// lineBytes is the memory of a line's text: plain counts only when it is
// not text itself (text without SGR).
func lineBytes(l line) int {
	n := len(l.text)
	if len(l.plain) != len(l.text) {
		n += len(l.plain)
	}
	return n
}

// trim drops the oldest lines once the log is an eighth over one of its
// bounds, down to both bounds, so that the copy of the visible seqs
// happens rarely.
func (m *Model) trim() {
	if m.lines.len() <= m.maxLines+m.maxLines/8 && m.bytes <= m.maxBytes+m.maxBytes/8 {
		return
	}
	m.dropOldest()
	if m.visible != nil {
		i := sort.Search(len(m.visible), func(i int) bool { return m.visible[i] >= m.base })
		m.visible = slices.Clone(m.visible[i:])
	}
}

// dropOldest drops the oldest lines until both bounds hold (the newest
// line always stays).
func (m *Model) dropOldest() {
	drop := max(m.lines.len()-m.maxLines, 0)
	for i := range drop {
		m.bytes -= lineBytes(m.lines.at(i))
	}
	for drop < m.lines.len()-1 && m.bytes > m.maxBytes {
		m.bytes -= lineBytes(m.lines.at(drop))
		drop++
	}
	if drop > 0 {
		m.lines.dropFront(drop)
		m.base += uint64(drop)
	}
}

// addHistory puts the history before the live lines. Ring lines as new as
// the first live line are dropped (the live events carry them), and so
// are boot files of boots that came live.
func (m *Model) addHistory(h historyMsg) {
	if h.err != nil {
		m.status = "history: " + h.err.Error()
	}
	hist := make([]line, 0, len(h.stored)+len(h.recent))
	for _, l := range h.stored {
		if !m.liveBoots[l.boot] {
			hist = append(hist, l)
		}
	}
	for _, l := range h.recent {
		if !m.liveSince.IsZero() && !l.at.Before(m.liveSince) {
			continue
		}
		hist = append(hist, l)
	}
	if len(hist) == 0 {
		return
	}
	// Renumber everything from 1 and carry the positions over.
	shift := func(seq uint64) uint64 {
		if seq == 0 {
			return 0
		}
		return seq - m.base + uint64(len(hist)) + 1
	}
	if !m.scroll.Following() {
		m.scroll.Pin(shift(m.scroll.Pinned()))
	}
	m.matchSeq = shift(m.matchSeq)
	live := m.lines
	m.lines = lineStore{}
	m.base, m.bytes = 1, 0
	add := func(l line) {
		m.lines.push(l)
		m.bytes += lineBytes(l)
		m.maxBoot = max(m.maxBoot, l.boot)
	}
	for _, l := range hist {
		add(l)
	}
	for _, l := range live.all() {
		add(l)
	}
	m.dropOldest()
	m.rebuildVisible()
}

// passes reports whether the source filter, the level filter and the line
// filter show l.
func (m *Model) passes(l line) bool {
	if m.maxLevel >= 0 {
		if sev := levelSeverity(l.level); sev < 0 || sev > m.maxLevel {
			return false
		}
	}
	return sourceMatches(l.source, m.source) && (m.filter == nil || m.filter.match(l.plain))
}

func (m *Model) rebuildVisible() {
	if m.source == "" && m.filter == nil && m.maxLevel < 0 {
		m.visible = nil
		return
	}
	m.visible = []uint64{}
	for i, l := range m.lines.all() {
		if m.passes(l) {
			m.visible = append(m.visible, m.base+uint64(i))
		}
	}
}

// shown is the number of lines shown (after filtering).
func (m *Model) shown() int {
	if m.visible == nil {
		return m.lines.len()
	}
	return len(m.visible)
}

// shownLine returns the i-th shown line.
func (m *Model) shownLine(i int) line {
	if m.visible == nil {
		return m.lineAt(i)
	}
	return m.lineAt(int(m.visible[i] - m.base))
}

// lineAt returns line i of the log, 0 being the oldest held, with its
// seq.
func (m *Model) lineAt(i int) line {
	l := m.lines.at(i)
	l.seq = m.base + uint64(i)
	return l
}

// indexOf returns the index of the first shown line whose seq is at least
// seq.
func (m *Model) indexOf(seq uint64) int {
	if m.visible == nil {
		if seq < m.base {
			return 0
		}
		return min(int(seq-m.base), m.lines.len())
	}
	return sort.Search(len(m.visible), func(i int) bool { return m.visible[i] >= seq })
}

func (m *Model) bodyRows() int {
	rows := m.height - len(m.noticeRows())
	if m.prompt != promptNone {
		rows--
	}
	return max(rows, 0)
}

// noticeRows is the notice wrapped to the width, leaving at least one row
// for the log when the panel has two or more.
func (m *Model) noticeRows() []string {
	if m.notice == "" || m.width <= 0 || m.height <= 0 {
		return nil
	}
	rows := strings.Split(ansi.Hardwrap(m.notice, m.width, true), "\n")
	if most := max(m.height-1, 1); len(rows) > most {
		rows = rows[len(rows)-most:]
	}
	return rows
}

func (m *Model) maxTop() int { return max(m.shown()-m.bodyRows(), 0) }

// top is the index of the first shown line in the view.
func (m *Model) top() int { return min(m.indexOf(m.scroll.Top(shownRows{m})), m.maxTop()) }

// pin puts shown line i at the top and stops following.
func (m *Model) pin(i int) { m.scroll.Pin(m.seqAt(i)) }

// seqAt is the seq of shown line i, kept between 0 and maxTop; with no
// line shown, the seq pinned before.
func (m *Model) seqAt(i int) uint64 {
	if i = max(min(i, m.maxTop()), 0); i < m.shown() {
		return m.shownLine(i).seq
	}
	return m.scroll.Pinned()
}

// shownRows are the shown lines the view scrolls over, named by seq so
// that a pinned view stays on its line while old lines are dropped and
// filters change.
type shownRows struct{ m *Model }

func (r shownRows) First() uint64           { return r.m.seqAt(0) }
func (r shownRows) Bottom() uint64          { return r.m.seqAt(r.m.maxTop()) }
func (r shownRows) Clamp(seq uint64) uint64 { return seq }

// Move pins the shown line n below seq's; the bottom is maxTop, as an
// index, so that scrolling up from it pauses even when every line fits.
func (r shownRows) Move(seq uint64, n int) (uint64, bool) {
	i := min(r.m.indexOf(seq), r.m.maxTop()) + n
	return r.m.seqAt(i), i >= r.m.maxTop()
}

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	m.status = ""
	k := m.keys
	page := max(m.bodyRows(), 1)
	switch {
	case key.Matches(msg, k.Top):
		m.pin(0) // the oldest line stays put as new lines come
	case m.scroll.Key(msg, k.ScrollKeys, shownRows{m}, page, max(page/2, 1)):
		// Scrolled.
	case key.Matches(msg, k.Search):
		return m.openPrompt(promptSearch, "/", m.search)
	case key.Matches(msg, k.Filter):
		return m.openPrompt(promptFilter, "&", m.filter)
	case key.Matches(msg, k.Boot):
		return m.openPrompt(promptBoot, "boot #", nil)
	case key.Matches(msg, k.Next):
		m.jump(1)
	case key.Matches(msg, k.Prev):
		m.jump(-1)
	case key.Matches(msg, k.Clear):
		if m.search != nil {
			m.search, m.matchSeq = nil, 0
		} else if m.filter != nil {
			m.setFilter(nil)
		}
	case key.Matches(msg, k.ToggleCase):
		m.setFlags(m.regex, !m.ignoreCase)
	case key.Matches(msg, k.ToggleRegex):
		m.setFlags(!m.regex, m.ignoreCase)
	case key.Matches(msg, k.Source):
		m.setSource(nextSource(m.source))
	case key.Matches(msg, k.Level):
		m.maxLevel = nextLevel(m.maxLevel)
		m.rebuildVisible()
	case key.Matches(msg, k.Times):
		m.showTime = !m.showTime
	case key.Matches(msg, k.Save):
		return m.save()
	}
	return nil
}

func (m *Model) openPrompt(kind promptKind, prompt string, current *pattern) tea.Cmd {
	m.prompt = kind
	m.input.Prompt = prompt
	m.input.Reset()
	if current != nil {
		m.input.SetValue(current.text)
		m.input.CursorEnd()
	}
	m.sizeInput()
	return m.input.Focus()
}

func (m *Model) closePrompt() {
	m.prompt = promptNone
	m.input.Blur()
}

func (m *Model) promptKey(msg tea.KeyPressMsg) tea.Cmd {
	m.status = ""
	k := m.keys
	switch {
	case key.Matches(msg, k.Cancel):
		m.closePrompt()
	case key.Matches(msg, k.Confirm):
		m.confirm()
	case key.Matches(msg, k.PromptRegex) && m.prompt != promptBoot:
		m.setFlags(!m.regex, m.ignoreCase)
	case key.Matches(msg, k.PromptCase) && m.prompt != promptBoot:
		m.setFlags(m.regex, !m.ignoreCase)
	default:
		var cmd tea.Cmd
		m.input, cmd = m.input.Update(msg)
		return cmd
	}
	return nil
}

// confirm applies the prompt. A pattern that does not compile keeps the
// prompt open with the error in the title.
func (m *Model) confirm() {
	value := m.input.Value()
	switch m.prompt {
	case promptSearch:
		p, err := compilePattern(value, m.regex, m.ignoreCase)
		if err != nil {
			m.status = err.Error()
			return
		}
		m.closePrompt()
		m.search, m.matchSeq = p, 0
		if p != nil {
			m.jump(1)
		}
	case promptFilter:
		p, err := compilePattern(value, m.regex, m.ignoreCase)
		if err != nil {
			m.status = err.Error()
			return
		}
		m.closePrompt()
		m.setFilter(p)
	case promptBoot:
		m.closePrompt()
		n, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(value), "#"))
		if err != nil || n <= 0 {
			m.status = fmt.Sprintf("not a boot number: %q", value)
			return
		}
		m.jumpToBoot(n)
	}
}

// setFlags changes the regexp and case flags and recompiles the search
// and the filter with them. When one no longer compiles (a literal that
// is not a valid regexp), nothing changes and the title says why.
func (m *Model) setFlags(regex, ignoreCase bool) {
	search, err := m.search.with(regex, ignoreCase)
	if err != nil {
		m.status = err.Error()
		return
	}
	filter, err := m.filter.with(regex, ignoreCase)
	if err != nil {
		m.status = err.Error()
		return
	}
	m.regex, m.ignoreCase = regex, ignoreCase
	m.sizeInput() // the prompt's hint names the flags
	m.search = search
	if m.filter != nil {
		m.setFilter(filter)
	}
}

// setFilter changes the line filter, keeping the top line in place.
func (m *Model) setFilter(p *pattern) {
	m.filter = p
	m.rebuildVisible()
}

func (m *Model) setSource(s logs.Source) {
	m.source = s
	m.rebuildVisible()
}

// jump moves to the next (dir 1) or previous (dir -1) shown line that
// matches the search, from the line of the last jump or else the top of
// the view, wrapping around.
func (m *Model) jump(dir int) {
	if m.search == nil {
		m.status = "no search: press /"
		return
	}
	n := m.shown()
	if n == 0 {
		m.status = "no match for " + m.search.String()
		return
	}
	from := m.top()
	if dir > 0 {
		from-- // the top line itself is a candidate
	}
	if m.matchSeq != 0 {
		if i := m.indexOf(m.matchSeq); i < n && m.shownLine(i).seq == m.matchSeq {
			from = i
		}
	}
	for step := 1; step <= n; step++ {
		i := ((from+dir*step)%n + n) % n
		l := m.shownLine(i)
		if !m.search.match(l.plain) {
			continue
		}
		if (dir > 0 && i <= from) || (dir < 0 && i >= from) {
			m.status = "search wrapped"
		}
		m.matchSeq = l.seq
		m.reveal(i)
		return
	}
	m.status = "no match for " + m.search.String()
}

// reveal brings shown line i into the view and stops following, so the
// line stays put while new lines arrive.
func (m *Model) reveal(i int) {
	top := m.top()
	rows := m.bodyRows()
	if i >= top && i < top+rows {
		m.pin(top)
		return
	}
	m.pin(i - rows/3)
}

// jumpToBoot puts the first shown line of boot n at the top.
func (m *Model) jumpToBoot(n int) {
	for i := range m.shown() {
		if m.shownLine(i).boot == n {
			m.pin(i)
			m.status = fmt.Sprintf("boot #%d", n)
			return
		}
	}
	m.status = fmt.Sprintf("no shown lines of boot #%d", n)
}

// save writes the shown lines to ukdev-logs-<time>.txt in the state
// directory, in a tea.Cmd.
func (m *Model) save() tea.Cmd {
	out := make([]line, 0, m.shown())
	for i := range m.shown() {
		out = append(out, m.shownLine(i))
	}
	path := saveName(m.deps.StateDir, m.deps.Now())
	return func() tea.Msg {
		err := writeLines(path, out)
		return savedMsg{path: path, lines: len(out), err: err}
	}
}

// SetSize sets the content size; the scroll position stays.
func (m *Model) SetSize(width, height int) {
	m.width, m.height = max(width, 0), max(height, 0)
	m.sizeInput()
}

// sizeInput fits the prompt row: the prompt, the text, one cell for the
// cursor past the end, a space and the hint.
func (m *Model) sizeInput() {
	m.input.SetWidth(max(m.width-ansi.StringWidth(m.input.Prompt)-ansi.StringWidth(m.promptHint())-2, 1))
}

// Title names the panel with its modes, the shown and total line counts,
// and the outcome of the last action.
func (m *Model) Title() string {
	parts := []string{"logs"}
	if m.source != "" {
		parts = append(parts, string(m.source))
	}
	if m.maxLevel >= 0 {
		parts = append(parts, levelNames[m.maxLevel])
	}
	if m.filter != nil {
		parts = append(parts, "filter "+m.filter.String())
	}
	if m.search != nil {
		parts = append(parts, "search "+m.search.String())
	}
	if m.visible != nil {
		parts = append(parts, fmt.Sprintf("%d/%d", m.shown(), m.lines.len()))
	} else {
		parts = append(parts, strconv.Itoa(m.lines.len()))
	}
	if !m.scroll.Following() {
		parts = append(parts, "paused (G follows)")
	}
	if m.status != "" {
		parts = append(parts, m.status)
	}
	return strings.Join(parts, " · ")
}

// Focus tells the panel whether it has the keyboard.
func (m *Model) Focus(focused bool) { m.focused = focused }

// Capturing reports whether a prompt (search, filter, boot) is open.
func (m *Model) Capturing() bool { return m.prompt != promptNone }

// KeyBindings returns the keys of the open prompt, or the panel's keys.
func (m *Model) KeyBindings() []key.Binding {
	if m.prompt != promptNone {
		return m.keys.promptBindings()
	}
	return m.keys.bindings()
}

// View renders the shown lines, and the prompt on the last row when one
// is open, in exactly the panel's size.
func (m *Model) View() string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	rows := make([]string, 0, m.height)
	top, n := m.top(), m.shown()
	for r := range m.bodyRows() {
		s := ""
		switch i := top + r; {
		case i < n:
			l := m.shownLine(i)
			s = m.renderLine(&l)
		case r == 0 && m.lines.len() == 0:
			s = m.styles.Muted.Render("no log lines yet")
		case r == 0 && m.maxLevel >= 0:
			s = m.styles.Muted.Render("no line shown: L changes the level, esc clears the filter, o the source")
		case r == 0:
			s = m.styles.Muted.Render("no line shown: esc clears the filter, o changes the source")
		}
		rows = append(rows, panel.Fit(s, m.width))
	}
	for _, r := range m.noticeRows() {
		rows = append(rows, panel.Fit(m.styles.Muted.Render(r), m.width))
	}
	if m.prompt != promptNone {
		rows = append(rows, panel.Fit(m.input.View()+" "+m.styles.Muted.Render(m.promptHint()), m.width))
	}
	return strings.Join(rows, "\n")
}

// promptHint says the flags a search or filter prompt will use.
func (m *Model) promptHint() string {
	if m.prompt != promptSearch && m.prompt != promptFilter {
		return ""
	}
	kind, fold := "literal", "match case"
	if m.regex {
		kind = "regexp"
	}
	if m.ignoreCase {
		fold = "ignore case"
	}
	return fmt.Sprintf("[%s, %s · ctrl+r ctrl+t]", kind, fold)
}

// renderLine renders the time, boot and source columns, then the text
// with the matches of the search (or else the filter) highlighted. A line
// with matches is drawn from its plain text: its own colours give way to
// the highlight.
func (m *Model) renderLine(l *line) string {
	var prefix strings.Builder
	if m.showTime {
		if l.at.IsZero() {
			prefix.WriteString(strings.Repeat(" ", len(timeLayout)))
		} else {
			prefix.WriteString(l.at.Format(timeLayout))
		}
		prefix.WriteByte(' ')
	}
	fmt.Fprintf(&prefix, "%-*s %-7s ", m.bootWidth(), bootLabel(l.boot), l.source)
	text := l.text
	pat := m.search
	if pat == nil {
		pat = m.filter
	}
	if pat != nil {
		if spans := pat.spans(l.plain); len(spans) > 0 {
			text = highlight(l.plain, spans, m.styles.Match)
		}
	}
	return m.styles.Muted.Render(prefix.String()) + text
}

// timeLayout is the time column: seconds are what a developer correlates
// by; the saved file has milliseconds.
const timeLayout = "15:04:05"

func bootLabel(boot int) string {
	if boot <= 0 {
		return "-"
	}
	return "#" + strconv.Itoa(boot)
}

func (m *Model) bootWidth() int { return max(len(bootLabel(m.maxBoot)), 3) }

// highlight renders plain with the byte ranges in spans in style.
func highlight(plain string, spans [][]int, style lipgloss.Style) string {
	var b strings.Builder
	at := 0
	for _, s := range spans {
		b.WriteString(plain[at:s[0]])
		b.WriteString(style.Render(plain[s[0]:s[1]]))
		at = s[1]
	}
	b.WriteString(plain[at:])
	return b.String()
}
