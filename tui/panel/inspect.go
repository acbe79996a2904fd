package panel

import (
	"context"

	"github.com/ukdev/ukdev/devloop"
)

// Inspector lets the memory and metrics panels and the crash view look at
// the running VM, or the one frozen after a crash.
// *devloop.Loop implements it. Its methods may block (round trips to QEMU):
// call them only inside tea.Cmds.
type Inspector interface {
	// Current returns the running VM, or false when none runs.
	Current() (devloop.VMInfo, bool)
	// MemorySize returns the running VM's RAM in bytes.
	MemorySize(ctx context.Context) (uint64, error)
	// BalloonStats returns the running VM's balloon size and the guest's
	// memory statistics; a VM without a balloon is not an error.
	BalloonStats(ctx context.Context) (devloop.BalloonStats, error)
	// ReadMemory reads size bytes of guest memory at addr, physical or
	// (virtual) through vCPU 0's page tables.
	ReadMemory(ctx context.Context, addr, size uint64, virtual bool) ([]byte, error)
	// Registers returns vCPU 0's registers in the running (or frozen)
	// VM.
	Registers(ctx context.Context) (devloop.Registers, error)
	// HostStats returns a host-side snapshot of the running VM's process
	// (its CPU time and memory); an error wraps fs.ErrNotExist when the
	// process is gone.
	HostStats() (devloop.HostStats, error)
}

// WatchSuggester is an Inspector that knows which variables of the
// running image are worth watching first (*devloop.Loop asks the flavor).
// Its method may read the symbols' file: call it only inside tea.Cmds.
type WatchSuggester interface {
	SuggestWatches(t *devloop.SymbolTable) []string
}

// CoreDumper writes a core file of the running or frozen VM (the crash
// view's D). *devloop.Loop implements it; tests use a fake.
type CoreDumper interface {
	// DumpCore writes the core beside the boot's log and returns it with
	// the gdb command line that opens it.
	DumpCore(ctx context.Context) (devloop.CoreDump, error)
}
