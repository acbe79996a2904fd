package devloop

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ukdev/ukdev/guestexit"
	"github.com/ukdev/ukdev/project"
	"github.com/ukdev/ukdev/vm"
)

// The state words of Status.State.
const (
	StateNone     = "none"     // nothing built or booted yet
	StateBuilding = "building" // a build runs and no VM does
	StateStarting = "starting" // an image is being prepared or booted
	StateRunning  = "running"
	StatePaused   = "paused"
	StateCrashed  = "crashed" // ended by a crash or panic, frozen for inspection
	StateExited   = "exited"  // the guest ended (exit, QEMU error, killed)
	StateStopped  = "stopped" // the host stopped the VM
)

// Status is what the loop's VM is doing, for views that do not read the
// events (ukdev ps and the control socket).
type Status struct {
	// State is one of the State* words.
	State string `json:"state"`
	// Boot and Build are the current (or last) boot and its build.
	Boot  int `json:"boot,omitempty"`
	Build int `json:"build,omitempty"`
	// Since is when State began.
	Since time.Time `json:"since,omitzero"`
	// Uptime is how long the current boot's guest has run, pauses
	// excluded; it stops when the boot ends.
	Uptime time.Duration `json:"uptime"`
	// Exit says how the last boot ended ("exit 0", "crash (...)").
	Exit string `json:"exit,omitempty"`
	// Watching is whether saves rebuild.
	Watching bool `json:"watching"`
}

// statusFold is the state Status reports, folded from every event the
// loop emits. Loop.statusMu guards it.
type statusFold struct {
	vm        string // "", StateRunning, StatePaused, StateCrashed, StateExited, StateStopped
	building  bool
	starting  bool
	boot      int
	build     int
	since     time.Time
	bootStart time.Time
	pausedAt  time.Time
	pausedFor time.Duration
	endedAt   time.Time
	exit      string
	watching  bool
}

// foldStatus updates the status with e; emit calls it for every event.
func (l *Loop) foldStatus(e Event) {
	l.statusMu.Lock()
	defer l.statusMu.Unlock()
	s := &l.status
	before := s.state()
	switch e.Type {
	case TypeStart:
		s.starting = true
	case TypeWatchStart, TypeWatchResumed:
		s.watching = true
	case TypeWatchPaused:
		s.watching = false
	case TypeBuildStart:
		s.building = true
	case TypeBuildDone:
		s.building = false
		s.starting = e.OK != nil && *e.OK
	case TypeBuildCanceled:
		s.building = false
	case TypeImageReady:
		s.starting = true
	case TypeError:
		s.starting = false
	case TypeVMStart:
		s.vm, s.starting = StateRunning, false
		s.boot, s.build = e.Boot, e.Build
		s.bootStart, s.pausedFor, s.pausedAt, s.endedAt, s.exit = e.Time, 0, time.Time{}, time.Time{}, ""
	case TypeVMPaused:
		if e.Boot == s.boot && s.vm == StateRunning {
			s.vm, s.pausedAt = StatePaused, e.Time
		}
	case TypeVMResumed:
		if e.Boot == s.boot && s.vm == StatePaused {
			s.vm = StateRunning
			s.pausedFor += e.Time.Sub(s.pausedAt)
			s.pausedAt = time.Time{}
		}
	case TypeVMExit:
		if e.Boot != s.boot {
			break
		}
		s.starting = false
		exit := guestexit.Exit{Reason: guestexit.Reason(e.Reason), Detail: e.Detail}
		if e.ExitCode != nil {
			exit.Code, exit.HasCode = *e.ExitCode, true
		}
		s.exit = exit.String()
		if s.vm == StatePaused {
			s.pausedFor += e.Time.Sub(s.pausedAt)
			s.pausedAt = time.Time{}
		}
		s.endedAt = e.Time
		info, live := l.Current()
		switch {
		case (exit.Reason == guestexit.ReasonCrash || exit.Reason == guestexit.ReasonPanic) && live && info.Boot == e.Boot:
			s.vm = StateCrashed
		case exit.Reason == guestexit.ReasonKilled:
			s.vm = StateStopped
		default:
			s.vm = StateExited
		}
	}
	if s.state() != before {
		s.since = e.Time
	}
}

