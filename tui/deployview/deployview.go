// Package deployview is the dashboard's deploy view, opened with d over
// the panels: it asks the loop for a deploy of the running build, shows
// the plan and asks for confirmation, then shows the steps, a byte
// progress bar for the upload and the elapsed time; at the end the
// instance, its address and URLs, or the error. esc cancels a deploy that
// runs (the target removes what it half-created) and closes the view
// otherwise.
//
// The view knows the deploy only through the loop's deploy.* events; it
// calls the loop (panel.DeployControl) only inside tea.Cmds.
package deployview

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/progress"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/ukdev/ukdev/deploy"
	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/logs"
	"github.com/ukdev/ukdev/tui/panel"
)

// phase is where the deploy shown is.
type phase int

const (
	phaseClosed   phase = iota
	phasePlanning       // asked for a plan: the disk is made, the plan read
	phaseConfirm        // the plan is shown, with the question
	phaseRunning        // confirmed: the deploy runs
	phaseDone           // the deploy succeeded
	phaseFailed         // the deploy failed, was refused or cancelled
)

// step is one step of the deploy as the view lists it.
type step struct {
	name        string
	finished    bool
	done, total int64 // bytes, when the step moves data
}

// keyMap holds the view's keys.
type keyMap struct {
	Yes, No, Cancel, Close key.Binding
}

func newKeyMap() keyMap {
	return keyMap{
		Yes:    key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "deploy")),
		No:     key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "do not deploy")),
		Cancel: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel the deploy")),
		Close:  key.NewBinding(key.WithKeys("esc", "enter", "q"), key.WithHelp("esc", "close")),
	}
}

// Model is the deploy view. It implements panel.Panel; the root shows it
// over the panels while Active.
type Model struct {
	deps   panel.Deps
	styles *panel.Styles
	keys   keyMap
	bar    progress.Model

	width, height int
	phase         phase
	cancelling    bool

	name, target string
	build        int
	plan         []devloop.PlanRow
	steps        []step
	lastLine     string // a deploy tool's last output line
	elapsed      time.Duration
	elapsedAt    time.Time // when elapsed was reported
	result       devloop.Event
	err          string
	noDeploy     bool
}

// New returns the closed deploy view.
func New(d panel.Deps) *Model {
	if d.Styles == nil {
		d.Styles = panel.NewStyles(false)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	bar := progress.New(progress.WithoutPercentage(), progress.WithFillCharacters('█', '░'))
	if !d.Styles.Color {
		bar.FullColor, bar.EmptyColor = lipgloss.NoColor{}, lipgloss.NoColor{}
	}
	return &Model{deps: d, styles: d.Styles, keys: newKeyMap(), bar: bar}
}

// Active reports whether the view is open: the root then shows it and
// gives it every key.
func (m *Model) Active() bool { return m.phase != phaseClosed }

// Open opens the view and asks the loop for a deploy of the running build
// to the default deploy; the plan arrives as an event. Opening an open
// view does nothing.
func (m *Model) Open() tea.Cmd {
	if m.Active() {
		return nil
	}
	*m = Model{deps: m.deps, styles: m.styles, keys: m.keys, bar: m.bar, width: m.width, height: m.height, phase: phasePlanning}
	if m.deps.Deploy == nil {
		m.phase, m.err = phaseFailed, "this dashboard cannot deploy"
		return nil
	}
	return m.call(func(c panel.DeployControl) { c.PlanDeploy("") })
}

// call runs f on the loop in a Cmd.
func (m *Model) call(f func(panel.DeployControl)) tea.Cmd {
	c := m.deps.Deploy
	if c == nil {
		return nil
	}
	return func() tea.Msg {
		f(c)
		return nil
	}
}

// Init implements panel.Panel.
func (m *Model) Init() tea.Cmd { return nil }

// Update implements panel.Panel.
func (m *Model) Update(msg tea.Msg) (panel.Panel, tea.Cmd) {
	switch msg := msg.(type) {
	case panel.EventsMsg:
		for _, e := range msg {
			m.apply(e)
		}
	case tea.KeyPressMsg:
		return m, m.key(msg)
	}
	return m, nil
}

// apply follows one event of the deploy shown.
func (m *Model) apply(e devloop.Event) {
	if m.phase == phaseClosed || m.phase == phaseDone || m.phase == phaseFailed {
		return
	}
	if e.ElapsedMS != nil {
		m.elapsed, m.elapsedAt = time.Duration(*e.ElapsedMS*float64(time.Millisecond)), e.Time
	}
	switch e.Type {
	case devloop.TypeDeployStart:
		m.name, m.target, m.build = e.Deploy, e.Target, e.Build
	case devloop.TypeDeployPlan:
		m.plan = e.Plan
		if m.phase == phasePlanning {
			m.phase = phaseConfirm
		}
	case devloop.TypeDeployStep:
		s := m.step(e.Step)
		s.finished = s.finished || e.Finished
		if !e.Finished && e.Message != "" && e.Message != e.Step+"…" {
			m.lastLine = e.Message
		}
	case devloop.TypeDeployProgress:
		s := m.step(e.Step)
		s.finished = s.finished || e.Finished
		if e.BytesDone != nil && e.BytesTotal != nil {
			s.done, s.total = *e.BytesDone, *e.BytesTotal
		}
	case devloop.TypeDeployDone:
		m.phase, m.result = phaseDone, e
		m.elapsed = time.Duration(*e.ElapsedMS * float64(time.Millisecond))
	case devloop.TypeDeployError:
		m.phase, m.cancelling = phaseFailed, false
		m.err, m.noDeploy = e.Detail, e.Reason == devloop.ReasonNoDeploy
		if m.name == "" {
			m.name, m.target = e.Deploy, e.Target
		}
	}
}

// step returns the step named name, added at the end when new.
func (m *Model) step(name string) *step {
	for i := range m.steps {
		if m.steps[i].name == name {
			return &m.steps[i]
		}
	}
	m.steps = append(m.steps, step{name: name})
	return &m.steps[len(m.steps)-1]
}

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	switch m.phase {
	case phaseConfirm:
		switch {
		case key.Matches(msg, k.Yes):
			m.phase = phaseRunning
			return m.call(panel.DeployControl.ConfirmDeploy)
		case key.Matches(msg, k.No, k.Cancel):
			m.phase = phaseClosed
			return m.call(panel.DeployControl.CancelDeploy)
		}
	case phasePlanning:
		if key.Matches(msg, k.Cancel) {
			m.phase = phaseClosed
			return m.call(panel.DeployControl.CancelDeploy)
		}
	case phaseRunning:
		if key.Matches(msg, k.Cancel) && !m.cancelling {
			m.cancelling = true
			return m.call(panel.DeployControl.CancelDeploy)
		}
	case phaseDone, phaseFailed:
		if key.Matches(msg, k.Close) {
			m.phase = phaseClosed
		}
	}
	return nil
}

