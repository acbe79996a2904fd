package qemu

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/digitalocean/go-qemu/qmp"

	"github.com/ukdev/ukdev/vm"
	"github.com/ukdev/ukdev/vm/qmpcmd"
)

// Sample asks QEMU, in one round of QMP commands written at once (one
// round trip, not one per command: executor is a qmpcmd.BatchExecutor),
// for the guest's vCPU threads, block traffic, dirty-page rate and, on
// KVM, KVM's counters (see qmpcmd.Sampler.Sample). Calls are serialised.
func (m *Machine) Sample(ctx context.Context) (vm.Sample, error) {
	return m.sampling.Sample(ctx, executor{m}, m.spec.Accel == "kvm")
}

// ExecuteBatch implements qmpcmd.BatchExecutor: it runs cmds in one write
// (Monitor's batch path) and returns each one's "return" value and error,
// in order, as Execute would have.
func (e executor) ExecuteBatch(ctx context.Context, cmds []qmpcmd.Command) ([]json.RawMessage, []error) {
	m := e.m
	rets := make([]json.RawMessage, len(cmds))
	errs := make([]error, len(cmds))
	raws := make([][]byte, len(cmds))
	for i, c := range cmds {
		raw, err := json.Marshal(qmp.Command{Execute: c.Name, Args: c.Args})
		if err != nil {
			for j := range errs {
				errs[j] = fmt.Errorf("qemu: qmp %s: encode: %w", c.Name, err)
			}
			return rets, errs
		}
		raws[i] = raw
	}
	replies, rerrs := m.mon.runBatch(ctx, raws)
	for i, c := range cmds {
		rets[i], errs[i] = m.returnOf(c.Name, replies[i], rerrs[i])
	}
	return rets, errs
}
