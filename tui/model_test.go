package tui

import (
	"slices"
	"strings"
	"testing"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/tui/panel"
	"github.com/ukdev/ukdev/tui/panel/paneltest"
)

func TestTUIKeys(t *testing.T) {
	running := panel.EventsMsg{{Type: devloop.TypeVMStart, Boot: 1, Time: pinnedNow}}
	tests := []struct {
		name      string
		setup     panel.EventsMsg // events before the keys
		capturing bool            // the console captures keys
		keys      []string
		focus     int
		maximised bool
		help      bool
		calls     []string
		quit      bool
		toConsole []string // keys the console panel received
		toVMs     []string // keys the VMs panel received
	}{
		{name: "tab cycles", keys: []string{"tab", "tab"}, focus: panelBuild},
		{name: "shift+tab wraps", keys: []string{"shift+tab"}, focus: panelVMs},
		{name: "6 focuses the VMs panel", keys: []string{"6"}, focus: panelVMs},
		{name: "tab from metrics to VMs", keys: []string{"5", "tab"}, focus: panelVMs},
		{name: "the VMs panel owns p", keys: []string{"6", "p", "r"}, focus: panelVMs, calls: []string{"Reboot"}, toVMs: []string{"p"}},
		{name: "p is global elsewhere", keys: []string{"5", "p"}, focus: panelMetrics, calls: []string{"TogglePause"}},
		{name: "digits focus", keys: []string{"4"}, focus: panelMemory},
		{name: "digit 2 then 1", keys: []string{"2", "1"}, focus: panelConsole},
		{name: "f maximises and restores", keys: []string{"f"}, maximised: true},
		{name: "f twice", keys: []string{"f", "f"}},
		{name: "help overlay", keys: []string{"?"}, help: true},
		{name: "esc closes help", keys: []string{"?", "esc"}},
		{name: "? closes help", keys: []string{"?", "?"}},
		{name: "a key under help closes it and acts", keys: []string{"?", "r", "?", "3"}, focus: panelBuild, calls: []string{"Reboot"}},
		{name: "q quits under help", keys: []string{"?", "q"}, quit: true},
		{name: "reboot", keys: []string{"r"}, calls: []string{"Reboot"}},
		{name: "rebuild", keys: []string{"R"}, calls: []string{"Rebuild"}},
		{name: "pause", keys: []string{"p"}, calls: []string{"TogglePause"}},
		{name: "watch", keys: []string{"w"}, calls: []string{"ToggleWatch"}},
		{name: "s starts without a VM", keys: []string{"s"}, calls: []string{"StartVM"}},
		{name: "s stops a running VM", setup: running, keys: []string{"s"}, calls: []string{"StopVM"}},
		{name: "q quits", keys: []string{"q"}, quit: true},
		{name: "ctrl+c quits", keys: []string{"ctrl+c"}, quit: true},
		{name: "other keys go to the focused panel", keys: []string{"j", "G"}, toConsole: []string{"j", "G"}},
		{
			name: "a capturing panel gets every key", capturing: true,
			keys:      []string{"q", "r", "2", "tab", "?", "ctrl+c"},
			toConsole: []string{"q", "r", "2", "tab", "?", "ctrl+c"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, fakes, c := fakeModel(120, 40)
			fakes[panelVMs].own = []key.Binding{key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "pause the selected VM"))}
			if tt.setup != nil {
				m = update(m, tt.setup)
			}
			fakes[panelConsole].capturing = tt.capturing
			quit := false
			for _, k := range tt.keys {
				var q bool
				m, q = updateRun(m, paneltest.Press(k))
				quit = quit || q
			}
			if m.focus != tt.focus {
				t.Errorf("focus = %d, want %d", m.focus, tt.focus)
			}
			for i, f := range fakes {
				if f.focused != (i == tt.focus) {
					t.Errorf("panel %s focused = %v", f.name, f.focused)
				}
			}
			if m.maximised != tt.maximised {
				t.Errorf("maximised = %v, want %v", m.maximised, tt.maximised)
			}
			if m.showHelp != tt.help {
				t.Errorf("showHelp = %v, want %v", m.showHelp, tt.help)
			}
			if got := c.Calls(); !slices.Equal(got, tt.calls) {
				t.Errorf("loop calls = %v, want %v", got, tt.calls)
			}
			if quit != tt.quit {
				t.Errorf("quit = %v, want %v", quit, tt.quit)
			}
			if got := fakes[panelConsole].keys(); !slices.Equal(got, tt.toConsole) {
				t.Errorf("console got keys %v, want %v", got, tt.toConsole)
			}
			if got := fakes[panelVMs].keys(); !slices.Equal(got, tt.toVMs) {
				t.Errorf("VMs panel got keys %v, want %v", got, tt.toVMs)
			}
		})
	}
}