// SetSize implements panel.Panel.
func (m *Model) SetSize(w, h int) { m.width, m.height = w, h }

// Title implements panel.Panel.
func (m *Model) Title() string {
	if m.name == "" {
		return "deploy"
	}
	return "deploy · " + m.name
}

// Focus implements panel.Panel; the view has the keyboard while open.
func (m *Model) Focus(bool) {}

// Capturing implements panel.Panel: while open the view takes every key.
func (m *Model) Capturing() bool { return m.Active() }

// KeyBindings implements panel.Panel: the keys of the current phase.
func (m *Model) KeyBindings() []key.Binding {
	switch m.phase {
	case phaseConfirm:
		return []key.Binding{m.keys.Yes, m.keys.No}
	case phasePlanning, phaseRunning:
		return []key.Binding{m.keys.Cancel}
	case phaseDone, phaseFailed:
		return []key.Binding{m.keys.Close}
	}
	return nil
}

// View implements panel.Panel.
func (m *Model) View() string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	var lines []string
	switch m.phase {
	case phasePlanning:
		lines = m.planningLines()
	case phaseConfirm:
		lines = m.confirmLines()
	case phaseRunning:
		lines = m.runningLines()
	case phaseDone:
		lines = m.doneLines()
	case phaseFailed:
		lines = m.failedLines()
	}
	for i, l := range lines {
		lines[i] = panel.OneWidth(l)
	}
	return panel.FitBox(lines, m.width, m.height)
}

// what names the deploy: "build #3 to prod (gcp)".
func (m *Model) what() string {
	s := fmt.Sprintf("build #%d to %s", m.build, clean(m.name))
	if m.target != "" {
		s += " (" + clean(m.target) + ")"
	}
	return s
}

// Ticking reports whether the view shows a clock that runs (a deploy
// under way): the root then redraws it once a second.
func (m *Model) Ticking() bool { return m.phase == phaseRunning && !m.elapsedAt.IsZero() }

// shownElapsed is the deploy's time: as last reported, plus the time
// since while it runs.
func (m *Model) shownElapsed() time.Duration {
	d := m.elapsed
	if m.phase == phaseRunning && !m.elapsedAt.IsZero() {
		d += max(m.deps.Now().Sub(m.elapsedAt), 0)
	}
	return d.Truncate(time.Second / 10)
}

func (m *Model) planningLines() []string {
	head := "Preparing the deploy of the running build…"
	if m.name != "" {
		head = "Preparing the deploy of " + m.what() + "…"
	}
	lines := []string{m.styles.FocusedTitle.Render(head), ""}
	lines = append(lines, m.stepLines()...)
	return append(lines, "", m.styles.Muted.Render("esc cancels"))
}

