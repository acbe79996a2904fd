package tui

import (
	"log/slog"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/tui/crashview"
	"github.com/ukdev/ukdev/tui/deployview"
	"github.com/ukdev/ukdev/tui/panel"
)

// Model is the dashboard's root model. It routes messages to the panels,
// lays them out, switches focus, keeps the status bar, and turns the global
// keys into loop commands; the panels do everything else.
type Model struct {
	deps   panel.Deps
	styles *panel.Styles
	log    *slog.Logger
	keys   keyMap
	help   help.Model
	panels [numPanels]panel.Panel
	// deploy is the deploy view, shown over the panels while active.
	deploy *deployview.Model
	// crash is the crash view, shown over the panels while active: it
	// opens by itself when a boot crashes.
	crash *crashview.Model

	// events is the loop's event stream; nil when the caller feeds
	// EventsMsg itself (tests).
	events <-chan devloop.Event
	// stop ends the loop (which stops the VM); the dashboard then quits
	// when the event stream closes. Nil: quitting is immediate.
	stop func()

	// tmux and tmuxPane are Options.Tmux and TmuxPane: where g runs gdb.
	tmux     bool
	tmuxPane string

	status        status
	focus         int
	maximised     bool
	showHelp      bool
	width, height int
	frames        [numPanels]rect
	sizes         [numPanels][2]int // the size last given to each panel
	// tab is the one of the metrics and VMs panels that shows in their
	// shared place: the one focused last.
	tab int
	// wasCovered is covered() when the panels were last told whether
	// they show.
	wasCovered bool
	// tickDue is when the armed tick fires, zero when none is armed;
	// tickGen counts the armings (tick.go).
	tickDue time.Time
	tickGen int
	// tileBeat is when the sampling panels shown as tiles next refresh,
	// together (tick.go).
	tileBeat time.Time
	// drawn keeps the parts of the screen last drawn (drawn.go).
	drawn *drawn
}

// New returns the dashboard over the given dependencies, without starting
// anything. events is the loop's event stream, read in batches once the
// program runs; tests pass nil and send panel.EventsMsg themselves.
func New(d panel.Deps, in panel.Inspector, events <-chan devloop.Event, opts Options) Model {
	m := newModel(d, newPanels(d, in), events, opts)
	m.crash = crashview.New(m.deps, in)
	return m
}

// newModel is New with the panels given (tests pass fakes).
func newModel(d panel.Deps, panels [numPanels]panel.Panel, events <-chan devloop.Event, opts Options) Model {
	if d.Styles == nil {
		d.Styles = panel.NewStyles(false)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := help.New()
	if d.Styles.Color {
		h.Styles = help.DefaultDarkStyles()
	} else {
		plain := lipgloss.NewStyle()
		h.Styles = help.Styles{Ellipsis: plain, ShortKey: plain, ShortDesc: plain, ShortSeparator: plain,
			FullKey: plain, FullDesc: plain, FullSeparator: plain}
	}
	keys := newKeyMap()
	keys.GDB.SetEnabled(d.GDB != nil)
	m := Model{
		deps:     d,
		styles:   d.Styles,
		log:      log,
		keys:     keys,
		help:     h,
		panels:   panels,
		deploy:   deployview.New(d),
		crash:    crashview.New(d, nil),
		events:   events,
		tmux:     opts.Tmux,
		tmuxPane: opts.TmuxPane,
		status:   status{project: opts.Project, flavor: opts.Flavor, ports: opts.Ports, host: opts.Host, attached: opts.Attached},
		tab:      panelMetrics,
		drawn:    &drawn{},
	}
	if opts.Attached {
		// q ends this dashboard only: the VM runs on.
		m.keys.Quit = key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "detach"))
	}
	for i, p := range m.panels {
		p.Focus(i == m.focus)
	}
	return m
}

// Init starts the panels and the event stream; Update arms the tick
// once something on screen needs it (tick.go).
func (m Model) Init() tea.Cmd {
	var cmds []tea.Cmd
	for _, p := range m.panels {
		cmds = append(cmds, p.Init())
	}
	if m.events != nil {
		cmds = append(cmds, waitEvents(m.events, defaultBatch))
	}
	return tea.Batch(cmds...)
}

// Update routes msg: keys and mouse to the focused panel (or the one under
// the cursor) unless they are global keys; everything else to every panel.
// Then it arms the tick if what the screen shows now needs one sooner than
// the one armed.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	next, cmd := m.update(msg)
	nm, ok := next.(Model)
	if !ok {
		return next, cmd
	}
	if nm.covered() != nm.wasCovered {
		// The help overlay, the deploy view or the crash view opened
		// or closed over the panels.
		cmd = tea.Batch(cmd, nm.tellVisible())
	}
	if tick := nm.armTick(); tick != nil {
		cmd = tea.Batch(cmd, tick)
	}
	return nm, cmd
}

// covered reports whether something hides the panels: the help overlay,
// the deploy view or the crash view.
func (m Model) covered() bool { return m.showHelp || m.deploy.Active() || m.crash.Active() }

