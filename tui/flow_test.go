package tui

import (
	"bytes"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/tui/panel/paneltest"
)

// TestTUIFlow drives the whole program: the events arrive through the
// batching wait command, ? shows the help, 2 focuses the logs, and q stops
// the loop, whose closed event stream ends the program.
func TestTUIFlow(t *testing.T) {
	events := make(chan devloop.Event, 256)
	var once sync.Once
	stopped := make(chan struct{})
	c := &fakeControl{}
	m := New(testDeps(c), fakeInspector{}, events, Options{Project: "hello", Flavor: "elf"})
	m.stop = func() {
		once.Do(func() {
			close(stopped)
			// The loop reports the VM's end, then closes its stream.
			events <- devloop.Event{Type: devloop.TypeVMExit, Boot: 2, Reason: "killed", Time: pinnedNow}
			events <- devloop.Event{Type: devloop.TypeStop, Message: "ukdev stopped; no VM left running", Time: pinnedNow}
			close(events)
		})
	}
	// The filter sees the model before each message: it publishes the
	// state for the test to wait on.
	var latest atomic.Pointer[Model]
	observe := tea.WithFilter(func(m tea.Model, msg tea.Msg) tea.Msg {
		if mm, ok := m.(Model); ok {
			latest.Store(&mm)
		}
		return msg
	})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(120, 40), teatest.WithProgramOptions(observe))

	for _, batch := range script() {
		for _, e := range batch {
			events <- e
		}
	}
	waitModel(t, &latest, "the whole script", func(m *Model) bool { return m.status.boot == 2 && m.status.hasReload })

	tm.Send(paneltest.Press("?"))
	waitOutput(t, tm, "previous panel")
	tm.Send(paneltest.Press("2"))
	tm.Send(paneltest.Press("r"))
	tm.Send(paneltest.Press("q"))
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("q did not stop the loop")
	}
	tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))

	final := tm.FinalModel(t).(Model)
	if final.focus != panelLogs {
		t.Errorf("focus = %d, want the logs (%d)", final.focus, panelLogs)
	}
	if final.showHelp {
		t.Error("the help overlay is still shown")
	}
	if !final.status.stopping || !final.status.stoppedAll {
		t.Errorf("status stopping=%v stopped=%v, want both", final.status.stopping, final.status.stoppedAll)
	}
	if final.status.boot != 2 || final.status.vm != vmExited {
		t.Errorf("status boot=%d vm=%v, want boot 2 exited", final.status.boot, final.status.vm)
	}
	if calls := c.Calls(); len(calls) != 1 || calls[0] != "Reboot" {
		t.Errorf("loop calls = %v, want [Reboot]", calls)
	}
}

// waitModel waits until the program's model satisfies cond.
func waitModel(t *testing.T, latest *atomic.Pointer[Model], what string, cond func(*Model) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := latest.Load(); m != nil && cond(m) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the model never reached %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling the model: a condition wait
	}
}

// waitOutput waits until text is drawn in output the test has not read
// yet (teatest hands each byte out once).
func waitOutput(t *testing.T, tm *teatest.TestModel, text string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
		return bytes.Contains(b, []byte(text))
	}, teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
}