// TestTUIDeployKeys drives a deploy from the dashboard: d opens the
// deploy view and asks for a plan, which takes every key while open; y
// confirms, esc cancels, and esc closes the result.
func TestTUIDeployKeys(t *testing.T) {
	plan := panel.EventsMsg{
		{Type: devloop.TypeDeployStart, Deploy: "prod", Target: "command", Build: 2},
		{Type: devloop.TypeDeployPlan, Deploy: "prod", Target: "command", Build: 2, Plan: []devloop.PlanRow{{Key: "command", Value: "./deploy.sh"}}},
	}
	done := panel.EventsMsg{{Type: devloop.TypeDeployDone, Deploy: "prod", Build: 2, Instance: "i-1", ElapsedMS: new(float64)}}
	tests := []struct {
		name   string
		keys   []string
		after  panel.EventsMsg // sent after the keys, then esc
		calls  []string
		open   bool
		quit   bool
		footer string
	}{
		{name: "d asks for a plan", keys: []string{"d"}, calls: []string{"PlanDeploy "}, open: true, footer: "esc cancel the deploy"},
		{name: "the view takes every key", keys: []string{"d", "q", "r", "2", "?"}, calls: []string{"PlanDeploy "}, open: true},
		{name: "y confirms", keys: []string{"d", "plan", "y"}, calls: []string{"PlanDeploy ", "ConfirmDeploy"}, open: true},
		{name: "n declines", keys: []string{"d", "plan", "n"}, calls: []string{"PlanDeploy ", "CancelDeploy"}},
		{name: "esc cancels a deploy", keys: []string{"d", "plan", "y", "esc"}, calls: []string{"PlanDeploy ", "ConfirmDeploy", "CancelDeploy"}, open: true},
		{name: "esc closes the result", keys: []string{"d", "plan", "y"}, after: done, calls: []string{"PlanDeploy ", "ConfirmDeploy"}},
		{name: "q quits again once closed", keys: []string{"d", "plan", "n", "q"}, calls: []string{"PlanDeploy ", "CancelDeploy"}, quit: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, fakes, c := fakeModel(120, 40)
			quit := false
			for _, k := range tt.keys {
				if k == "plan" {
					m = update(m, plan)
					continue
				}
				var q bool
				m, q = updateRun(m, paneltest.Press(k))
				quit = quit || q
			}
			if tt.after != nil {
				m = update(m, tt.after)
				m, _ = updateRun(m, paneltest.Press("esc"))
			}
			if got := c.Calls(); !slices.Equal(got, tt.calls) {
				t.Errorf("loop calls = %v, want %v", got, tt.calls)
			}
			if m.deploy.Active() != tt.open || quit != tt.quit {
				t.Errorf("deploy view open = %v, quit = %v; want %v, %v", m.deploy.Active(), quit, tt.open, tt.quit)
			}
			if m.focus != panelConsole || m.showHelp || len(fakes[panelConsole].keys()) > 0 {
				t.Errorf("keys leaked past the deploy view: focus %d, help %v, console keys %v", m.focus, m.showHelp, fakes[panelConsole].keys())
			}
			if tt.footer != "" {
				if f := m.footerLine(); !strings.Contains(f, tt.footer) || strings.Contains(f, "quit") {
					t.Errorf("footer %q, want only the deploy view's keys", f)
				}
			}
		})
	}
}

