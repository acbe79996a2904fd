package tui

import (
	"testing"
	"time"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/tui/panel"
	"github.com/ukdev/ukdev/tui/panel/paneltest"
)

// TestTickArming checks when the dashboard arms its next tick: only for
// what moves on screen by itself, and never while nothing does.
func TestTickArming(t *testing.T) {
	ago := func(d time.Duration) time.Time { return pinnedNow.Add(-d) }
	running := func(since time.Duration) []devloop.Event {
		return []devloop.Event{{Type: devloop.TypeVMStart, Boot: 1, Time: ago(since)}, {Type: devloop.TypeVMConsole, Boot: 1, Line: "hi"}}
	}
	tests := []struct {
		name    string
		samples []int    // panels that sample while on screen
		keys    []string // pressed first
		events  []devloop.Event
		due     time.Duration // after pinnedNow; 0: no tick armed
	}{
		{name: "no VM, nothing samples", due: 0},
		{name: "a sampling panel on screen as a tile: the tiles' beat", samples: []int{panelMetrics}, due: 2 * time.Second},
		{name: "a sampling panel focused", samples: []int{panelMetrics}, keys: []string{"5"}, due: time.Second},
		{name: "a sampling panel maximised", samples: []int{panelMetrics}, keys: []string{"5", "f"}, due: time.Second},
		{name: "a sampling panel hidden by another maximised", samples: []int{panelMetrics}, keys: []string{"f"}, due: 0},
		{name: "a sampling panel hidden behind its tab mate", samples: []int{panelMetrics}, keys: []string{"6"}, due: 0},
		{name: "the uptime in its first minute: the next second", events: running(10*time.Second + 300*time.Millisecond), due: 700 * time.Millisecond},
		{name: "the uptime past a minute: the next minute", events: running(5*time.Minute + 30*time.Second + 400*time.Millisecond), due: 29*time.Second + 600*time.Millisecond},
		{name: "the uptime past an hour: the next minute", events: running(2*time.Hour + 59*time.Second), due: time.Second},
		{name: "a sampling panel beside the uptime: every second", samples: []int{panelVMs}, keys: []string{"6"}, events: running(5 * time.Minute), due: time.Second},
		{name: "a paused VM's uptime stands still", events: append(running(time.Minute),
			devloop.Event{Type: devloop.TypeVMPaused, Boot: 1, Time: ago(time.Second)}), due: 0},
		{name: "an ended VM's uptime stands still", events: append(running(time.Minute),
			devloop.Event{Type: devloop.TypeVMExit, Boot: 1, Reason: "exit", Time: ago(time.Second)}), due: 0},
		{name: "time spent paused does not count", events: append(running(90*time.Second),
			devloop.Event{Type: devloop.TypeVMPaused, Boot: 1, Time: ago(80 * time.Second)},
			devloop.Event{Type: devloop.TypeVMResumed, Boot: 1, Time: ago(40*time.Second + 500*time.Millisecond)}), due: 500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, fakes, _ := fakeModel(120, 40)
			for _, i := range tt.samples {
				fakes[i].samples = true
			}
			m = update(m, panel.EventsMsg{}) // the root asks again
			for _, k := range tt.keys {
				m = update(m, paneltest.Press(k))
			}
			if tt.events != nil {
				m = update(m, panel.EventsMsg(tt.events))
			}
			// A tick armed before (while a panel sampled) fires once
			// more; what counts is what it arms next.
			if !m.tickDue.IsZero() {
				m = update(m, tickMsg{gen: m.tickGen, at: pinnedNow})
			}
			var want time.Time
			if tt.due != 0 {
				want = pinnedNow.Add(tt.due)
			}
			if !m.tickDue.Equal(want) {
				t.Errorf("tick due %v, want %v", m.tickDue, want)
			}
		})
	}
}

// TestTickRearm checks that a tick armed for the uptime's next minute is
// replaced by a sooner one when a sampling panel shows, that the stale
// one then reaches no panel, and that the current one does.
func TestTickRearm(t *testing.T) {
	m, fakes, _ := fakeModel(120, 40)
	fakes[panelVMs].samples = true // the metrics tab shows: VMs is hidden
	m = update(m, panel.EventsMsg{})
	if !m.tickDue.IsZero() {
		t.Fatalf("tick due %v with nothing moving", m.tickDue)
	}
	m = update(m, panel.EventsMsg{{Type: devloop.TypeVMStart, Boot: 1, Time: pinnedNow.Add(-90 * time.Second)}})
	if want := pinnedNow.Add(30 * time.Second); !m.tickDue.Equal(want) {
		t.Fatalf("tick due %v, want %v (the uptime's next minute)", m.tickDue, want)
	}
	stale := tickMsg{gen: m.tickGen, at: pinnedNow}
	m = update(m, paneltest.Press("6"))
	if want := pinnedNow.Add(time.Second); !m.tickDue.Equal(want) {
		t.Fatalf("tick due %v with the VMs panel shown, want %v", m.tickDue, want)
	}
	ticks := func() int {
		n := 0
		for _, msg := range fakes[panelConsole].msgs {
			if _, ok := msg.(panel.TickMsg); ok {
				n++
			}
		}
		return n
	}
	m = update(m, stale)
	if n := ticks(); n != 0 {
		t.Fatalf("the stale tick reached the panels (%d ticks)", n)
	}
	m = update(m, tickMsg{gen: m.tickGen, at: pinnedNow})
	if n := ticks(); n != 1 {
		t.Errorf("the current tick reached the panels %d times, want once", n)
	}
	// The tick fired; the next is armed at once for the VMs panel.
	if m.tickDue.IsZero() {
		t.Error("no tick armed after the tick, with the VMs panel sampling")
	}
}

