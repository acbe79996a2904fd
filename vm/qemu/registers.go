package qemu

import (
	"context"

	"github.com/ukdev/ukdev/vm"
	"github.com/ukdev/ukdev/vm/qmpcmd"
)

// Registers returns vCPU 0's registers, from HMP "info registers" (see
// qmpcmd.Registers).
func (m *Machine) Registers(ctx context.Context) (vm.Registers, error) {
	return qmpcmd.Registers(ctx, executor{m})
}

// hmp runs a human monitor command and returns its text.
func (m *Machine) hmp(ctx context.Context, command string) (string, error) {
	return qmpcmd.HMP(ctx, executor{m}, command)
}