// update is Update without arming the tick.
func (m Model) update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		return m, m.relayout()
	case tea.KeyPressMsg:
		return m.onKey(msg)
	case tea.PasteMsg:
		// Pasted text is typing: it goes where the keys go.
		return m, m.updatePanel(m.focus, msg)
	case tea.MouseClickMsg:
		return m.onClick(msg)
	case tea.MouseWheelMsg:
		i, local, ok := m.panelAt(msg.Mouse())
		if !ok {
			return m, nil
		}
		return m, m.updatePanel(i, tea.MouseWheelMsg(local))
	case tea.MouseReleaseMsg:
		// Drags and releases belong to the focused panel, wherever they are.
		return m, m.updatePanel(m.focus, tea.MouseReleaseMsg(m.inFocused(msg.Mouse())))
	case tea.MouseMotionMsg:
		return m, m.updatePanel(m.focus, tea.MouseMotionMsg(m.inFocused(msg.Mouse())))
	case panel.EventsMsg:
		for _, e := range msg {
			m.status.apply(e)
		}
		_, dcmd := m.deploy.Update(msg)
		_, ccmd := m.crash.Update(msg)
		cmd := tea.Batch(m.broadcast(msg), dcmd, ccmd)
		if m.events != nil {
			cmd = tea.Batch(cmd, waitEvents(m.events, defaultBatch))
		}
		return m, cmd
	case eventsClosedMsg:
		m.log.Info("dashboard: event stream closed; quitting")
		return m, tea.Quit
	case tickMsg:
		return m, m.onTick(msg)
	case panel.TickMsg:
		return m, m.broadcast(msg)
	case gdbOpenedMsg:
		if msg.err != nil {
			m.status.note = "gdb: " + msg.err.Error()
			return m, nil
		}
		m.status.note = ""
		return m, m.runGDB(msg.session)
	case gdbDoneMsg:
		switch {
		case msg.err != nil:
			m.status.note = "gdb: " + msg.err.Error()
		case msg.inPane:
			m.status.note = "gdb runs in the pane beside"
		default:
			m.status.note = ""
		}
		return m, nil
	}
	// The crash view's own messages (what it read, the editor) and the
	// panels'.
	_, ccmd := m.crash.Update(msg)
	return m, tea.Batch(m.broadcast(msg), ccmd)
}

// onKey handles a key press: the help overlay first, then the deploy
// view while it is open, then a capturing panel, then the global keys;
// any other key goes to the focused panel. The help overlay is only ever
// shown over a panel that does not capture.
func (m Model) onKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	if m.showHelp {
		// ? and esc only close the overlay; any other key closes it and
		// does what it does.
		m.showHelp = false
		if key.Matches(msg, m.keys.Help, m.keys.Close) {
			return m, nil
		}
	}
	if m.deploy.Active() {
		_, cmd := m.deploy.Update(msg)
		return m, cmd
	}
	if m.crash.Active() {
		_, cmd := m.crash.Update(msg)
		return m, cmd
	}
	if m.panels[m.focus].Capturing() {
		return m, m.updatePanel(m.focus, msg)
	}
	// Keys the focused panel owns fall through to it.
	k := m.activeKeys()
	switch {
	case key.Matches(msg, k.Quit):
		return m.quit()
	case m.tooSmall():
		// Nothing else is visible to act on.
		return m, nil
	case key.Matches(msg, k.Help):
		m.showHelp = true
	case key.Matches(msg, k.Next):
		return m, m.setFocus((m.focus + 1) % numPanels)
	case key.Matches(msg, k.Prev):
		return m, m.setFocus((m.focus + numPanels - 1) % numPanels)
	case key.Matches(msg, k.Focus):
		if i, ok := focusIndex(msg.String()); ok {
			return m, m.setFocus(i)
		}
	case key.Matches(msg, k.Maximise):
		m.maximised = !m.maximised
		return m, m.relayout()
	case key.Matches(msg, k.Reboot):
		return m, m.control(panel.Control.Reboot)
	case key.Matches(msg, k.Rebuild):
		return m, m.control(panel.Control.Rebuild)
	case key.Matches(msg, k.Pause):
		return m, m.control(panel.Control.TogglePause)
	case key.Matches(msg, k.StopStart):
		if m.status.running() {
			return m, m.control(panel.Control.StopVM)
		}
		return m, m.control(panel.Control.StartVM)
	case key.Matches(msg, k.Watch):
		return m, m.control(panel.Control.ToggleWatch)
	case key.Matches(msg, k.Deploy):
		return m, m.deploy.Open()
	case key.Matches(msg, k.GDB):
		return m, m.openGDB()
	case key.Matches(msg, k.Crash):
		if !m.crash.CanOpen() {
			m.status.note = "no crashed VM to show"
			return m, nil
		}
		m.status.note = ""
		return m, m.crash.Open()
	default:
		return m, m.updatePanel(m.focus, msg)
	}
	return m, nil
}

// activeKeys are the global keys less those the focused panel owns.
func (m Model) activeKeys() keyMap {
	if o, ok := m.panels[m.focus].(panel.KeyOwner); ok {
		return m.keys.without(o.OwnKeys())
	}
	return m.keys
}