// TestTUIQuitStopsLoopFirst checks that q with a loop attached stops the
// loop and waits for the event stream to close before quitting; a second q
// quits at once.
func TestTUIQuitStopsLoopFirst(t *testing.T) {
	m, _, _ := fakeModel(120, 40)
	stopped := 0
	m.stop = func() { stopped++ }
	m, quit := updateRun(m, paneltest.Press("q"))
	if quit || stopped != 1 || !m.status.stopping {
		t.Fatalf("after q: quit=%v stopped=%d stopping=%v; want the loop stopped and no quit yet", quit, stopped, m.status.stopping)
	}
	if !strings.Contains(m.render(), "stopping") {
		t.Errorf("the screen does not say it is stopping:\n%s", m.render())
	}
	if _, quit := updateRun(m, eventsClosedMsg{}); !quit {
		t.Error("the end of the event stream does not quit")
	}
	if _, quit := updateRun(m, paneltest.Press("q")); !quit || stopped != 1 {
		t.Errorf("second q: quit=%v stopped=%d; want an immediate quit", quit, stopped)
	}
}

func TestTUIResize(t *testing.T) {
	tests := []struct {
		name      string
		w, h      int
		keys      []string
		want      map[int][2]int // content sizes
		tooSmall  bool
		collapsed []int // stacked panels reduced to a title line
	}{
		{
			name: "grid 120x40", w: 120, h: 40,
			want: map[int][2]int{panelConsole: {70, 24}, panelLogs: {46, 11}, panelBuild: {46, 11}, panelMemory: {58, 9}, panelMetrics: {58, 9}},
		},
		{
			name: "stacked 70x30", w: 70, h: 30,
			want: map[int][2]int{panelConsole: {68, 13}, panelLogs: {68, 1}, panelBuild: {68, 1}, panelMemory: {68, 1}, panelMetrics: {68, 1}},
		},
		{
			name: "stacked follows focus", w: 70, h: 30, keys: []string{"3"},
			want: map[int][2]int{panelBuild: {68, 13}, panelConsole: {68, 1}},
		},
		{
			name: "maximised", w: 120, h: 40, keys: []string{"2", "f"},
			want: map[int][2]int{panelLogs: {118, 35}},
		},
		{
			name: "small terminal collapses the others", w: 60, h: 15,
			want: map[int][2]int{panelConsole: {58, 6}}, collapsed: []int{panelLogs, panelBuild, panelMemory, panelMetrics},
		},
		{name: "too small", w: 59, h: 30, tooSmall: true},
		{name: "too short", w: 100, h: 14, tooSmall: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, fakes, _ := fakeModel(tt.w, tt.h)
			for _, k := range tt.keys {
				m = update(m, paneltest.Press(k))
			}
			for i, want := range tt.want {
				if got := [2]int{fakes[i].width, fakes[i].height}; got != want {
					t.Errorf("%s size = %v, want %v", fakes[i].name, got, want)
				}
			}
			for _, i := range tt.collapsed {
				if m.frames[i].h != 1 {
					t.Errorf("%s frame = %+v, want a collapsed title line", fakes[i].name, m.frames[i])
				}
			}
			screen := ansi.Strip(m.render())
			lines := strings.Split(screen, "\n")
			if len(lines) != tt.h {
				t.Errorf("screen has %d lines, want %d", len(lines), tt.h)
			}
			for i, l := range lines {
				if w := ansi.StringWidth(l); w != tt.w {
					t.Errorf("line %d is %d cells wide, want %d: %q", i, w, tt.w, l)
				}
			}
			if got := strings.Contains(screen, "terminal too small"); got != tt.tooSmall {
				t.Errorf("too small shown = %v, want %v", got, tt.tooSmall)
			}
		})
	}
}

// TestTUIResizeKeepsUnchangedSizes checks that panels are told only about
// real size changes, so their scroll positions are left alone otherwise.
func TestTUIResizeKeepsUnchangedSizes(t *testing.T) {
	m, fakes, _ := fakeModel(120, 40)
	m = update(m, tea.WindowSizeMsg{Width: 120, Height: 40})
	m = update(m, paneltest.Press("tab"))
	m = update(m, tea.WindowSizeMsg{Width: 70, Height: 30})
	m = update(m, tea.WindowSizeMsg{Width: 120, Height: 40})
	_ = m
	want := [][2]int{{70, 24}, {68, 1}, {70, 24}}
	if got := fakes[panelConsole].sizes; !slices.Equal(got, want) {
		t.Errorf("console SetSize calls = %v, want %v", got, want)
	}
}

