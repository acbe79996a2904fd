// Package vmsview is the dashboard's VMs panel: every VM that ukdev runs
// on this machine, all projects, listed live (state, boot, uptime, accel,
// QEMU's CPU and memory, ports, the owning ukdev, whether a dashboard
// shows it), with this dashboard's own VM marked. Keys act on the selected
// VM: attach to it (this dashboard suspends until that one detaches),
// pause or resume, reboot, stop after a y/n confirmation.
//
// The panel gets its data through a Source; it lists only while it is on
// screen, at most once a tick.
package vmsview

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/ukdev/ukdev/logs"
	"github.com/ukdev/ukdev/tui/panel"
)

// Row is one listed VM.
type Row = panel.VMRow

// Action is what the panel asks of a listed VM.
type Action = panel.VMAction

// The actions on a listed VM.
const (
	Pause  = panel.VMPause
	Resume = panel.VMResume
	Reboot = panel.VMReboot
	Stop   = panel.VMStop
)

// Source lists the VMs of this machine and acts on them.
type Source = panel.VMSource

const (
	// listTimeout bounds one listing: a ukdev that does not answer must
	// not hold the next ones back.
	listTimeout = 5 * time.Second
	// actTimeout bounds one action; stopping a VM may take a few seconds.
	actTimeout = 30 * time.Second
)

// listMsg is the result of one listing.
type listMsg struct {
	rows []Row
	err  error
}

// actMsg is the result of an action on a VM.
type actMsg struct {
	project string
	action  Action
	err     error
}

// attachDoneMsg reports that the attached session ended, or could not
// start.
type attachDoneMsg struct {
	project string
	err     error
}

// noteKind is how the panel shows its last note.
type noteKind int

const (
	noteInfo noteKind = iota
	noteOK
	noteError
)

// Model is the VMs panel. Create it with New.
type Model struct {
	styles *panel.Styles
	keys   keyMap
	src    Source
	ctx    context.Context

	rows    []Row
	listed  bool  // a listing has succeeded
	listErr error // the last listing's error; the rows are the last good ones
	sel     int   // index in rows of the selected VM
	// selProject keeps the selection on the same VM when a listing
	// reorders the rows or drops others.
	selProject string
	top        int // the first row shown

	visible  bool
	inflight bool // a listing runs
	polled   bool // a listing started since the last tick

	// confirm is the project whose VM stops once the user says y.
	confirm string
	note    string
	kind    noteKind

	width, height int
	focused       bool
}

var (
	_ panel.Panel      = (*Model)(nil)
	_ panel.Visibility = (*Model)(nil)
	_ panel.KeyOwner   = (*Model)(nil)
)

// New returns the VMs panel over d.VMs; without one it says the VM
// manager is not available.
func New(d panel.Deps) *Model {
	if d.Styles == nil {
		d.Styles = panel.NewStyles(false)
	}
	ctx := d.Context
	if ctx == nil {
		ctx = context.Background()
	}
	return &Model{styles: d.Styles, keys: newKeyMap(), src: d.VMs, ctx: ctx}
}

// Init lists nothing: the panel lists once it is on screen.
func (m *Model) Init() tea.Cmd { return nil }

// SetVisible tells the panel whether it is on screen; appearing lists the
// VMs at once (unless a listing ran since the last tick).
func (m *Model) SetVisible(visible bool) tea.Cmd {
	was := m.visible
	m.visible = visible
	if visible && !was {
		return m.list()
	}
	return nil
}

// Ticking implements panel.Ticker: the panel lists the VMs on every tick
// while it is on screen.
func (m *Model) Ticking() bool { return m.src != nil && m.visible }

// list starts a listing if the panel shows, none runs and none started
// since the last tick.
func (m *Model) list() tea.Cmd {
	if m.src == nil || !m.visible || m.inflight || m.polled {
		return nil
	}
	m.inflight, m.polled = true, true
	src, parent := m.src, m.ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(parent, listTimeout)
		defer cancel()
		rows, err := src.List(ctx)
		return listMsg{rows: rows, err: err}
	}
}

