package tui

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/tui/panel"
)

// fakePanel records what the root gives it.
type fakePanel struct {
	name          string
	width, height int
	focused       bool
	capturing     bool
	msgs          []tea.Msg
	sizes         [][2]int
	// own are the keys the panel takes over the global ones
	// (panel.KeyOwner); visible is what the root last said about it
	// (panel.Visibility), shows how often it said it changed.
	own     []key.Binding
	visible bool
	shows   int
	// samples: the panel needs ticks while visible (panel.Ticker), as the
	// metrics, memory and VMs panels do.
	samples bool
}

func (p *fakePanel) Init() tea.Cmd { return nil }
func (p *fakePanel) Update(msg tea.Msg) (panel.Panel, tea.Cmd) {
	p.msgs = append(p.msgs, msg)
	return p, nil
}
func (p *fakePanel) View() string {
	lines := make([]string, p.height)
	for i := range lines {
		lines[i] = strings.Repeat(".", p.width)
	}
	if p.height > 0 {
		l := fmt.Sprintf("%s %dx%d", p.name, p.width, p.height)
		if len(l) <= p.width {
			lines[0] = l + strings.Repeat(".", p.width-len(l))
		}
	}
	return strings.Join(lines, "\n")
}
func (p *fakePanel) SetSize(w, h int) {
	p.width, p.height = w, h
	p.sizes = append(p.sizes, [2]int{w, h})
}
func (p *fakePanel) Title() string   { return p.name }
func (p *fakePanel) Focus(f bool)    { p.focused = f }
func (p *fakePanel) Capturing() bool { return p.capturing }
func (p *fakePanel) KeyBindings() []key.Binding {
	return append([]key.Binding{key.NewBinding(key.WithKeys("x"), key.WithHelp("x", p.name+" action"))}, p.own...)
}
func (p *fakePanel) OwnKeys() []key.Binding { return p.own }
func (p *fakePanel) Ticking() bool          { return p.samples && p.visible }
func (p *fakePanel) SetVisible(v bool) tea.Cmd {
	if v && !p.visible {
		p.shows++
	}
	p.visible = v
	return nil
}

// keys returns the key presses the panel received, as strings.
func (p *fakePanel) keys() []string {
	var out []string
	for _, m := range p.msgs {
		if k, ok := m.(tea.KeyPressMsg); ok {
			out = append(out, k.String())
		}
	}
	return out
}

// fakeControl records the loop commands asked for.
type fakeControl struct {
	mu    sync.Mutex
	calls []string
	input []byte
}

func (c *fakeControl) record(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, s)
}
func (c *fakeControl) Reboot()      { c.record("Reboot") }
func (c *fakeControl) Rebuild()     { c.record("Rebuild") }
func (c *fakeControl) StopVM()      { c.record("StopVM") }
func (c *fakeControl) StartVM()     { c.record("StartVM") }
func (c *fakeControl) TogglePause() { c.record("TogglePause") }
func (c *fakeControl) ToggleWatch() { c.record("ToggleWatch") }

func (c *fakeControl) PlanDeploy(name string) { c.record("PlanDeploy " + name) }
func (c *fakeControl) ConfirmDeploy()         { c.record("ConfirmDeploy") }
func (c *fakeControl) CancelDeploy()          { c.record("CancelDeploy") }
func (c *fakeControl) WriteConsole(p []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.input = append(c.input, p...)
	return nil
}

func (c *fakeControl) Calls() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.calls...)
}

// fakeInspector has no VM.
type fakeInspector struct{}

func (fakeInspector) Current() (devloop.VMInfo, bool)            { return devloop.VMInfo{}, false }
func (fakeInspector) MemorySize(context.Context) (uint64, error) { return 0, devloop.ErrNoVM }
func (fakeInspector) BalloonStats(context.Context) (devloop.BalloonStats, error) {
	return devloop.BalloonStats{}, devloop.ErrNoVM
}
func (fakeInspector) ReadMemory(context.Context, uint64, uint64, bool) ([]byte, error) {
	return nil, devloop.ErrNoVM
}
func (fakeInspector) Registers(context.Context) (devloop.Registers, error) {
	return devloop.Registers{}, devloop.ErrNoVM
}

func (fakeInspector) HostStats() (devloop.HostStats, error) {
	return devloop.HostStats{}, devloop.ErrNoVM
}

// fakeVMs lists fixed VMs and records the actions asked for.
type fakeVMs struct {
	rows  []panel.VMRow
	mu    sync.Mutex
	calls []string
}

func (f *fakeVMs) List(context.Context) ([]panel.VMRow, error) { return f.rows, nil }
func (f *fakeVMs) Act(_ context.Context, project string, a panel.VMAction) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, a.String()+" "+project)
	return nil
}
func (f *fakeVMs) Attach(string) tea.ExecCommand { return nil }