func TestTUIMouse(t *testing.T) {
	tests := []struct {
		name    string
		msg     tea.Msg
		focus   int
		target  int // the panel that receives the mouse message, -1 for none
		x, y    int // the position it receives
		focused bool
	}{
		// At 120x40, below two status lines, the logs frame is x 72..119,
		// y 2..14: its content starts at (73, 3).
		{name: "click in logs focuses it", msg: tea.MouseClickMsg{X: 80, Y: 5, Button: tea.MouseLeft}, focus: panelLogs, target: panelLogs, x: 7, y: 2},
		{name: "click on a border only focuses", msg: tea.MouseClickMsg{X: 72, Y: 5, Button: tea.MouseLeft}, focus: panelLogs, target: -1},
		{name: "wheel goes to the panel under the cursor", msg: tea.MouseWheelMsg{X: 10, Y: 35, Button: tea.MouseWheelDown}, focus: panelConsole, target: panelMemory, x: 9, y: 6},
		{name: "click on the status bar does nothing", msg: tea.MouseClickMsg{X: 10, Y: 0, Button: tea.MouseLeft}, focus: panelConsole, target: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, fakes, _ := fakeModel(120, 40)
			m = update(m, tt.msg)
			if m.focus != tt.focus {
				t.Errorf("focus = %d, want %d", m.focus, tt.focus)
			}
			for i, f := range fakes {
				var got []tea.Mouse
				for _, msg := range f.msgs {
					if mm, ok := msg.(tea.MouseMsg); ok {
						got = append(got, mm.Mouse())
					}
				}
				switch {
				case i == tt.target && (len(got) != 1 || got[0].X != tt.x || got[0].Y != tt.y):
					t.Errorf("%s got mouse %v, want one at (%d,%d)", f.name, got, tt.x, tt.y)
				case i != tt.target && len(got) != 0:
					t.Errorf("%s got mouse %v, want none", f.name, got)
				}
			}
		})
	}
}

func TestTUIBroadcast(t *testing.T) {
	m, fakes, _ := fakeModel(120, 40)
	events := panel.EventsMsg{{Type: devloop.TypeBuildStart, Build: 1}}
	tick := panel.TickMsg(pinnedNow)
	type own struct{}
	for _, msg := range []tea.Msg{events, tick, own{}} {
		m = update(m, msg)
	}
	for _, f := range fakes {
		if len(f.msgs) != 3 {
			t.Errorf("%s got %d messages, want the events, the tick and its own message", f.name, len(f.msgs))
		}
	}
	if m.status.building != 1 {
		t.Errorf("status did not see the build start")
	}
}

func TestTUIWaitEvents(t *testing.T) {
	ev := func(n, lineLen int) []devloop.Event {
		out := make([]devloop.Event, n)
		for i := range out {
			out[i] = devloop.Event{Type: devloop.TypeBuildOutput, Line: strings.Repeat("x", lineLen), Count: i}
		}
		return out
	}
	tests := []struct {
		name     string
		queued   int  // events in the channel before the first wait
		lineLen  int  // bytes of each event's line; 1 when 0
		close    bool // the channel is closed after them
		max      int
		maxBytes int   // 1 MiB when 0
		batches  []int // the sizes of the successive batches
		closed   bool  // the wait after them reports the end
	}{
		{name: "a batch stops at max", queued: 10, max: 4, batches: []int{4, 4}},
		{name: "a batch stops at max bytes of lines", queued: 10, lineLen: 1000, max: 512, maxBytes: 3000, batches: []int{3, 3, 3, 1}},
		{name: "a line over max bytes is a batch", queued: 2, lineLen: 64 << 10, max: 512, maxBytes: 4096, batches: []int{1, 1}},
		{name: "a quiet channel flushes after the interval", queued: 3, max: 512, batches: []int{3}},
		{name: "close flushes then ends", queued: 5, close: true, max: 512, batches: []int{5}, closed: true},
		{name: "closed and empty ends", close: true, max: 512, closed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.lineLen == 0 {
				tt.lineLen = 1
			}
			if tt.maxBytes == 0 {
				tt.maxBytes = 1 << 20
			}
			ch := make(chan devloop.Event, 100)
			for _, e := range ev(tt.queued, tt.lineLen) {
				ch <- e
			}
			if tt.close {
				close(ch)
			}
			next := 0
			for _, want := range tt.batches {
				msg := waitEvents(ch, batchLimits{every: 10 * time.Millisecond, events: tt.max, bytes: tt.maxBytes})()
				batch, ok := msg.(panel.EventsMsg)
				if !ok || len(batch) != want {
					t.Fatalf("got %T of %d, want a batch of %d", msg, len(batch), want)
				}
				for _, e := range batch {
					if e.Count != next {
						t.Fatalf("event %d out of order (want %d)", e.Count, next)
					}
					next++
				}
			}
			if tt.closed {
				if msg := waitEvents(ch, batchLimits{every: 10 * time.Millisecond, events: tt.max, bytes: tt.maxBytes})(); msg != (eventsClosedMsg{}) {
					t.Fatalf("after the stream closed got %T, want eventsClosedMsg", msg)
				}
			}
		})
	}
}

