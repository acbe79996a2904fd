package devloop

import (
	"errors"
	"time"

	"github.com/ukdev/ukdev/vm"
)

// ErrInputQueueFull is returned by WriteConsole when no VM takes console
// input and the input waiting for one would pass MaxQueuedInput. Nothing
// of the refused bytes was queued; InputRoom says when to try again.
var ErrInputQueueFull = errors.New("devloop: no VM is running and the console input queue is full")

// MaxQueuedInput is how much console input WriteConsole keeps while no VM
// takes it.
const MaxQueuedInput = 64 << 10

// WriteConsole sends bytes to the running guest's serial console. Input
// that arrives while no VM runs (during the first build, between boots) is
// kept, up to MaxQueuedInput, and typed in as soon as the next boot starts;
// beyond that it is refused whole with ErrInputQueueFull. It is safe to
// call from any goroutine.
func (l *Loop) WriteConsole(p []byte) error {
	l.inputMu.Lock()
	defer l.inputMu.Unlock()
	if m := l.running; m != nil && len(l.input) == 0 {
		_, err := m.WriteConsole(p)
		return err
	}
	if len(l.input)+len(p) > MaxQueuedInput {
		return ErrInputQueueFull
	}
	l.input = append(l.input, p...)
	return nil
}

// InputRoom returns a channel that is closed once some of the queued
// console input has been typed into a VM (at once when nothing is queued):
// a writer refused with ErrInputQueueFull waits on it, then writes again.
func (l *Loop) InputRoom() <-chan struct{} {
	l.inputMu.Lock()
	defer l.inputMu.Unlock()
	if len(l.input) == 0 {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	if l.room == nil {
		l.room = make(chan struct{})
	}
	return l.room
}

// setRunning makes m the VM that console input goes to (nil: none).
func (l *Loop) setRunning(m vm.Machine, info *VMInfo) {
	l.inputMu.Lock()
	defer l.inputMu.Unlock()
	// Console input waits for the guest's first output (see flushInput),
	// or for a second, for a guest that prints nothing.
	l.starting = m
	l.liveMu.Lock()
	l.inspect = m
	l.info.Store(info)
	l.liveMu.Unlock()
	time.AfterFunc(time.Second, func() { l.flushInput(m) })
}

// forget drops m as the VM console input goes to and, when its QEMU is
// gone (gone), as the VM to inspect. A VM frozen after a crash stays
// inspectable until it is replaced or stopped.
func (l *Loop) forget(m vm.Machine, gone bool) {
	l.inputMu.Lock()
	defer l.inputMu.Unlock()
	if l.running == m {
		l.running = nil
	}
	if l.starting == m {
		l.starting = nil
	}
	if l.typing == m {
		// What is still queued waits for the next VM.
		l.typing = nil
	}
	if gone {
		l.liveMu.Lock()
		if l.inspect == m {
			l.inspect = nil
			l.info.Store(nil)
		}
		l.liveMu.Unlock()
	}
}

// flushInput makes m the VM console input goes to, and types in the input
// queued while none could take it. It runs when m first writes to its
// console: by then the guest has set up its serial port, which could have
// dropped bytes sent earlier (a 16550's FIFO reset does).
func (l *Loop) flushInput(m vm.Machine) {
	l.inputMu.Lock()
	defer l.inputMu.Unlock()
	if l.starting != m {
		return
	}
	l.starting = nil
	if len(l.input) == 0 {
		l.running = m
		return
	}
	// A typer still on an older VM stops at its next piece.
	l.typing = m
	go l.typeQueued(m)
}

// typePiece is the most queued input typed in one write: a guest that
// takes its UART's bytes one at a time reads about 20 KB/s under TCG, and
// each write must end within the console's write deadline.
const typePiece = 4 << 10

// typeQueued types the queued console input into m a piece at a time,
// from its own goroutine so that m's console output (which called
// flushInput) keeps flowing meanwhile. Input written while it runs queues
// behind the rest; once the queue is empty, m takes input directly. A
// failed write drops what is queued: quietly (in ukdev's log) when the VM
// has ended, with an error event when it does not read its input.
func (l *Loop) typeQueued(m vm.Machine) {
	for {
		l.inputMu.Lock()
		if l.typing != m {
			l.inputMu.Unlock()
			return
		}
		if len(l.input) == 0 {
			l.typing = nil
			l.input = nil
			l.running = m
			l.inputMu.Unlock()
			return
		}
		n := min(len(l.input), typePiece)
		piece := l.input[:n:n] // owned here: later appends go past it
		l.input = l.input[n:]
		l.freeRoom()
		l.inputMu.Unlock()

		if _, err := m.WriteConsole(piece); err != nil {
			l.inputMu.Lock()
			mine := l.typing == m
			dropped := len(piece)
			if mine {
				dropped += len(l.input)
				l.input = nil
				l.typing = nil
				// Later input goes straight to m, and fails on its own.
				l.running = m
				l.freeRoom()
			}
			l.inputMu.Unlock()
			if !mine || errors.Is(err, vm.ErrExited) {
				l.log.Warn("queued console input dropped", "err", err, "bytes", dropped)
				return
			}
			l.errorf("console input: %d queued bytes dropped: %v", dropped, err)
			return
		}
	}
}

// freeRoom wakes the writers waiting on InputRoom. The caller holds
// inputMu.
func (l *Loop) freeRoom() {
	if l.room != nil {
		close(l.room)
		l.room = nil
	}
}
