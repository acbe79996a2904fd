package qemu

import (
	"context"
	"fmt"
	"os/exec"

	"github.com/ukdev/ukdev/vm"
)

// Backend starts machines as QEMU processes. The zero value is ready to
// use.
type Backend struct{}

var _ vm.Backend = Backend{}

// Installed reports whether the QEMU binary (empty: vm.DefaultQEMU) is on
// PATH; its error wraps exec.ErrNotFound when it is not.
func (Backend) Installed(binary string) error {
	if binary == "" {
		binary = vm.DefaultQEMU
	}
	if _, err := exec.LookPath(binary); err != nil {
		return fmt.Errorf("qemu: %w", err)
	}
	return nil
}

// ProbeAccel picks the accelerator for QEMU binary (see ProbeAccel).
func (Backend) ProbeAccel(ctx context.Context, binary string) vm.Accel {
	return ProbeAccel(ctx, binary)
}

// Start starts QEMU for spec (see Start).
func (Backend) Start(ctx context.Context, spec vm.Spec, opts vm.StartOptions) (vm.Machine, error) {
	m, err := Start(ctx, spec, opts)
	if err != nil {
		// A nil *Machine in the interface would not compare equal to nil.
		return nil, err
	}
	return m, nil
}