// TestTUITabs checks the place the metrics and VMs panels share: the one
// focused last shows, the other's name waits in the border (a click on it
// switches), and the VMs panel is told when it is on screen.
func TestTUITabs(t *testing.T) {
	tests := []struct {
		name    string
		w, h    int
		keys    []string
		shows   int  // the panel in the shared place, -1 for neither
		visible bool // the VMs panel is on screen
	}{
		{name: "metrics first", w: 120, h: 40, shows: panelMetrics},
		{name: "6 shows the VMs", w: 120, h: 40, keys: []string{"6"}, shows: panelVMs, visible: true},
		{name: "the VMs stay when the focus leaves", w: 120, h: 40, keys: []string{"6", "1"}, shows: panelVMs, visible: true},
		{name: "5 shows metrics again", w: 120, h: 40, keys: []string{"6", "5"}, shows: panelMetrics},
		{name: "stacked", w: 70, h: 30, keys: []string{"6"}, shows: panelVMs, visible: true},
		{name: "stacked, the focus elsewhere", w: 70, h: 30, keys: []string{"6", "2"}, shows: panelVMs, visible: true},
		{name: "collapsed to its title", w: 60, h: 15, keys: []string{"6", "1"}, shows: panelVMs},
		{name: "another panel maximised", w: 120, h: 40, keys: []string{"6", "2", "f"}, shows: -1},
		{name: "maximised", w: 120, h: 40, keys: []string{"6", "f"}, shows: panelVMs, visible: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, fakes, _ := fakeModel(tt.w, tt.h)
			for _, k := range tt.keys {
				m = update(m, paneltest.Press(k))
			}
			for _, i := range []int{panelMetrics, panelVMs} {
				if shown := !m.frames[i].empty(); shown != (i == tt.shows) {
					t.Errorf("%s frame %+v, shown = %v", fakes[i].name, m.frames[i], shown)
				}
			}
			if fakes[panelVMs].visible != tt.visible {
				t.Errorf("VMs panel visible = %v, want %v", fakes[panelVMs].visible, tt.visible)
			}
			for i, f := range fakes {
				if r := m.frames[i]; f.visible != (r.h >= 3 && r.w >= 3) {
					t.Errorf("%s visible = %v with frame %+v", f.name, f.visible, r)
				}
			}
		})
	}

	// The other tab's name in the border focuses it when clicked.
	m, fakes, _ := fakeModel(120, 40)
	r := m.frames[panelMetrics]
	top := strings.Split(ansi.Strip(m.render()), "\n")[r.y]
	at := strings.Index(top, " 6 VMs ")
	if at < 0 {
		t.Fatalf("the metrics border does not name the VMs tab: %q", top)
	}
	x := ansi.StringWidth(top[:at]) + 2
	m = update(m, tea.MouseClickMsg{X: x, Y: r.y, Button: tea.MouseLeft})
	if m.focus != panelVMs || m.frames[panelVMs] != r || !fakes[panelVMs].visible {
		t.Errorf("a click on the VMs tab: focus %d, VMs frame %+v (want %+v), visible %v", m.focus, m.frames[panelVMs], r, fakes[panelVMs].visible)
	}
	if len(fakes[panelVMs].msgs) != 0 || len(fakes[panelMetrics].msgs) != 0 {
		t.Errorf("the click on the tab reached a panel: metrics %v, VMs %v", fakes[panelMetrics].msgs, fakes[panelVMs].msgs)
	}
	// Showing it again is one more show; a tick in between none.
	m = update(m, paneltest.Press("5"))
	m = update(m, panel.TickMsg(pinnedNow))
	update(m, paneltest.Press("6"))
	if fakes[panelVMs].shows != 2 {
		t.Errorf("the VMs panel was shown %d times, want 2", fakes[panelVMs].shows)
	}
}

