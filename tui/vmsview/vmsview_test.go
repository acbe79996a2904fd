package vmsview

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/ukdev/ukdev/tui/panel"
	"github.com/ukdev/ukdev/tui/panel/paneltest"
)

// fakeSource lists rows (or fails with err) and records every call.
type fakeSource struct {
	mu      sync.Mutex
	rows    []Row
	err     error
	actErr  error
	lists   int
	acts    []string
	attach  []string
	session *fakeSession // what Attach returns; nil: a new one
}

func (f *fakeSource) List(ctx context.Context) ([]Row, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	if _, ok := ctx.Deadline(); !ok {
		return nil, errors.New("List called without a deadline")
	}
	return slices.Clone(f.rows), f.err
}

func (f *fakeSource) Act(ctx context.Context, project string, a Action) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.acts = append(f.acts, a.String()+" "+project)
	if _, ok := ctx.Deadline(); !ok {
		return errors.New("Act called without a deadline")
	}
	return f.actErr
}

func (f *fakeSource) Attach(project string) tea.ExecCommand {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attach = append(f.attach, project)
	if f.session == nil {
		return &fakeSession{}
	}
	return f.session
}

// fakeSession is an attached session that ends at once with err.
type fakeSession struct {
	err error
	ran chan struct{}
}

func (s *fakeSession) Run() error {
	if s.ran != nil {
		close(s.ran)
	}
	return s.err
}
func (s *fakeSession) SetStdin(io.Reader)  {}
func (s *fakeSession) SetStdout(io.Writer) {}
func (s *fakeSession) SetStderr(io.Writer) {}

// machine is three VMs, out of order: this dashboard's (hello), one
// another dashboard shows (api) and a detached one (web).
func machine() []Row {
	return []Row{
		{Project: "web", Flavor: "nanos", State: "paused", Boot: 1, Uptime: 3*time.Hour + 4*time.Minute, Accel: "tcg", RSS: 96 << 20,
			Ports: []string{"tcp 8080→8080"}, PID: 5120, Detached: true},
		{Project: "hello", Flavor: "elf", State: "running", Boot: 2, Uptime: 8 * time.Second, Accel: "tcg", CPU: 12.5, RSS: 41 << 20,
			Ports: []string{"tcp 8080→80"}, PID: 4200, Attached: true, Self: true},
		{Project: "api", Flavor: "unikraft", State: "running", Boot: 7, Uptime: 25 * time.Minute, Accel: "kvm", CPU: 3.25, RSS: 64 << 20,
			Ports: []string{"tcp 9000→9000", "udp 5353→53"}, PID: 3999, Attached: true},
	}
}

// newModel is a focused panel w×h over src, on screen, with its first
// listing done when src lists.
func newModel(t *testing.T, src Source, w, h int) *Model {
	t.Helper()
	m := New(panel.Deps{Styles: panel.NewStyles(false), VMs: src, Context: context.Background()})
	m.SetSize(w, h)
	m.Focus(true)
	run(m, m.SetVisible(true))
	return m
}

// run executes cmd and gives the panel its answer, and the answers to the
// commands that returns.
func run(m *Model, cmd tea.Cmd) {
	for cmd != nil {
		_, cmd = m.Update(cmd())
	}
}

// press gives the panel the keys and runs what they return.
func press(m *Model, keys ...string) {
	for _, k := range keys {
		_, cmd := m.Update(paneltest.Press(k))
		run(m, cmd)
	}
}

func TestList(t *testing.T) {
	src := &fakeSource{rows: machine()}
	m := newModel(t, src, 100, 8)
	if src.lists != 1 {
		t.Fatalf("appearing listed %d times, want 1", src.lists)
	}
	var order []string
	for _, r := range m.rows {
		order = append(order, r.Project)
	}
	if want := []string{"api", "hello", "web"}; !slices.Equal(order, want) {
		t.Errorf("rows %v, want sorted by project %v", order, want)
	}
	if got := m.Title(); got != "VMs · 3" {
		t.Errorf("title %q", got)
	}

	// The selection follows its VM when a listing reorders the rows.
	press(m, "j")
	if r, _ := m.selected(); r.Project != "hello" {
		t.Fatalf("j selected %q, want hello", r.Project)
	}
	src.rows = append(machine(), Row{Project: "aaa", State: "building"})
	tick(m)
	if r, _ := m.selected(); r.Project != "hello" || len(m.rows) != 4 {
		t.Errorf("after a new VM: selected %q among %d rows, want hello among 4", r.Project, len(m.rows))
	}
	// The selected VM gone, the selection stays in place.
	src.rows = slices.DeleteFunc(machine(), func(r Row) bool { return r.Project == "hello" })
	tick(m)
	if r, _ := m.selected(); r.Project != "web" {
		t.Errorf("after the selected VM went: selected %q, want web", r.Project)
	}

	// A failed listing says why and keeps the last rows.
	src.err = errors.New("registry: read: permission denied")
	tick(m)
	view := m.View()
	paneltest.WantText(t, view, "cannot list VMs: registry: read: permission denied", "api", "web")
	if len(m.rows) != 2 {
		t.Errorf("a failed listing left %d rows, want the last 2", len(m.rows))
	}
	src.err = nil
	tick(m)
	if strings.Contains(m.View(), "cannot list") {
		t.Error("the error stays after a good listing")
	}

	// Nothing runs: the panel says so.
	src.rows = nil
	tick(m)
	paneltest.WantText(t, m.View(), "no VMs run on this machine")
}

