package builder

import (
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Prestart makes the Builder keep a build supervisor started ahead of
// time, and starts the first one now: starting one means starting the
// ukdev binary, 20-30 ms on a slow machine (exec, page faults, package
// initialisation), which would otherwise come before every build; a build
// under a waiting supervisor costs a few ms more than a bare `sh -c`.
// After each Run has taken the waiting supervisor and its build has ended,
// the next one is started in the background once refillDelay has passed
// without a new Run: starting a Go binary takes a core for tens of ms,
// which on a small machine would otherwise be taken from the build (or the
// boot that follows it) it was meant to speed up. A Run that comes while
// one is being started waits for it; one that comes before the delay is
// over starts a supervisor of its own, as without Prestart.
//
// The spare supervisor runs in its own process group with the Builder's
// command and environment, and enters Dir only when a Run takes it, so a
// directory removed or replaced meanwhile is found as it is then. It dies
// with ukdev like any supervisor. Prestart does nothing without a
// Supervisor. Call it once, before the first Run, and do not change the
// Builder's settings afterwards; Close stops the supervisor kept.
func (b *Builder) Prestart() {
	if b.Supervisor != "" && b.prestart == nil {
		b.prestart = &prestarter{}
		b.prestart.fill(b)
	}
}

// Close stops the supervisor kept by Prestart, if any, and waits for it.
// Runs still going are not affected; a later Run starts its own
// supervisor. Close is idempotent.
func (b *Builder) Close() error {
	if b.prestart != nil {
		b.prestart.close()
	}
	return nil
}

// refillDelay is how long after a build ends the next spare is started:
// past the image and the boot that usually follow a build.
const refillDelay = time.Second

// prestarter holds at most one spare supervisor.
type prestarter struct {
	mu     sync.Mutex
	spare  *spare
	closed bool
	refill *time.Timer // pending start of the next spare; nil when none
	// filling is closed when the spare being started is in place (or
	// failed); nil when none is being started.
	filling chan struct{}
}

// spare is a supervisor waiting for go.
type spare struct {
	proc *buildProc
	goW  *os.File
}

// goMessage starts a spare supervisor; the build directory follows it.
const goMessage = "go\n"

// take returns the spare (waiting for one being started); nil when there
// is none. A pending refill is called off: the build's end arms it again.
func (p *prestarter) take() *spare {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	if p.refill != nil {
		p.refill.Stop()
		p.refill = nil
	}
	if p.spare == nil && p.filling != nil {
		// Started already, ready sooner than a fresh one would be.
		filling := p.filling
		p.mu.Unlock()
		<-filling
		p.mu.Lock()
	}
	s := p.spare
	p.spare = nil
	p.mu.Unlock()
	return s
}

// refillLater starts the next spare after refillDelay, unless a Run takes
// the spare's place first (see take).
func (p *prestarter) refillLater(b *Builder) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.spare != nil || p.filling != nil || p.refill != nil {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(refillDelay, func() {
		p.mu.Lock()
		if p.refill != t {
			p.mu.Unlock() // called off by take or close
			return
		}
		p.refill = nil
		p.mu.Unlock()
		p.fill(b)
	})
	p.refill = t
}

// fill starts a spare in the background unless there is one, one is being
// started, or the prestarter is closed.
func (p *prestarter) fill(b *Builder) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.spare != nil || p.filling != nil {
		return
	}
	done := make(chan struct{})
	p.filling = done
	go func() {
		defer close(done)
		proc, goW, err := b.spawn(true)
		var s *spare
		if err == nil {
			s = &spare{proc: proc, goW: goW}
		}
		p.mu.Lock()
		p.filling = nil
		if p.closed {
			p.mu.Unlock()
			if s != nil {
				s.release()
			}
			return
		}
		p.spare = s // nil when it failed: the next Run starts afresh
		p.mu.Unlock()
	}()
}

// close releases the spare and stops starting new ones.
func (p *prestarter) close() {
	p.mu.Lock()
	p.closed = true
	if p.refill != nil {
		p.refill.Stop()
		p.refill = nil
	}
	s := p.spare
	p.spare = nil
	filling := p.filling
	p.mu.Unlock()
	if s != nil {
		s.release()
	}
	if filling != nil {
		<-filling // its spare is released by fill
	}
}

// launch tells the supervisor to enter dir and start the build.
func (s *spare) launch(dir string) error {
	_, err := s.goW.Write([]byte(goMessage + dir))
	closeAll(s.goW)
	return err
}

// release ends a supervisor that never got go: at end of file on its go
// pipe it exits, and is reaped here.
func (s *spare) release() {
	closeAll(s.goW, s.proc.lifeW, s.proc.outR, s.proc.errR)
	_ = s.proc.cmd.Wait()
}

// discard kills a spare that could not be started and reaps it.
func (s *spare) discard() {
	_ = unix.Kill(-s.proc.cmd.Process.Pid, unix.SIGKILL)
	s.release()
}