// TestTUIOwnedKeysHelp checks that a global key the focused panel owns
// leaves the footer and the help overlay, and comes back elsewhere.
func TestTUIOwnedKeysHelp(t *testing.T) {
	m, fakes, _ := fakeModel(200, 40)
	fakes[panelVMs].own = []key.Binding{key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "pause the selected VM"))}
	m = update(m, paneltest.Press("6"))
	if f := m.footerLine(); strings.Contains(f, "pause VM") || !strings.Contains(f, "p pause the selected VM") {
		t.Errorf("footer with the VMs panel focused: %q", f)
	}
	m = update(m, paneltest.Press("?"))
	help := ansi.Strip(m.render())
	if strings.Contains(help, "pause VM") || !strings.Contains(help, "pause the selected VM") || !strings.Contains(help, "1-6") {
		t.Errorf("help overlay with the VMs panel focused:\n%s", help)
	}
	m = update(m, paneltest.Press("esc"))
	m = update(m, paneltest.Press("1"))
	if f := m.footerLine(); !strings.Contains(f, "p pause VM") {
		t.Errorf("footer with the console focused lost the global p: %q", f)
	}
}

// TestTUIAttachedDetaches checks the dashboard of ukdev attach: the status
// bar and the help say that q detaches, and q quits the dashboard at once
// without touching the loop.
func TestTUIAttachedDetaches(t *testing.T) {
	var panels [numPanels]panel.Panel
	for i, name := range []string{"console", "logs", "build", "memory", "metrics", "VMs"} {
		panels[i] = &fakePanel{name: name}
	}
	c := &fakeControl{}
	m := newModel(testDeps(c), panels, nil, Options{Project: "hello", Flavor: "elf", Attached: true})
	m = update(m, tea.WindowSizeMsg{Width: 160, Height: 40})
	screen := m.render()
	for _, want := range []string{"attached · q detaches", "q detach"} {
		if !strings.Contains(screen, want) {
			t.Errorf("the attached dashboard does not say %q:\n%s", want, screen)
		}
	}
	if _, quit := updateRun(m, paneltest.Press("q")); !quit {
		t.Error("q does not end the attached dashboard at once")
	}
	if calls := c.Calls(); len(calls) != 0 {
		t.Errorf("detaching acted on the loop: %v", calls)
	}
}

// TestTUICoveredPanelsHidden checks that a panel under the help overlay
// or the deploy view is told it does not show (it then samples nothing,
// and asks for no tick), and that it shows again when they close.
func TestTUICoveredPanelsHidden(t *testing.T) {
	tests := []struct {
		name    string
		keys    []string
		visible bool
	}{
		{"shown", []string{"6"}, true},
		{"under the help", []string{"6", "?"}, false},
		{"the help closed", []string{"6", "?", "esc"}, true},
		{"the help closed by another key", []string{"6", "?", "1"}, true},
		{"under the deploy view", []string{"6", "d"}, false},
		{"the deploy view closed", []string{"6", "d", "esc"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, fakes, _ := fakeModel(120, 40)
			fakes[panelVMs].samples = true
			for _, k := range tt.keys {
				m = update(m, paneltest.Press(k))
			}
			if fakes[panelVMs].visible != tt.visible {
				t.Errorf("VMs panel visible = %v, want %v", fakes[panelVMs].visible, tt.visible)
			}
			if !m.tickDue.IsZero() {
				m = update(m, tickMsg{gen: m.tickGen, at: pinnedNow})
			}
			if armed := !m.tickDue.IsZero(); armed != tt.visible {
				t.Errorf("tick armed = %v, want %v (the VMs panel samples while it shows)", armed, tt.visible)
			}
		})
	}
}