// tick runs one tick to completion.
func tick(m *Model) {
	_, cmd := m.Update(panel.TickMsg(time.Time{}))
	run(m, cmd)
}

// TestPolling checks that the panel lists only while on screen, at most
// once a tick, and never twice at once.
func TestPolling(t *testing.T) {
	src := &fakeSource{rows: machine()}
	m := New(panel.Deps{Styles: panel.NewStyles(false), VMs: src})
	m.SetSize(60, 8)
	if cmd := m.Init(); cmd != nil {
		t.Error("Init returned a command: nothing shows yet")
	}
	if _, cmd := m.Update(panel.TickMsg(time.Time{})); cmd != nil {
		t.Error("a tick while hidden lists")
	}
	if m.Ticking() {
		t.Error("a hidden panel asks for ticks")
	}
	first := m.SetVisible(true)
	if !m.Ticking() {
		t.Error("a shown panel asks for no ticks")
	}
	if first == nil {
		t.Fatal("appearing does not list")
	}
	if m.SetVisible(false) != nil || m.SetVisible(true) != nil {
		t.Error("hidden and shown again in the same tick lists twice")
	}
	if _, cmd := m.Update(panel.TickMsg(time.Time{})); cmd != nil {
		t.Error("a tick lists while a listing runs")
	}
	m.Update(first())
	if _, cmd := m.Update(panel.TickMsg(time.Time{})); cmd == nil {
		t.Error("a tick after the listing came does not list")
	} else {
		m.Update(cmd())
	}
	m.SetVisible(false)
	if _, cmd := m.Update(panel.TickMsg(time.Time{})); cmd != nil {
		t.Error("a tick lists after the panel was hidden")
	}
	if m.Ticking() {
		t.Error("a panel hidden again asks for ticks")
	}
	if src.lists != 2 {
		t.Errorf("listed %d times, want 2", src.lists)
	}
}

func TestActions(t *testing.T) {
	tests := []struct {
		name      string
		keys      []string
		actErr    error
		acts      []string
		note      string // in the view after the keys
		capturing bool
	}{
		{name: "p pauses a running VM", keys: []string{"p"}, acts: []string{"pause api"}, note: "paused api"},
		{name: "p resumes a paused VM", keys: []string{"j", "j", "p"}, acts: []string{"resume web"}, note: "resumed web"},
		{name: "p on another state says so", keys: []string{"k", "p"}, note: "aaa is building: nothing to pause or resume"},
		{name: "b reboots", keys: []string{"j", "b"}, acts: []string{"reboot hello"}, note: "rebooted hello"},
		{name: "x asks first", keys: []string{"x"}, note: "stop the VM of api? y stops it, n keeps it", capturing: true},
		{name: "x then y stops", keys: []string{"x", "y"}, acts: []string{"stop api"}, note: "stopped api"},
		{name: "x then n keeps it", keys: []string{"x", "n"}, note: "kept api running"},
		{name: "x then esc keeps it", keys: []string{"x", "esc"}, note: "kept api running"},
		{name: "x then another key keeps it", keys: []string{"x", "q"}, note: "kept api running"},
		{name: "an action that fails says why", keys: []string{"b"}, actErr: errors.New("manager: reboot: connection refused"),
			acts: []string{"reboot api"}, note: "reboot api: manager: reboot: connection refused"},
		{name: "a stop that fails says why", keys: []string{"x", "y"}, actErr: errors.New("manager: stop: timeout"),
			acts: []string{"stop api"}, note: "stop api: manager: stop: timeout"},
		{name: "scroll keys are not actions", keys: []string{"j", "k", "r", "s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := append(machine(), Row{Project: "aaa", State: "building"})
			src := &fakeSource{rows: rows, actErr: tt.actErr}
			m := newModel(t, src, 100, 8)
			press(m, "j") // aaa → api
			press(m, tt.keys...)
			if !slices.Equal(src.acts, tt.acts) {
				t.Errorf("actions %q, want %q", src.acts, tt.acts)
			}
			if m.Capturing() != tt.capturing {
				t.Errorf("capturing = %v, want %v", m.Capturing(), tt.capturing)
			}
			view := paneltest.CheckSize(t, m.View(), 100, 8)
			// Five rows of list (header and four VMs), then the note.
			last := strings.TrimSpace(ansi.Strip(view[len(view)-1]))
			if last != tt.note {
				t.Errorf("last line %q, want %q", last, tt.note)
			}
		})
	}
}

