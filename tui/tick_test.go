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
		{name: "a sampling panel on screen", samples: []int{panelMetrics}, due: time.Second},
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