func (m *Model) confirmLines() []string {
	lines := []string{m.styles.FocusedTitle.Render("Plan: deploy " + m.what()), ""}
	w := 0
	for _, r := range m.plan {
		w = max(w, ansi.StringWidth(clean(r.Key)))
	}
	for _, r := range m.plan {
		lines = append(lines, "  "+panel.PadRight(clean(r.Key), w)+"  "+clean(r.Value))
	}
	if len(m.steps) > 0 {
		lines = append(lines, "")
		lines = append(lines, m.stepLines()...)
	}
	return append(lines, "", m.styles.Warn.Render(fmt.Sprintf("Deploy build #%d to %s? (y/n)", m.build, clean(m.name))))
}

func (m *Model) runningLines() []string {
	lines := []string{m.styles.FocusedTitle.Render("Deploying "+m.what()) + m.styles.Muted.Render(" · "+m.shownElapsed().String()), ""}
	lines = append(lines, m.stepLines()...)
	if m.lastLine != "" {
		lines = append(lines, "", m.styles.Muted.Render("  "+clean(m.lastLine)))
	}
	foot := "esc cancels; the target removes what it created"
	if m.cancelling {
		foot = "cancelling: removing what the deploy created…"
	}
	return append(lines, "", m.styles.Muted.Render(foot))
}

// stepLines lists the steps, each with its done mark, and a byte
// progress bar under the step that moves data.
func (m *Model) stepLines() []string {
	var lines []string
	for _, s := range m.steps {
		mark := m.styles.Muted.Render("▸")
		if s.finished {
			mark = m.styles.OK.Render("✓")
		}
		l := "  " + mark + " " + clean(s.name)
		if s.total > 0 {
			l += m.styles.Muted.Render(fmt.Sprintf("  %s of %s", deploy.Size(s.done), deploy.Size(s.total)))
		}
		lines = append(lines, l)
		if s.total > 0 && !s.finished {
			bar := m.bar
			bar.SetWidth(max(min(m.width-12, 50), 10))
			pct := float64(s.done) / float64(s.total)
			lines = append(lines, "    "+bar.ViewAs(pct)+fmt.Sprintf(" %3.0f%%", pct*100))
		}
	}
	return lines
}

func (m *Model) doneLines() []string {
	r := m.result
	lines := []string{m.styles.OK.Render(fmt.Sprintf("Deployed %s in %s", m.what(), deploy.RoundElapsed(m.elapsed))), ""}
	if r.Instance != "" {
		lines = append(lines, "  instance  "+clean(r.Instance))
	}
	if r.IP != "" {
		lines = append(lines, "  ip        "+clean(r.IP))
	}
	for _, u := range r.URLs {
		lines = append(lines, "  url       "+clean(u))
	}
	lines = append(lines, "")
	for _, l := range m.wrap(fmt.Sprintf("The instance's console (gcp, aws) follows in the logs panel as source %s.", devloop.CloudSource(m.name))) {
		lines = append(lines, m.styles.Muted.Render(l))
	}
	return append(lines, m.styles.Muted.Render("esc closes"))
}

func (m *Model) failedLines() []string {
	if m.noDeploy {
		lines := []string{m.styles.Error.Render("No deploy to use"), ""}
		lines = append(lines, m.wrap("Add a [deploy.<name>] section to ukdev.toml (with several, deploy.default names the one d uses), for example:")...)
		lines = append(lines, "", "  [deploy.prod]", "  target = \"command\"", "  command = \"./deploy.sh\"", "")
		lines = append(lines, m.wrap("The README's Deploy section lists the targets and their keys.")...)
		lines = append(lines, "")
		lines = append(lines, m.wrap(m.err)...)
		return append(lines, "", m.styles.Muted.Render("esc closes"))
	}
	head := "Deploy failed"
	if m.name != "" {
		head = "Deploy of " + m.what() + " failed"
	}
	if m.elapsed > 0 {
		head += " after " + deploy.RoundElapsed(m.elapsed).String()
	}
	lines := []string{m.styles.Error.Render(head), ""}
	lines = append(lines, m.stepLines()...)
	if len(m.steps) > 0 {
		lines = append(lines, "")
	}
	lines = append(lines, m.wrap(m.err)...)
	return append(lines, "", m.styles.Muted.Render("esc closes"))
}

// wrap sanitises s and wraps it to the view's width.
func (m *Model) wrap(s string) []string {
	return strings.Split(ansi.Wrap(clean(s), max(m.width-2, 10), " "), "\n")
}

// clean makes target or tool text safe to show: no escapes, one line.
func clean(s string) string {
	return strings.ReplaceAll(logs.Sanitize(s, false), "\n", " ")
}