// TestConfirmation checks the stop question: while it waits, the panel
// captures every key, names the VM in its title and lists only y and n.
func TestConfirmation(t *testing.T) {
	src := &fakeSource{rows: machine()}
	m := newModel(t, src, 80, 6)
	press(m, "x")
	if !m.Capturing() || m.Title() != "VMs · 3 · stop api? y/n" {
		t.Errorf("after x: capturing %v, title %q", m.Capturing(), m.Title())
	}
	var keys []string
	for _, b := range m.KeyBindings() {
		keys = append(keys, b.Help().Key)
	}
	if want := []string{"y", "n/esc"}; !slices.Equal(keys, want) {
		t.Errorf("keys while asking %q, want %q", keys, want)
	}
	// The VM goes before the answer: nothing to stop.
	src.rows = machine()[:2]
	tick(m)
	if m.Capturing() || !strings.Contains(m.View(), "the VM to stop is gone") {
		t.Errorf("the question stays after its VM went:\n%s", m.View())
	}
	press(m, "y")
	if len(src.acts) != 0 {
		t.Errorf("actions %q after the VM went", src.acts)
	}
}

// TestAttach runs the panel in a real program: attach suspends it with
// tea.Exec, runs the session and comes back with how it ended.
func TestAttach(t *testing.T) {
	tests := []struct {
		name   string
		keys   []string
		err    error
		attach []string
		note   string
	}{
		{name: "enter attaches", keys: []string{"enter"}, attach: []string{"api"}, note: "detached from api"},
		{name: "a attaches", keys: []string{"j", "j", "a"}, attach: []string{"web"}, note: "detached from web"},
		{name: "not to this dashboard's VM", keys: []string{"j", "a"}, note: "this dashboard shows hello already"},
		{name: "a failed session says why", keys: []string{"a"}, err: errors.New("manager: attach: api shows a dashboard already"),
			attach: []string{"api"}, note: "attach api: manager: attach: api shows a dashboard already"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			session := &fakeSession{err: tt.err, ran: make(chan struct{})}
			src := &fakeSource{rows: machine(), session: session}
			m := newModel(t, src, 80, 6)
			p := tea.NewProgram(host{m: m}, tea.WithInput(nil), tea.WithOutput(io.Discard), tea.WithoutSignals(),
				tea.WithWindowSize(80, 6))
			done := make(chan error, 1)
			go func() {
				_, err := p.Run()
				done <- err
			}()
			for _, k := range tt.keys {
				p.Send(paneltest.Press(k))
			}
			p.Send(keysSent{})
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				p.Kill()
				t.Fatal("the program did not come back")
			}
			select {
			case <-session.ran:
				if tt.attach == nil {
					t.Error("a session ran")
				}
			default:
				if tt.attach != nil {
					t.Error("no session ran")
				}
			}
			if !slices.Equal(src.attach, tt.attach) {
				t.Errorf("attached to %q, want %q", src.attach, tt.attach)
			}
			paneltest.WantText(t, m.View(), tt.note)
		})
	}
}

// host stands in for the dashboard's root around the panel. It quits
// once the keys are in and no session runs, or when a session ends.
type host struct{ m *Model }

// keysSent follows the test's keys.
type keysSent struct{}

func (h host) Init() tea.Cmd { return nil }

func (h host) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg.(type) {
	case keysSent:
		if strings.HasPrefix(h.m.note, "attached to") {
			return h, nil // the session's end quits
		}
		return h, tea.Quit
	case attachDoneMsg:
		h.m.Update(msg)
		return h, tea.Quit
	}
	_, cmd := h.m.Update(msg)
	return h, cmd
}

func (h host) View() tea.View { return tea.NewView(h.m.View()) }

func TestNoSource(t *testing.T) {
	m := newModel(t, nil, 60, 4)
	paneltest.WantText(t, m.View(), "the VM manager is not available")
	if _, cmd := m.Update(panel.TickMsg(time.Time{})); cmd != nil {
		t.Error("a tick without a source returned a command")
	}
	press(m, "p")
	paneltest.WantText(t, m.View(), "the VM manager is not available")
}

