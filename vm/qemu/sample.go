package qemu

import (
	"context"

	"github.com/ukdev/ukdev/vm"
)

// Sample asks QEMU, in one round of QMP commands, for the guest's vCPU
// threads, block traffic, dirty-page rate and, on KVM, KVM's counters
// (see qmpcmd.Sampler.Sample). Calls are serialised.
func (m *Machine) Sample(ctx context.Context) (vm.Sample, error) {
	return m.sampling.Sample(ctx, executor{m}, m.spec.Accel == "kvm")
}
