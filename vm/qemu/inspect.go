package qemu

import (
	"context"
	"encoding/json"

	"github.com/ukdev/ukdev/vm"
	"github.com/ukdev/ukdev/vm/qmpcmd"
)

// QMPError is an error reply from QEMU to one command.
type QMPError = qmpcmd.Error

// executor runs a Machine's QMP commands for package qmpcmd: one at a
// time (Execute), or several in one write (ExecuteBatch, in sample.go).
type executor struct{ m *Machine }

var _ qmpcmd.BatchExecutor = executor{}

// Execute implements qmpcmd.Executor.
func (e executor) Execute(ctx context.Context, name string, args any) (json.RawMessage, error) {
	return e.m.execute(ctx, name, args)
}

// MemorySize returns the guest's RAM in bytes: base plus hot-plugged
// memory (QMP query-memory-size-summary).
func (m *Machine) MemorySize(ctx context.Context) (uint64, error) {
	return qmpcmd.MemorySize(ctx, executor{m})
}

// BalloonStats asks for the balloon's size and, once the guest reports
// them, its memory statistics (see qmpcmd.Balloon.Stats). Calls are
// serialised.
func (m *Machine) BalloonStats(ctx context.Context) (vm.BalloonStats, error) {
	return m.balloon.Stats(ctx, executor{m})
}