// Update lists on ticks and handles keys, the mouse and the results of
// listings and actions.
func (m *Model) Update(msg tea.Msg) (panel.Panel, tea.Cmd) {
	switch msg := msg.(type) {
	case panel.TickMsg:
		m.polled = false
		return m, m.list()
	case listMsg:
		m.inflight = false
		m.setRows(msg)
	case actMsg:
		if msg.err != nil {
			m.setNote(noteError, fmt.Sprintf("%s %s: %v", msg.action, msg.project, msg.err))
		} else {
			m.setNote(noteOK, fmt.Sprintf("%s %s", done(msg.action), msg.project))
		}
	case attachDoneMsg:
		if msg.err != nil {
			m.setNote(noteError, fmt.Sprintf("attach %s: %v", msg.project, msg.err))
		} else {
			m.setNote(noteOK, "detached from "+msg.project)
		}
	case tea.KeyPressMsg:
		return m, m.key(msg)
	case tea.MouseClickMsg:
		if i := m.top + msg.Mouse().Y - 1; msg.Mouse().Y >= 1 && i >= 0 && i < len(m.rows) && i < m.top+m.listRows() {
			m.selectRow(i)
		}
	case tea.MouseWheelMsg:
		switch msg.Mouse().Button {
		case tea.MouseWheelUp:
			m.move(-1)
		case tea.MouseWheelDown:
			m.move(1)
		}
	}
	return m, nil
}

// done is an action's outcome in words: "paused", "stopped".
func done(a Action) string {
	switch a {
	case Pause:
		return "paused"
	case Resume:
		return "resumed"
	case Reboot:
		return "rebooted"
	case Stop:
		return "stopped"
	}
	return a.String() + " done"
}

// setRows takes a listing: rows sorted by project, the selection kept on
// the same VM. A failed listing keeps the last rows and says why.
func (m *Model) setRows(l listMsg) {
	if l.err != nil {
		m.listErr = l.err
		return
	}
	m.listErr, m.listed = nil, true
	m.rows = slices.Clone(l.rows)
	slices.SortStableFunc(m.rows, func(a, b Row) int {
		return cmp.Or(cmp.Compare(a.Project, b.Project), cmp.Compare(a.PID, b.PID))
	})
	m.sel = min(m.sel, max(len(m.rows)-1, 0))
	if i := slices.IndexFunc(m.rows, func(r Row) bool { return r.Project == m.selProject }); i >= 0 {
		m.sel = i
	}
	if m.confirm != "" && !slices.ContainsFunc(m.rows, func(r Row) bool { return r.Project == m.confirm }) {
		m.confirm = ""
		m.setNote(noteInfo, "the VM to stop is gone")
	}
	m.selectRow(m.sel)
}

// setNote sets the line under the list. It may hold project names and
// errors from other processes: clean makes them safe to show.
func (m *Model) setNote(k noteKind, text string) { m.kind, m.note = k, clean(text) }

// clean makes text from the registry or another ukdev safe and one row
// wide on the terminal: escape sequences and controls dropped (a project
// is named after its directory, which may hold anything), tabs spaced.
func clean(s string) string {
	return panel.OneWidth(strings.ReplaceAll(logs.Sanitize(s, false), "\t", " "))
}

// selected returns the selected VM, or false when none is listed.
func (m *Model) selected() (Row, bool) {
	if m.sel < 0 || m.sel >= len(m.rows) {
		return Row{}, false
	}
	return m.rows[m.sel], true
}

// selectRow selects row i and scrolls just enough to show it.
func (m *Model) selectRow(i int) {
	if len(m.rows) == 0 {
		m.sel, m.selProject, m.top = 0, "", 0
		return
	}
	m.sel = max(0, min(i, len(m.rows)-1))
	m.selProject = m.rows[m.sel].Project
	n := max(m.listRows(), 1)
	switch {
	case m.sel < m.top:
		m.top = m.sel
	case m.sel >= m.top+n:
		m.top = m.sel - n + 1
	}
	m.top = max(0, min(m.top, len(m.rows)-n))
}