// TestTickInterval checks how often each panel refreshes: a sampling
// panel shown as a tile every 2 s, focused or maximised every second, not
// at all while hidden; the others every second while they tick.
func TestTickInterval(t *testing.T) {
	tests := []struct {
		name      string
		i, focus  int
		maximised bool
		ticking   bool
		want      time.Duration
	}{
		{"metrics tile", panelMetrics, panelConsole, false, true, tileEvery},
		{"memory tile", panelMemory, panelConsole, false, true, tileEvery},
		{"metrics focused", panelMetrics, panelMetrics, false, true, tickEvery},
		{"memory focused", panelMemory, panelMemory, false, true, tickEvery},
		{"metrics maximised", panelMetrics, panelMetrics, true, true, tickEvery},
		{"memory maximised", panelMemory, panelMemory, true, true, tickEvery},
		{"metrics hidden", panelMetrics, panelConsole, true, false, 0},
		{"memory hidden", panelMemory, panelConsole, false, false, 0},
		{"VMs tile", panelVMs, panelConsole, false, true, tickEvery},
		{"VMs hidden", panelVMs, panelConsole, false, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tickInterval(tt.i, tt.focus, tt.maximised, tt.ticking); got != tt.want {
				t.Errorf("tickInterval = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestTileBeat checks that the metrics and memory tiles refresh on one
// beat every 2 s, that a focused one refreshes every second beside the
// other's beat, and that a tile that starts sampling joins the beat.
func TestTileBeat(t *testing.T) {
	m, fakes, _ := fakeModel(120, 40)
	fakes[panelMetrics].samples = true
	m = update(m, panel.EventsMsg{})
	counts := func() [2]int {
		var n [2]int
		for j, i := range []int{panelMemory, panelMetrics} {
			for _, msg := range fakes[i].msgs {
				if _, ok := msg.(panel.TickMsg); ok {
					n[j]++
				}
			}
		}
		return n
	}
	at := func(d time.Duration) time.Time { return pinnedNow.Add(d) }
	steps := []struct {
		name    string
		keys    []string // pressed before the tick
		memory  bool     // the memory panel samples from this step on
		tick    time.Duration
		want    [2]int        // ticks received so far: memory, metrics (a panel that does not tick gets them as ever, and ignores them)
		nextDue time.Duration // after pinnedNow
	}{
		{name: "metrics tile, the beat starts", tick: 0, want: [2]int{1, 1}, nextDue: 2 * time.Second},
		{name: "memory starts sampling off the beat", memory: true, tick: time.Second, want: [2]int{1, 1}, nextDue: 2 * time.Second},
		{name: "both on the beat", tick: 2 * time.Second, want: [2]int{2, 2}, nextDue: 4 * time.Second},
		{name: "memory focused: every second", keys: []string{"4"}, tick: 3 * time.Second, want: [2]int{3, 2}, nextDue: time.Second},
		{name: "metrics still on the beat", tick: 4 * time.Second, want: [2]int{4, 3}, nextDue: time.Second},
		{name: "metrics off the beat", tick: 5 * time.Second, want: [2]int{5, 3}, nextDue: time.Second},
		{name: "both tiles again, on the same beat", keys: []string{"1"}, tick: 6 * time.Second, want: [2]int{6, 4}, nextDue: 8 * time.Second},
		{name: "metrics maximised: every second", keys: []string{"5", "f"}, tick: 7 * time.Second, want: [2]int{7, 5}, nextDue: time.Second},
	}
	for _, st := range steps {
		if st.memory {
			fakes[panelMemory].samples = true
		}
		for _, k := range st.keys {
			m = update(m, paneltest.Press(k))
		}
		m = update(m, panel.EventsMsg{})
		m = update(m, tickMsg{gen: m.tickGen, at: at(st.tick)})
		if got := counts(); got != st.want {
			t.Errorf("%s: ticks (memory, metrics) %v, want %v", st.name, got, st.want)
		}
		if want := at(st.nextDue); !m.tickDue.Equal(want) {
			t.Errorf("%s: next tick due %v, want %v", st.name, m.tickDue, want)
		}
	}
}

func TestFormatStatusUptime(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
		step time.Duration
	}{
		{-time.Second, "0s", time.Second}, {0, "0s", time.Second}, {1999 * time.Millisecond, "1s", time.Second},
		{59*time.Second + 999*time.Millisecond, "59s", time.Second}, {time.Minute, "1m", time.Minute},
		{3*time.Minute + 59*time.Second, "3m", time.Minute}, {59*time.Minute + 59*time.Second, "59m", time.Minute},
		{time.Hour + 2*time.Minute + 59*time.Second, "1h02m", time.Minute}, {50 * time.Hour, "50h00m", time.Minute},
	}
	for _, tt := range tests {
		if got := formatUptime(tt.in); got != tt.want {
			t.Errorf("formatUptime(%v) = %q, want %q", tt.in, got, tt.want)
		}
		if got := uptimeStep(tt.in); got != tt.step {
			t.Errorf("uptimeStep(%v) = %v, want %v", tt.in, got, tt.step)
		}
	}
}
