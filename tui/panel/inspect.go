package panel

import (
	"context"

	"github.com/ukdev/ukdev/devloop"
)

// Inspector lets the memory and metrics panels look at the running VM.
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