// control asks the loop for something. The loop's methods only queue a
// command, but they are still calls out of the model: they run as a Cmd.
func (m Model) control(f func(panel.Control)) tea.Cmd {
	c := m.deps.Control
	if c == nil {
		return nil
	}
	return func() tea.Msg {
		f(c)
		return nil
	}
}

// quit ends the loop, which stops the VM; the dashboard quits when the
// event stream closes. A second quit while stopping quits at once.
func (m Model) quit() (tea.Model, tea.Cmd) {
	if m.stop == nil || m.status.stopping {
		return m, tea.Quit
	}
	m.status.stopping = true
	m.stop()
	return m, nil
}

func (m Model) onClick(msg tea.MouseClickMsg) (tea.Model, tea.Cmd) {
	if m.showHelp {
		m.showHelp = false
		return m, nil
	}
	i, local, ok := m.panelAt(msg.Mouse())
	if !ok {
		return m, nil
	}
	if mate, ok := m.onTabHint(i, msg.X, msg.Y); ok {
		return m, m.setFocus(mate) // the other tab's name in the border
	}
	cmd := m.setFocus(i)
	if !m.frames[i].content().contains(msg.X, msg.Y) {
		return m, cmd // a click on the border or a collapsed title only focuses
	}
	return m, tea.Batch(cmd, m.updatePanel(i, tea.MouseClickMsg(local)))
}

// panelAt finds the panel under the mouse and the mouse position inside
// its content.
func (m Model) panelAt(mm tea.Mouse) (int, tea.Mouse, bool) {
	if m.tooSmall() {
		return 0, mm, false
	}
	for i, r := range m.frames {
		if r.contains(mm.X, mm.Y) {
			c := r.content()
			mm.X, mm.Y = mm.X-c.x, mm.Y-c.y
			return i, mm, true
		}
	}
	return 0, mm, false
}

// inFocused makes a mouse position relative to the focused panel's content.
func (m Model) inFocused(mm tea.Mouse) tea.Mouse {
	c := m.frames[m.focus].content()
	mm.X, mm.Y = mm.X-c.x, mm.Y-c.y
	return mm
}

// setFocus gives panel i the keyboard; the metrics or VMs panel also
// takes their shared place.
func (m *Model) setFocus(i int) tea.Cmd {
	if i == m.focus {
		return nil
	}
	m.panels[m.focus].Focus(false)
	m.focus = i
	m.panels[i].Focus(true)
	if _, ok := tabMate(i); ok {
		m.tab = i
	}
	return m.relayout() // stacked panels change size with focus
}

// updatePanel gives msg to panel i.
func (m *Model) updatePanel(i int, msg tea.Msg) tea.Cmd {
	p, cmd := m.panels[i].Update(msg)
	m.panels[i] = p
	return cmd
}

// broadcast gives msg to every panel.
func (m *Model) broadcast(msg tea.Msg) tea.Cmd {
	cmds := make([]tea.Cmd, 0, numPanels)
	for i := range m.panels {
		if cmd := m.updatePanel(i, msg); cmd != nil {
			cmds = append(cmds, cmd)
		}
	}
	return tea.Batch(cmds...)
}

func (m Model) tooSmall() bool { return m.width < minWidth || m.height < minHeight }

func (m Model) statusHeight() int {
	if m.width >= oneLineStatus {
		return 1
	}
	return 2
}

func (m Model) body() rect {
	sh := m.statusHeight()
	return rect{0, sh, m.width, m.height - sh - 1}
}

// relayout recomputes the frames and tells panels whose content size
// changed; collapsed and hidden panels keep their last size (and with it
// their scroll position). Panels that work only while on screen
// (panel.Visibility) are told whether they are; relayout returns what
// they ask for then.
func (m *Model) relayout() tea.Cmd {
	if m.tooSmall() {
		m.frames = [numPanels]rect{}
		return m.tellVisible()
	}
	body := m.body()
	m.frames = arrange(body, m.focus, m.maximised, m.tab)
	dw, dh := deployFrame(body)
	m.deploy.SetSize(dw-4, dh-2)
	cw, ch := crashFrame(body)
	m.crash.SetSize(cw-4, ch-2)
	for i, r := range m.frames {
		if r.h < 3 || r.w < 3 {
			continue
		}
		c := r.content()
		if m.sizes[i] != [2]int{c.w, c.h} {
			m.sizes[i] = [2]int{c.w, c.h}
			m.panels[i].SetSize(c.w, c.h)
		}
	}
	return m.tellVisible()
}

// tellVisible tells each panel.Visibility whether its content shows: a
// frame with at least one row and column inside its border, and nothing
// over the panels (help, the deploy or crash view), so that a panel under
// them samples nothing nobody sees.
func (m *Model) tellVisible() tea.Cmd {
	m.wasCovered = m.covered()
	var cmds []tea.Cmd
	for i, p := range m.panels {
		if v, ok := p.(panel.Visibility); ok {
			r := m.frames[i]
			cmds = append(cmds, v.SetVisible(r.h >= 3 && r.w >= 3 && !m.wasCovered))
		}
	}
	return tea.Batch(cmds...)
}