// machineVMs are the VMs of the view tests: this dashboard's, a detached
// one and one another dashboard shows.
func machineVMs() *fakeVMs {
	return &fakeVMs{rows: []panel.VMRow{
		{Project: "web", Flavor: "nanos", State: "paused", Boot: 1, Uptime: 3*time.Hour + 4*time.Minute, Accel: "tcg", CPU: 0, RSS: 96 << 20,
			Ports: []string{"tcp 8080→8080"}, PID: 5120, Detached: true},
		{Project: "hello", Flavor: "elf", State: "running", Boot: 2, Uptime: 8 * time.Second, Accel: "tcg", CPU: 12.5, RSS: 41 << 20,
			Ports: []string{"tcp 8080→80"}, PID: 4200, Attached: true, Self: true},
		{Project: "api", Flavor: "unikraft", State: "running", Boot: 7, Uptime: 25 * time.Minute, Accel: "tcg", CPU: 3.2, RSS: 64 << 20,
			Ports: []string{"tcp 9000→9000", "udp 5353→53"}, PID: 3999, Attached: true},
	}}
}

// fakeGDB plays the loop's OpenGDB: it returns session, or err.
type fakeGDB struct {
	session devloop.GDBSession
	err     error
	calls   int
}

func (g *fakeGDB) OpenGDB(context.Context, bool) (devloop.GDBSession, error) {
	g.calls++
	return g.session, g.err
}

// pinnedNow is the clock of the view tests.
var pinnedNow = time.Date(2025, 3, 1, 12, 3, 20, 0, time.Local)

func testDeps(c panel.Control) panel.Deps {
	dc, _ := c.(panel.DeployControl)
	return panel.Deps{
		Styles:  panel.NewStyles(false),
		Control: c,
		Deploy:  dc,
		GDB:     &fakeGDB{err: devloop.ErrNoVM},
		Now:     func() time.Time { return pinnedNow },
		Context: context.Background(),
	}
}

// fakeModel is a root model over six fake panels, sized w×h.
func fakeModel(w, h int) (Model, [numPanels]*fakePanel, *fakeControl) {
	var fakes [numPanels]*fakePanel
	var panels [numPanels]panel.Panel
	for i, name := range []string{"console", "logs", "build", "memory", "metrics", "VMs"} {
		fakes[i] = &fakePanel{name: name}
		panels[i] = fakes[i]
	}
	c := &fakeControl{}
	m := newModel(testDeps(c), panels, nil, Options{Project: "hello", Flavor: "elf"})
	m = update(m, tea.WindowSizeMsg{Width: w, Height: h})
	return m, fakes, c
}

// update runs one message through the model, executing the returned
// commands that talk to the loop (they return nil) but not the others.
func update(m Model, msg tea.Msg) Model {
	next, _ := m.Update(msg)
	return next.(Model)
}

// updateRun is update that also runs the returned command tree, reporting
// whether it asked to quit.
func updateRun(m Model, msg tea.Msg) (Model, bool) {
	next, cmd := m.Update(msg)
	return next.(Model), runCmd(cmd)
}

// updateAll runs one message through the model and feeds it what the
// returned commands answer, except ticks and event waits (which block).
func updateAll(m Model, msg tea.Msg) Model {
	next, cmd := m.Update(msg)
	m = next.(Model)
	for _, reply := range replies(cmd) {
		m = updateAll(m, reply)
	}
	return m
}

// replies runs cmd and any batch it returns, giving back the messages
// that come within 100 ms.
func replies(cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	done := make(chan tea.Msg, 1)
	go func() { done <- cmd() }()
	select {
	case msg := <-done:
		if batch, ok := msg.(tea.BatchMsg); ok {
			var out []tea.Msg
			for _, c := range batch {
				out = append(out, replies(c)...)
			}
			return out
		}
		if msg != nil {
			return []tea.Msg{msg}
		}
	case <-time.After(100 * time.Millisecond):
	}
	return nil
}

// runCmd executes a command and any batch it returns, except ticks and
// event waits (which block), and reports whether one of them quits.
func runCmd(cmd tea.Cmd) bool {
	if cmd == nil {
		return false
	}
	done := make(chan tea.Msg, 1)
	go func() { done <- cmd() }()
	select {
	case msg := <-done:
		switch msg := msg.(type) {
		case tea.QuitMsg:
			return true
		case tea.BatchMsg:
			quit := false
			for _, c := range msg {
				quit = runCmd(c) || quit
			}
			return quit
		}
	case <-time.After(100 * time.Millisecond):
		// A tick or an event wait: not a loop command.
	}
	return false
}