func (m *Model) move(n int) { m.selectRow(m.sel + n) }

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	if m.confirm != "" {
		project := m.confirm
		m.confirm = ""
		if key.Matches(msg, k.Yes) {
			return m.act(project, Stop)
		}
		m.setNote(noteInfo, "kept "+project+" running")
		return nil
	}
	switch {
	case key.Matches(msg, k.Up):
		m.move(-1)
		return nil
	case key.Matches(msg, k.Down):
		m.move(1)
		return nil
	case !key.Matches(msg, k.Attach, k.Pause, k.Reboot, k.Stop):
		return nil
	}
	if m.src == nil {
		m.setNote(noteError, "the VM manager is not available")
		return nil
	}
	r, ok := m.selected()
	if !ok {
		m.setNote(noteInfo, "no VM selected")
		return nil
	}
	switch {
	case key.Matches(msg, k.Attach):
		return m.attach(r)
	case key.Matches(msg, k.Pause):
		switch r.State {
		case "running":
			return m.act(r.Project, Pause)
		case "paused":
			return m.act(r.Project, Resume)
		}
		m.setNote(noteInfo, fmt.Sprintf("%s is %s: nothing to pause or resume", r.Project, stateWord(r.State)))
	case key.Matches(msg, k.Reboot):
		return m.act(r.Project, Reboot)
	case key.Matches(msg, k.Stop):
		m.confirm = r.Project
	}
	return nil
}

// act runs a on the project's VM in a command; its result comes back as
// an actMsg.
func (m *Model) act(project string, a Action) tea.Cmd {
	m.setNote(noteInfo, fmt.Sprintf("%s %s…", a, project))
	src, parent := m.src, m.ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(parent, actTimeout)
		defer cancel()
		return actMsg{project: project, action: a, err: src.Act(ctx, project, a)}
	}
}

// attach suspends the dashboard for a session on r's VM (tea.Exec) and
// comes back when it detaches.
func (m *Model) attach(r Row) tea.Cmd {
	if r.Self {
		m.setNote(noteInfo, "this dashboard shows "+r.Project+" already")
		return nil
	}
	c := m.src.Attach(r.Project)
	if c == nil {
		m.setNote(noteError, "attach "+r.Project+": not possible")
		return nil
	}
	m.setNote(noteInfo, "attached to "+r.Project+"…")
	project := r.Project
	return tea.Exec(c, func(err error) tea.Msg { return attachDoneMsg{project: project, err: err} })
}

// SetSize sets the content size.
func (m *Model) SetSize(width, height int) {
	m.width, m.height = max(width, 0), max(height, 0)
	m.selectRow(m.sel)
}

// Title names the panel and counts the VMs, and asks the stop question
// while it waits for the answer.
func (m *Model) Title() string {
	s := "VMs"
	if m.listed {
		s += fmt.Sprintf(" · %d", len(m.rows))
	}
	if m.confirm != "" {
		s += " · stop " + clean(m.confirm) + "? y/n"
	}
	return s
}

// Focus tells the panel whether it has the keyboard.
func (m *Model) Focus(focused bool) { m.focused = focused }

// Capturing is true while a stop waits for its y/n: the answer must not
// be taken as a global key.
func (m *Model) Capturing() bool { return m.confirm != "" }

// KeyBindings returns the panel's keys, or the answers while a stop waits
// for one.
func (m *Model) KeyBindings() []key.Binding { return m.keys.bindings(m.confirm != "") }

// OwnKeys returns p: while the panel has the focus, it pauses or resumes
// the selected VM rather than this dashboard's.
func (m *Model) OwnKeys() []key.Binding { return []key.Binding{m.keys.Pause} }

