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
	return []key.Binding{key.NewBinding(key.WithKeys("x"), key.WithHelp("x", p.name+" action"))}
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
func (fakeInspector) HostStats() (devloop.HostStats, error) {
	return devloop.HostStats{}, devloop.ErrNoVM
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

// fakeModel is a root model over five fake panels, sized w×h.
func fakeModel(w, h int) (Model, [numPanels]*fakePanel, *fakeControl) {
	var fakes [numPanels]*fakePanel
	var panels [numPanels]panel.Panel
	for i, name := range []string{"console", "logs", "build", "memory", "metrics"} {
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
