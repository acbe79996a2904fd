package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// dumpPoll is how often DumpCore asks how far the dump is: QEMU writes
// 64 MiB in about 0.1 s here.
const dumpPoll = 20 * time.Millisecond

// DumpCore writes the guest's memory and vCPU state to path as an ELF
// core (QMP dump-guest-memory). QEMU writes the file itself, detached,
// so that the monitor answers other commands meanwhile (the metrics
// sampler's); DumpCore follows it with query-dump until it is complete.
//
// paging is on: QEMU walks the guest's page tables so that the core's
// segments sit at the virtual addresses the kernel's symbols use (a
// higher-half kernel, a program in user space); a guest without paging
// gets its physical addresses, which are then the same. A file already at
// path is replaced. A dump that fails is removed. When ctx ends first,
// QEMU finishes the dump on its own (QMP cannot cancel one) and the file
// is left to it.
func (m *Machine) DumpCore(ctx context.Context, path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("qemu: dump core: %w", err)
	}
	args := map[string]any{"paging": true, "protocol": "file:" + path, "detach": true}
	if _, err := m.execute(ctx, "dump-guest-memory", args); err != nil {
		return fmt.Errorf("qemu: dump core: %w", err)
	}
	tick := time.NewTicker(dumpPoll)
	defer tick.Stop()
	for {
		st, err := m.queryDump(ctx)
		if err != nil {
			return fmt.Errorf("qemu: dump core: %w", err)
		}
		switch st.Status {
		case "completed":
			return nil
		case "failed":
			_ = os.Remove(path)
			return fmt.Errorf("qemu: dump core: QEMU failed to write %s", path)
		}
		m.log.Debug("dumping guest memory", "path", path, "completed", st.Completed, "total", st.Total)
		select {
		case <-ctx.Done():
			return fmt.Errorf("qemu: dump core: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// dumpStatus is QMP query-dump's reply: "none", "active", "completed" or
// "failed", and the bytes written of the total.
type dumpStatus struct {
	Status    string `json:"status"`
	Completed uint64 `json:"completed"`
	Total     uint64 `json:"total"`
}

func (m *Machine) queryDump(ctx context.Context) (dumpStatus, error) {
	ret, err := m.execute(ctx, "query-dump", nil)
	if err != nil {
		return dumpStatus{}, err
	}
	var st dumpStatus
	if err := json.Unmarshal(ret, &st); err != nil {
		return dumpStatus{}, fmt.Errorf("qmp query-dump: decode: %w", err)
	}
	return st, nil
}