// footer returns the lines under the list: the failed listing's error,
// then the question or the last note.
func (m *Model) footer() []string {
	var out []string
	st := m.styles
	if m.listErr != nil {
		out = append(out, st.Error.Render(clean("cannot list VMs: "+m.listErr.Error())))
	}
	switch {
	case m.confirm != "":
		out = append(out, st.Warn.Render("stop the VM of "+clean(m.confirm)+"? y stops it, n keeps it"))
	case m.note != "":
		s := st.Muted
		switch m.kind {
		case noteOK:
			s = st.OK
		case noteError:
			s = st.Error
		}
		out = append(out, s.Render(m.note))
	}
	return out
}

// listRows is how many rows of the list the panel shows under its header.
func (m *Model) listRows() int {
	return max(m.height-1-len(m.footer()), 0)
}

// View renders the list and its footer in exactly the panel's size.
func (m *Model) View() string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	st := m.styles
	var lines []string
	switch {
	case m.src == nil:
		lines = append(lines, st.Muted.Render("the VM manager is not available"))
	case !m.listed && m.listErr == nil:
		lines = append(lines, st.Muted.Render("listing VMs…"))
	case len(m.rows) == 0 && m.listed:
		lines = append(lines, st.Muted.Render("no VMs run on this machine"))
	case len(m.rows) > 0:
		lines = m.table()
	}
	footer := m.footer()
	body := max(m.height-len(footer), 0)
	if len(lines) > body {
		lines = lines[:body]
	}
	for len(lines) < body {
		lines = append(lines, "")
	}
	lines = append(lines, footer...)
	out := make([]string, 0, m.height)
	for _, l := range lines[:min(len(lines), m.height)] {
		// A cut row says so; Fit closes what the cut left open.
		out = append(out, panel.Fit(ansi.Truncate(panel.OneWidth(l), m.width, "…"), m.width))
	}
	return strings.Join(out, "\n")
}

// column is one column of the table. prio says which go first when the
// panel is narrow: the highest first; 0 always shows.
type column struct {
	name  string
	prio  int
	right bool
	cell  func(Row) string
}

var columns = []column{
	{name: "PROJECT", cell: func(r Row) string { return r.Project }},
	{name: "FLAVOR", prio: 4, cell: func(r Row) string { return dash(r.Flavor) }},
	{name: "STATE", cell: func(r Row) string { return stateWord(r.State) }},
	{name: "BOOT", prio: 4, right: true, cell: func(r Row) string {
		if r.Boot <= 0 {
			return "–"
		}
		return fmt.Sprintf("#%d", r.Boot)
	}},
	{name: "UP", prio: 2, right: true, cell: func(r Row) string {
		if r.Uptime <= 0 {
			return "–"
		}
		return panel.FormatUptime(r.Uptime)
	}},
	{name: "ACCEL", prio: 5, cell: func(r Row) string { return dash(strings.ToUpper(r.Accel)) }},
	{name: "CPU", prio: 1, right: true, cell: func(r Row) string {
		if r.RSS <= 0 && r.CPU <= 0 {
			return "–"
		}
		return fmt.Sprintf("%.1f%%", r.CPU)
	}},
	{name: "RSS", prio: 1, right: true, cell: func(r Row) string {
		if r.RSS <= 0 {
			return "–"
		}
		return panel.FormatBytes(float64(r.RSS))
	}},
	{name: "PID", prio: 6, right: true, cell: func(r Row) string {
		if r.PID <= 0 {
			return "–"
		}
		return fmt.Sprint(r.PID)
	}},
	{name: "ATTACHED", prio: 3, cell: func(r Row) string {
		switch {
		case r.Self:
			return "this"
		case r.Attached:
			return "yes"
		case r.Detached:
			return "detached"
		}
		return "no"
	}},
	{name: "PORTS", prio: 5, cell: func(r Row) string { return dash(strings.Join(r.Ports, ", ")) }},
}

