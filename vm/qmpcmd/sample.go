package qmpcmd

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/ukdev/ukdev/vm"
)

// dirtyRateCalcSeconds is how long each dirty-rate measurement that Sample
// starts runs: about one sampling interval, so every other Sample starts
// the next one while the one before has finished.
const dirtyRateCalcSeconds = 1

// Sampler is what Sample keeps between calls, one per machine: the last
// dirty-rate measurement (QEMU forgets nothing, but a measurement still
// running hides it), and the commands this QEMU lacks, so they are not
// asked again. The zero value is ready to use.
type Sampler struct {
	mu        sync.Mutex
	dirty     float64
	dirtyOK   bool
	noDirty   bool
	noBlock   bool
	noKVMStat bool
}

// Sample asks QEMU, in one round of QMP commands, what vm.Sample holds:
// query-cpus-fast (vCPU → host thread), query-blockstats,
// query-dirty-rate (the last measurement), and on KVM query-stats for the
// vm and vcpu targets; then calc-dirty-rate when no measurement runs (the
// next one, dirtyRateCalcSeconds long, so about every other Sample). An
// executor that is a BatchExecutor gets the round's queries written at
// once (one round trip, not one per command); another runs them one at a
// time, up to the first that fails Sample. A command QEMU does not have
// or refuses leaves its part empty and is not asked again when missing;
// the error is for a QEMU that did not answer (gone, or too slow). kvm
// says the machine runs on KVM. Calls are serialised.
func (st *Sampler) Sample(ctx context.Context, ex Executor, kvm bool) (vm.Sample, error) {
	st.mu.Lock()
	defer st.mu.Unlock()

	s := vm.Sample{At: time.Now()}
	cmds := []Command{{Name: "query-cpus-fast"}}
	block, dirty, kvmAt := -1, -1, -1
	if !st.noBlock {
		block = len(cmds)
		cmds = append(cmds, Command{Name: "query-blockstats"})
	}
	if !st.noDirty {
		dirty = len(cmds)
		cmds = append(cmds, Command{Name: "query-dirty-rate"})
	}
	if kvm && !st.noKVMStat {
		kvmAt = len(cmds)
		cmds = append(cmds, Command{Name: "query-stats", Args: map[string]any{"target": "vm"}},
			Command{Name: "query-stats", Args: map[string]any{"target": "vcpu"}})
	}
	r := newRound(ctx, ex, cmds)

	var err error
	if s.VCPUs, err = decodeVCPUs(r.result(0)); err != nil {
		return vm.Sample{}, err
	}
	if block >= 0 {
		s.Block, err = decodeBlockStats(r.result(block))
		if missing, err := optional(err); err != nil {
			return vm.Sample{}, err
		} else if missing {
			st.noBlock = true
		}
	}
	if dirty >= 0 {
		ret, err := r.result(dirty)
		if err := dirtyRate(ctx, ex, st, ret, err); err != nil {
			return vm.Sample{}, err
		}
		s.DirtyRate, s.DirtyRateOK = st.dirty, st.dirtyOK
	}
	if kvmAt >= 0 {
		s.KVM, err = kvmStats(r, kvmAt)
		if missing, err := optional(err); err != nil {
			return vm.Sample{}, err
		} else if missing {
			st.noKVMStat = true
		}
	}
	return s, nil
}

// decodeVCPUs reads query-cpus-fast's reply (ret, or its error err).
func decodeVCPUs(ret json.RawMessage, err error) ([]vm.VCPU, error) {
	if err != nil {
		return nil, err
	}
	var cpus []struct {
		Index    int `json:"cpu-index"`
		ThreadID int `json:"thread-id"`
	}
	if err := json.Unmarshal(ret, &cpus); err != nil {
		return nil, fmt.Errorf("qemu: qmp query-cpus-fast: decode: %w", err)
	}
	out := make([]vm.VCPU, len(cpus))
	for i, c := range cpus {
		out[i] = vm.VCPU{Index: c.Index, ThreadID: c.ThreadID}
	}
	return out, nil
}

// decodeBlockStats reads query-blockstats' reply (ret, or its error
// err). A device is named by its drive id, or by its node name when it has
// none (-blockdev).
func decodeBlockStats(ret json.RawMessage, err error) ([]vm.BlockStat, error) {
	if err != nil {
		return nil, err
	}
	var devs []struct {
		Device   string `json:"device"`
		NodeName string `json:"node-name"`
		QDev     string `json:"qdev"`
		Stats    struct {
			RdBytes uint64 `json:"rd_bytes"`
			WrBytes uint64 `json:"wr_bytes"`
			RdOps   uint64 `json:"rd_operations"`
			WrOps   uint64 `json:"wr_operations"`
		} `json:"stats"`
	}
	if err := json.Unmarshal(ret, &devs); err != nil {
		return nil, fmt.Errorf("qemu: qmp query-blockstats: decode: %w", err)
	}
	var out []vm.BlockStat
	for _, d := range devs {
		name := d.Device
		if name == "" {
			name = d.NodeName
		}
		if name == "" {
			name = d.QDev
		}
		out = append(out, vm.BlockStat{Device: name, ReadBytes: d.Stats.RdBytes, WriteBytes: d.Stats.WrBytes,
			ReadOps: d.Stats.RdOps, WriteOps: d.Stats.WrOps})
	}
	return out, nil
}

// dirtyRate reads the last dirty-rate measurement, query-dirty-rate's
// reply (ret, or its error err), into st and starts the next one on ex
// unless one still runs. A measurement that is running keeps the previous
// result.
func dirtyRate(ctx context.Context, ex Executor, st *Sampler, ret json.RawMessage, err error) error {
	if missing, err := optional(err); err != nil {
		return err
	} else if missing {
		st.noDirty = true
		return nil
	}
	if ret == nil {
		return nil // refused now: try again next time
	}
	var q struct {
		Status    string   `json:"status"`
		DirtyRate *float64 `json:"dirty-rate"`
	}
	if err := json.Unmarshal(ret, &q); err != nil {
		return fmt.Errorf("qemu: qmp query-dirty-rate: decode: %w", err)
	}
	if q.Status == "measured" && q.DirtyRate != nil {
		st.dirty, st.dirtyOK = *q.DirtyRate, true
	}
	if q.Status == "measuring" {
		return nil
	}
	_, err = ex.Execute(ctx, "calc-dirty-rate", map[string]any{"calc-time": dirtyRateCalcSeconds})
	_, err = optional(err)
	return err
}

// kvmStats reads the replies of query-stats for the vm and vcpu targets,
// r's commands at and at+1, and sums each numeric counter over them
// (histograms and flags are left out).
func kvmStats(r *round, at int) (map[string]uint64, error) {
	var sums map[string]uint64
	for i, target := range []string{"vm", "vcpu"} {
		ret, err := r.result(at + i)
		if err != nil {
			return sums, err
		}
		var results []struct {
			Provider string `json:"provider"`
			Stats    []struct {
				Name  string          `json:"name"`
				Value json.RawMessage `json:"value"`
			} `json:"stats"`
		}
		if err := json.Unmarshal(ret, &results); err != nil {
			return sums, fmt.Errorf("qemu: qmp query-stats %s: decode: %w", target, err)
		}
		for _, r := range results {
			if r.Provider != "kvm" {
				continue
			}
			for _, stat := range r.Stats {
				var v uint64
				if json.Unmarshal(stat.Value, &v) != nil {
					continue
				}
				if sums == nil {
					sums = make(map[string]uint64)
				}
				sums[stat.Name] += v
			}
		}
	}
	return sums, nil
}
