package devloop

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ukdev/ukdev/project/projecttest"
)

// TestLoopReplaceMachine: a new machine replaces the old one either
// paused, after the old one was stopped (something passes from one to the
// other: forwarded ports, the disk both attach), or running from its start
// with the old one stopped beside it.
func TestLoopReplaceMachine(t *testing.T) {
	tests := []struct {
		name string
		o    harnessOptions
		// replace makes the second boot: a rebuild, or a reboot on pc
		// (the same image).
		reboot bool
		// overlap: the new machine starts running and the old one is
		// stopped beside it; else the calls are sequenced.
		overlap bool
		// stopFirst: the old machine is stopped before the new one
		// starts (it holds the disk both attach).
		stopFirst bool
	}{
		{name: "nothing to hand over", overlap: true},
		{name: "reboot on pc", o: harnessOptions{machine: "pc"}, reboot: true, overlap: true},
		{name: "forwarded ports", o: harnessOptions{config: "vm.ports = [\"8080:80\"]\n"}},
		{name: "a disk per build", o: harnessOptions{imageDisk: true}, overlap: true},
		{name: "the same disk", o: harnessOptions{imageDisk: true, machine: "pc"}, reboot: true, stopFirst: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.o)
			h.l.retireWait = 10 * testWait // only the new guest's output stops the old one
			h.run()
			m1 := h.boot()
			m1.print(t, "boot 1\n")
			h.wait(TypeVMConsole, isBoot(1))
			gate := make(chan struct{})
			if tt.overlap {
				// The old machine's stop does not end until the new
				// machine has run: it is not on the way.
				m1.mu.Lock()
				m1.stopGate = gate
				m1.mu.Unlock()
			} else {
				close(gate)
			}
			if tt.reboot {
				h.l.Reboot()
			} else {
				h.l.Rebuild()
				h.bld.next(t).finish(0)
			}
			m2 := h.be.next(t)
			h.wait(TypeVMStart, isBoot(2))
			h.live(m2)
			if m2.spec.StartPaused == tt.overlap {
				t.Errorf("new machine started paused = %v, want %v", m2.spec.StartPaused, !tt.overlap)
			}
			if tt.overlap {
				// Paused beside the new boot, stopped once the new guest
				// has written.
				waitFor(t, "the old machine paused", func() bool { return slices.Contains(m1.callList(), "pause") })
				if m1.stopped() {
					t.Error("the old machine was stopped before the new guest wrote anything")
				}
			}
			m2.print(t, "boot 2\n")
			h.wait(TypeVMConsole, func(e Event) bool { return e.Boot == 2 && e.Line == "boot 2" })
			waitFor(t, "the old machine stopped", m1.stopped)
			if tt.overlap {
				if h.sawType(TypeVMExit) {
					t.Errorf("boot 1 ended before its stop did: %s", h.types())
				}
				close(gate)
			}
			if !slices.ContainsFunc(h.seen, func(e Event) bool { return e.Type == TypeVMExit && e.Boot == 1 }) {
				h.wait(TypeVMExit, isBoot(1))
			}
			h.stop()
			exits := 0
			for _, e := range h.seen {
				if e.Type == TypeVMExit && e.Boot == 1 {
					exits++
				}
			}
			if exits != 1 {
				t.Errorf("boot 1 ended %d times: %s", exits, h.types())
			}
			calls := h.be.logged()
			stop := slices.Index(calls, fmt.Sprintf("%d stop", m1.pid))
			start := slices.Index(calls, fmt.Sprintf("start %d", m2.pid))
			resume := slices.Index(calls, fmt.Sprintf("%d resume", m2.pid))
			if start < 0 || stop < 0 {
				t.Fatalf("calls %q: want the new machine started and the old one stopped", calls)
			}
			if tt.overlap && resume >= 0 {
				t.Errorf("calls %q: a machine started running was resumed", calls)
			}
			switch {
			case tt.stopFirst && !(stop < start && start < resume):
				t.Errorf("calls %q: want the old machine's stop, then start, then resume", calls)
			case !tt.overlap && !tt.stopFirst && !(start < stop && stop < resume):
				t.Errorf("calls %q: want start, then the old machine's stop, then resume", calls)
			}
		})
	}
}

// TestLoopFirstLinesBeforeVMStart: the lines a guest started running
// writes before its boot is announced follow vm.start, with the times they
// came at, and the reload is timed from them.
func TestLoopFirstLinesBeforeVMStart(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.be.startOutput = "early line\r\nsecond"
	h.run()
	h.boot()

	projecttest.WriteFile(t, filepath.Join(h.root, "main.c"), "int main;")
	h.wait(TypeWatchChange, nil)
	h.bld.next(t).finish(0)
	h.be.next(t)
	reload := h.wait(TypeReload, isBoot(2))
	line := h.wait(TypeVMConsole, func(e Event) bool { return e.Boot == 2 })
	if line.Line != "early line" {
		t.Errorf("first console line %q, want %q", line.Line, "early line")
	}
	start := slices.IndexFunc(h.seen, func(e Event) bool { return e.Type == TypeVMStart && e.Boot == 2 })
	first := slices.IndexFunc(h.seen, func(e Event) bool { return e.Type == TypeVMConsole && e.Boot == 2 })
	if start < 0 || start > first {
		t.Errorf("vm.start of boot 2 does not come before its console: %s", h.types())
	}
	if tm := reload.Timing; tm == nil || tm.BootMS < 0 || tm.QEMUMS < 0 || !line.Time.Equal(reload.Time) {
		t.Errorf("reload.done %+v (at %s), first line at %s: want the timing of the held line", tm, reload.Time, line.Time)
	}
}

// TestLoopShutdownWaitsForReplacedMachine: a replaced machine waiting to
// be stopped when ukdev quits is stopped at once, and is gone, its end
// reported, before the stream ends.
func TestLoopShutdownWaitsForReplacedMachine(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.l.retireWait = 10 * testWait // only quitting stops the old machine
	h.run()
	m1 := h.boot()
	gate := make(chan struct{})
	m1.mu.Lock()
	m1.stopGate = gate
	m1.mu.Unlock()
	h.l.Rebuild()
	h.bld.next(t).finish(0)
	h.be.next(t)
	h.wait(TypeVMStart, isBoot(2))
	waitFor(t, "the old machine paused", func() bool { return slices.Contains(m1.callList(), "pause") })
	h.cancel()
	waitFor(t, "the old machine's stop", m1.stopped)
	select {
	case <-h.done:
		t.Fatal("Run returned while a replaced machine was still stopping")
	case <-time.After(50 * time.Millisecond):
	}
	close(gate)
	h.drain()
	exit := slices.IndexFunc(h.seen, func(e Event) bool { return e.Type == TypeVMExit && e.Boot == 1 })
	if exit < 0 || h.seen[len(h.seen)-1].Type != TypeStop {
		t.Errorf("want boot 1's vm.exit, then %s last: %s", TypeStop, h.types())
	}
}
