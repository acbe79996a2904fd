package devloop

import (
	"context"
	"errors"
)

// VMInfo describes the VM that runs now, for views that inspect it.
type VMInfo struct {
	Boot, Build int
	// PID is QEMU's process id (host-side CPU and memory).
	PID       int
	Machine   string
	Accel     string
	MemoryMiB int
	// Symbols is the ELF file to read guest symbols from; "" when none.
	Symbols string
	// SymbolSpace is how the symbols' addresses reach guest memory (see
	// image.Image.SymbolSpace).
	SymbolSpace string
}

// ErrNoVM is returned when an inspection needs a running VM and none runs.
var ErrNoVM = errors.New("devloop: no VM is running")

// Current returns the live VM: running, or frozen for inspection after a
// crash or panic. It is safe to call from any
// goroutine.
func (l *Loop) Current() (VMInfo, bool) {
	info := l.info.Load()
	if info == nil {
		return VMInfo{}, false
	}
	return *info, true
}

// ReadMemory reads size bytes of the live VM's memory at addr, physical or
// (virtual) through vCPU 0's page tables. QEMU dumps them into one file
// per boot in the private runtime dir, reused by every read and removed
// when the boot's QEMU exits. It is safe to call from any goroutine; it
// blocks for the round trip.
func (l *Loop) ReadMemory(ctx context.Context, addr, size uint64, virtual bool) ([]byte, error) {
	m := l.inspect.Load()
	if m == nil {
		return nil, ErrNoVM
	}
	return m.ReadMemory(ctx, addr, size, virtual)
}

// QMP runs a raw QMP command on the live VM (running, or frozen after a
// crash) and returns QEMU's reply. It is safe to call from any goroutine;
// it blocks for the round trip.
func (l *Loop) QMP(ctx context.Context, cmd []byte) ([]byte, error) {
	m := l.inspect.Load()
	if m == nil {
		return nil, ErrNoVM
	}
	return m.Run(ctx, cmd)
}