func dash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// stateWord is the state as the panel shows it; "" is "none".
func stateWord(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

const (
	// leadWidth is the selection and self marks before each row.
	leadWidth = 3
	// gap is the space between columns.
	gap = 2
	// maxProject caps the project column; longer names are cut.
	maxProject = 24
	// minPorts is the least room the ports column, the last, needs to be
	// kept; it takes what is left.
	minPorts = 12
)

// table renders the header and the visible rows, with the columns that
// fit the width.
func (m *Model) table() []string {
	cells := make([][]string, len(m.rows))
	widths := make([]int, len(columns))
	for c, col := range columns {
		widths[c] = len(col.name)
	}
	for i, r := range m.rows {
		cells[i] = make([]string, len(columns))
		for c, col := range columns {
			s := clean(col.cell(r))
			if col.name == "PROJECT" {
				s = ansi.Truncate(s, maxProject, "…")
			}
			cells[i][c] = s
			widths[c] = max(widths[c], ansi.StringWidth(s))
		}
	}
	shown := m.fit(widths)
	header := strings.Repeat(" ", leadWidth) + m.join(shown, widths, func(c int) string { return columns[c].name })
	lines := []string{m.styles.Muted.Render(header)}
	end := min(len(m.rows), m.top+m.listRows())
	for i := m.top; i < end; i++ {
		lines = append(lines, m.row(i, cells[i], shown, widths))
	}
	return lines
}

// fit returns the columns that fit the width, in order: it leaves out
// the least important first (the right-most of equals).
func (m *Model) fit(widths []int) []int {
	shown := make([]int, len(columns))
	for c := range columns {
		shown[c] = c
	}
	need := func() int {
		n := leadWidth
		for i, c := range shown {
			w := widths[c]
			if columns[c].name == "PORTS" {
				w = min(w, minPorts)
			}
			if i > 0 {
				n += gap
			}
			n += w
		}
		return n
	}
	for need() > m.width {
		drop := -1
		for i, c := range shown {
			if p := columns[c].prio; p > 0 && (drop < 0 || p >= columns[shown[drop]].prio) {
				drop = i
			}
		}
		if drop < 0 {
			break
		}
		shown = slices.Delete(shown, drop, drop+1)
	}
	return shown
}

// join lays out the shown columns' texts in their widths.
func (m *Model) join(shown, widths []int, text func(c int) string) string {
	var b strings.Builder
	for i, c := range shown {
		if i > 0 {
			b.WriteString(strings.Repeat(" ", gap))
		}
		s := text(c)
		pad := strings.Repeat(" ", max(widths[c]-ansi.StringWidth(ansi.Strip(s)), 0))
		if columns[c].right {
			b.WriteString(pad + s)
		} else if i == len(shown)-1 {
			b.WriteString(s) // no padding after the last column
		} else {
			b.WriteString(s + pad)
		}
	}
	return b.String()
}

// row renders row i: ">" when selected and the panel has the focus, "*"
// for this dashboard's own VM, the state coloured.
func (m *Model) row(i int, cells []string, shown, widths []int) string {
	r := m.rows[i]
	lead := []byte("   ")
	if i == m.sel && m.focused {
		lead[0] = '>'
	}
	if r.Self {
		lead[1] = '*'
	}
	selected := i == m.sel && m.focused
	text := func(c int) string {
		s := cells[c]
		if columns[c].name == "STATE" && !selected {
			s = m.stateStyle(r.State).Render(s)
		}
		return s
	}
	line := string(lead) + m.join(shown, widths, text)
	if selected {
		return m.styles.Selected.Render(panel.Fit(line, m.width))
	}
	return line
}

// stateStyle is how a state shows: running green, paused or on its way
// yellow, crashed red, the rest muted.
func (m *Model) stateStyle(state string) lipgloss.Style {
	switch state {
	case "running":
		return m.styles.OK
	case "paused", "building", "starting":
		return m.styles.Warn
	case "crashed":
		return m.styles.Error
	}
	return m.styles.Muted
}