func TestKeyBindings(t *testing.T) {
	m := newModel(t, &fakeSource{rows: machine()}, 60, 4)
	var keys []string
	for _, b := range m.KeyBindings() {
		keys = append(keys, b.Keys()...)
	}
	if want := []string{"j", "down", "k", "up", "enter", "a", "p", "b", "x"}; !slices.Equal(keys, want) {
		t.Errorf("keys %q, want %q", keys, want)
	}
	var own []string
	for _, b := range m.OwnKeys() {
		own = append(own, b.Keys()...)
	}
	if !slices.Equal(own, []string{"p"}) {
		t.Errorf("own keys %q, want p only", own)
	}
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name    string
		w, h    int
		rows    []Row
		err     error
		keys    []string
		focused bool
		source  bool
	}{
		{name: "80x24-stacked-78x7", w: 78, h: 7, rows: machine(), keys: []string{"j"}, focused: true, source: true},
		{name: "120x40-grid-58x9", w: 58, h: 9, rows: machine(), focused: true, source: true},
		{name: "120x40-unfocused-58x9", w: 58, h: 9, rows: machine(), source: true},
		{name: "200x60-grid-98x15", w: 98, h: 15, rows: machine(), source: true},
		{name: "narrow-30x5", w: 30, h: 5, rows: machine(), focused: true, source: true},
		{name: "confirm-78x7", w: 78, h: 7, rows: machine(), keys: []string{"x"}, focused: true, source: true},
		{name: "error-58x9", w: 58, h: 9, rows: machine(), err: errors.New("manager: list: permission denied"), focused: true, source: true},
		{name: "scrolled-58x4", w: 58, h: 4, rows: append(machine(), Row{Project: "zeta", State: "exited"}), keys: []string{"j", "j", "j"}, focused: true, source: true},
		{name: "no-manager-58x9", w: 58, h: 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var src Source
			fake := &fakeSource{rows: tt.rows}
			if tt.source {
				src = fake
			}
			m := newModel(t, src, tt.w, tt.h)
			if tt.err != nil {
				fake.err = tt.err
				tick(m)
			}
			press(m, tt.keys...)
			m.Focus(tt.focused)
			paneltest.Golden(t, paneltest.Snapshot(t, m, tt.w, tt.h))
		})
	}
}

func TestMouse(t *testing.T) {
	m := newModel(t, &fakeSource{rows: machine()}, 60, 3)
	tests := []struct {
		msg  tea.Msg
		want string
	}{
		{tea.MouseClickMsg{X: 5, Y: 2, Button: tea.MouseLeft}, "hello"},
		{tea.MouseClickMsg{X: 5, Y: 0, Button: tea.MouseLeft}, "hello"}, // the header
		{tea.MouseWheelMsg{Button: tea.MouseWheelDown}, "web"},
		{tea.MouseClickMsg{X: 5, Y: 1, Button: tea.MouseLeft}, "hello"}, // scrolled: hello, web
		{tea.MouseWheelMsg{Button: tea.MouseWheelUp}, "api"},
	}
	for i, tt := range tests {
		m.Update(tt.msg)
		if r, _ := m.selected(); r.Project != tt.want {
			t.Errorf("step %d (%T): selected %q, want %q", i, tt.msg, r.Project, tt.want)
		}
	}
}

// TestHostileNames checks that names and errors from other processes
// reach the screen without escape sequences or controls, one row each.
func TestHostileNames(t *testing.T) {
	evil := "evil\x1b]52;c;aGk=\x07\x1b[2J\tname\r\u202e"
	src := &fakeSource{rows: []Row{{Project: evil, Flavor: "elf\x1b[31m", State: "running", Ports: []string{"tcp\n8080"}}}}
	m := newModel(t, src, 70, 5)
	press(m, "x")
	src.err = errors.New("manager: read " + evil)
	tick(m)
	for _, text := range []string{m.View(), m.Title()} {
		plain := ansi.Strip(text)
		for _, r := range plain {
			if r != '\n' && (r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x202e) {
				t.Errorf("control %U reached the screen: %q", r, plain)
			}
		}
	}
	paneltest.CheckSize(t, m.View(), 70, 5)
	paneltest.WantText(t, ansi.Strip(m.View()), "evil name", "<U+202E>", "cannot list VMs: manager: read evil")
	// The action still gets the project's own name.
	press(m, "y")
	if len(src.acts) != 1 || src.acts[0] != "stop "+evil {
		t.Errorf("actions %q, want the stop of the project as named", src.acts)
	}
}
