package panel

import (
	"context"

	"github.com/ukdev/ukdev/devloop"
)

// Inspector lets the memory and metrics panels look at the running VM.
// *devloop.Loop implements it. Its methods may block (QMP round trips):
// call them only inside tea.Cmds.
type Inspector interface {
	// Current returns the running VM, or false when none runs.
	Current() (devloop.VMInfo, bool)
	// QMP runs a raw QMP command (one JSON object) on the running VM and
	// returns QEMU's reply.
	QMP(ctx context.Context, cmd []byte) ([]byte, error)
	// ReadMemory reads size bytes of guest memory at addr, physical or
	// (virtual) through vCPU 0's page tables.
	ReadMemory(ctx context.Context, addr, size uint64, virtual bool) ([]byte, error)
}