// state is the state word of the fold.
func (s *statusFold) state() string {
	switch {
	case s.vm == StateRunning || s.vm == StatePaused || s.vm == StateCrashed:
		return s.vm
	case s.building:
		return StateBuilding
	case s.starting:
		return StateStarting
	case s.vm != "":
		return s.vm
	}
	return StateNone
}

// Status returns what the loop's VM is doing now. It is safe to call from
// any goroutine.
func (l *Loop) Status() Status {
	l.statusMu.Lock()
	s := l.status
	l.statusMu.Unlock()
	st := Status{State: s.state(), Boot: s.boot, Build: s.build, Since: s.since, Exit: s.exit, Watching: s.watching}
	if st.State == StateCrashed {
		// A frozen VM that was stopped since is gone.
		if info, ok := l.Current(); !ok || info.Boot != s.boot {
			st.State = StateExited
		}
	}
	if !s.bootStart.IsZero() {
		end := time.Now()
		switch {
		case !s.endedAt.IsZero():
			end = s.endedAt
		case !s.pausedAt.IsZero():
			end = s.pausedAt
		}
		st.Uptime = max(end.Sub(s.bootStart)-s.pausedFor, 0)
	}
	return st
}

// Config is the project's configuration as the loop runs it, completed by
// the flavor (ops' ports and memory). The caller must not change it.
func (l *Loop) Config() *project.Config { return l.cfg }

// Action is something Do does to the loop's VM.
type Action string

// The actions of Do.
const (
	ActionPause  Action = "pause"
	ActionResume Action = "resume"
	ActionReboot Action = "reboot"
	ActionStop   Action = "stop"
)

// ErrNotRunning is returned (wrapped) by Do when the loop's Run has ended.
var ErrNotRunning = errors.New("devloop: the loop is not running")

// call is an action whose caller waits for its result.
type call struct {
	act  Action
	done chan error
}

// Do pauses, resumes, reboots or stops the VM and returns once that is
// done: the VM paused or running again, the new boot started, or the
// stopped VM's end reported (Status says so from then on). Pausing a
// paused VM or resuming a running one does nothing. It fails with ErrNoVM
// when no VM runs (a reboot: when none ever booted). It is safe to call
// from any goroutine while Run runs.
func (l *Loop) Do(ctx context.Context, a Action) error {
	c := call{act: a, done: make(chan error, 1)}
	select {
	case l.calls <- c:
	case <-l.runDone:
		return fmt.Errorf("devloop: %s: %w", a, ErrNotRunning)
	case <-ctx.Done():
		return fmt.Errorf("devloop: %s: %w", a, ctx.Err())
	}
	select {
	case err := <-c.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("devloop: %s: %w", a, ctx.Err())
	}
}

// onCall runs a Do on Run's goroutine.
func (l *Loop) onCall(ctx context.Context, a Action) error {
	b := l.current
	switch a {
	case ActionPause, ActionResume:
		if b == nil || b.ended {
			return fmt.Errorf("devloop: %s: %w", a, ErrNoVM)
		}
		st, err := b.m.Status(ctx)
		if err != nil {
			return fmt.Errorf("devloop: %s: boot #%d: %w", a, b.n, err)
		}
		if (st == vm.StatusRunning) != (a == ActionPause) {
			return nil
		}
		l.togglePause(ctx)
		return nil
	case ActionReboot:
		if b == nil && l.lastImage == nil {
			return fmt.Errorf("devloop: reboot: %w: nothing booted yet", ErrNoVM)
		}
		l.reboot(ctx)
		return nil
	case ActionStop:
		if b == nil {
			return fmt.Errorf("devloop: stop: %w", ErrNoVM)
		}
		l.stopCurrent()
		// Report the end before returning, as shutdown does.
		deadline := time.After(5 * time.Second)
		for !b.ended {
			select {
			case eb := <-l.bootEnded:
				l.onBootEnded(eb)
			case <-deadline:
				return fmt.Errorf("devloop: stop: boot #%d did not end within 5s", b.n)
			}
		}
		return nil
	}
	return fmt.Errorf("devloop: unknown action %q", a)
}
