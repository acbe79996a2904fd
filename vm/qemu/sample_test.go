package qemu

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/ukdev/ukdev/vm"
)

// Replies recorded from QEMU 7.2 (trimmed where marked).
const (
	cpusReply = `"return": [{"thread-id": 32436, "props": {"core-id": 0, "thread-id": 0, "socket-id": 0}, "qom-path": "/machine/unattached/device[0]", "cpu-index": 0, "target": "x86_64"},
		{"thread-id": 32437, "props": {"core-id": 1, "thread-id": 0, "socket-id": 0}, "qom-path": "/machine/unattached/device[2]", "cpu-index": 1, "target": "x86_64"}]`
	// Two devices: a -drive with an id, and a -blockdev known by its node name (stats trimmed).
	blockReply = `"return": [{"device": "virtio0", "stats": {"wr_bytes": 4096, "rd_bytes": 1048576, "rd_operations": 256, "wr_operations": 1, "timed_stats": [], "account_invalid": true}, "node-name": "#block134", "qdev": "/machine/peripheral-anon/device[0]/virtio-backend"},
		{"device": "", "stats": {"wr_bytes": 0, "rd_bytes": 512, "rd_operations": 1, "wr_operations": 0}, "node-name": "disk1"}]`
	dirtyUnstarted = `"return": {"status": "unstarted", "sample-pages": 0, "mode": "page-sampling", "start-time": 0, "calc-time": 0}`
	dirtyMeasuring = `"return": {"status": "measuring", "sample-pages": 512, "mode": "page-sampling", "start-time": 16936, "calc-time": 1}`
	dirtyMeasured  = `"return": {"status": "measured", "sample-pages": 512, "dirty-rate": 12, "mode": "page-sampling", "start-time": 16936, "calc-time": 1}`
	calcArgs       = `{"calc-time": 1}`
	// query-stats on KVM (Linux 6.x): histograms and flags are skipped.
	kvmVMReply   = `"return": [{"provider": "kvm", "stats": [{"name": "remote_tlb_flush", "value": 3}, {"name": "max_mmu_page_hash_collisions", "value": 0}]}]`
	kvmVCPUReply = `"return": [{"provider": "kvm", "qom-path": "/machine/unattached/device[0]", "stats": [{"name": "exits", "value": 100}, {"name": "halt_exits", "value": 40}, {"name": "guest_mode", "value": false}, {"name": "halt_poll_fail_hist", "value": [0, 1]}]},
		{"provider": "kvm", "qom-path": "/machine/unattached/device[2]", "stats": [{"name": "exits", "value": 50}, {"name": "halt_exits", "value": 10}]}]`
)

var wantVCPUs = []vm.VCPU{{Index: 0, ThreadID: 32436}, {Index: 1, ThreadID: 32437}}

var wantBlock = []vm.BlockStat{
	{Device: "virtio0", ReadBytes: 1 << 20, WriteBytes: 4096, ReadOps: 256, WriteOps: 1},
	{Device: "disk1", ReadBytes: 512, ReadOps: 1},
}

func TestMachineSample(t *testing.T) {
	tests := []struct {
		name   string
		accel  string
		script []step
		want   []vm.Sample // one per call; At is not compared
	}{
		{
			name: "tcg: dirty rate unknown, then kept while measuring, then the next",
			script: []step{
				{cmd: "query-cpus-fast", reply: cpusReply},
				{cmd: "query-blockstats", reply: blockReply},
				{cmd: "query-dirty-rate", reply: dirtyUnstarted},
				{cmd: "calc-dirty-rate", args: calcArgs, reply: `"return": {}`},

				{cmd: "query-cpus-fast", reply: cpusReply},
				{cmd: "query-blockstats", reply: blockReply},
				{cmd: "query-dirty-rate", reply: dirtyMeasured},
				{cmd: "calc-dirty-rate", args: calcArgs, reply: `"return": {}`},

				{cmd: "query-cpus-fast", reply: cpusReply},
				{cmd: "query-blockstats", reply: `"return": []`},
				{cmd: "query-dirty-rate", reply: dirtyMeasuring},
			},
			want: []vm.Sample{
				{VCPUs: wantVCPUs, Block: wantBlock},
				{VCPUs: wantVCPUs, Block: wantBlock, DirtyRate: 12, DirtyRateOK: true},
				{VCPUs: wantVCPUs, DirtyRate: 12, DirtyRateOK: true},
			},
		},
		{
			name:  "kvm counters summed over the vCPUs",
			accel: "kvm",
			script: []step{
				{cmd: "query-cpus-fast", reply: cpusReply},
				{cmd: "query-blockstats", reply: `"return": []`},
				{cmd: "query-dirty-rate", reply: dirtyMeasuring},
				{cmd: "query-stats", args: `{"target": "vm"}`, reply: kvmVMReply},
				{cmd: "query-stats", args: `{"target": "vcpu"}`, reply: kvmVCPUReply},
			},
			want: []vm.Sample{{VCPUs: wantVCPUs, KVM: map[string]uint64{
				"remote_tlb_flush": 3, "max_mmu_page_hash_collisions": 0, "exits": 150, "halt_exits": 50}}},
		},
		{
			name:  "commands this QEMU lacks are not asked again; a refusal is",
			accel: "kvm",
			script: []step{
				{cmd: "query-cpus-fast", reply: cpusReply},
				{cmd: "query-blockstats", reply: `"error": {"class": "CommandNotFound", "desc": "The command query-blockstats has not been found"}`},
				{cmd: "query-dirty-rate", reply: `"error": {"class": "CommandNotFound", "desc": "The command query-dirty-rate has not been found"}`},
				{cmd: "query-stats", args: `{"target": "vm"}`, reply: `"error": {"class": "GenericError", "desc": "no stats now"}`},
				// The round is written at once: the vcpu target is asked too.
				{cmd: "query-stats", args: `{"target": "vcpu"}`, reply: `"return": []`},

				{cmd: "query-cpus-fast", reply: cpusReply},
				{cmd: "query-stats", args: `{"target": "vm"}`, reply: `"return": []`},
				{cmd: "query-stats", args: `{"target": "vcpu"}`, reply: `"return": []`},
			},
			want: []vm.Sample{{VCPUs: wantVCPUs}, {VCPUs: wantVCPUs}},
		},
		{
			name: "a measurement already running is not an error",
			script: []step{
				{cmd: "query-cpus-fast", reply: `"return": []`},
				{cmd: "query-blockstats", reply: `"return": []`},
				{cmd: "query-dirty-rate", reply: dirtyMeasured},
				{cmd: "calc-dirty-rate", reply: `"error": {"class": "GenericError", "desc": "the dirty rate is already being measured."}`},
			},
			want: []vm.Sample{{VCPUs: []vm.VCPU{}, DirtyRate: 12, DirtyRateOK: true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, server := qmpMachine(t)
			m.spec.Accel = tt.accel
			done := serve(t, server, tt.script)
			for i, want := range tt.want {
				got, err := m.Sample(t.Context())
				if err != nil {
					t.Fatalf("call %d: Sample: %v", i+1, err)
				}
				if got.At.IsZero() {
					t.Errorf("call %d: At is zero", i+1)
				}
				got.At = want.At
				if !reflect.DeepEqual(got, want) {
					t.Errorf("call %d: Sample =\n%+v\nwant\n%+v", i+1, got, want)
				}
			}
			<-done
		})
	}
}

// A QEMU that stops answering fails the sample, whatever part it was at.
func TestMachineSampleQEMUGone(t *testing.T) {
	m, server := qmpMachine(t)
	done := serve(t, server, []step{{cmd: "query-cpus-fast", reply: cpusReply}})
	go func() {
		<-done
		server.expect("query-blockstats")
		_ = server.conn.Close()
	}()
	if _, err := m.Sample(t.Context()); !errors.Is(err, ErrMonitorClosed) {
		t.Errorf("Sample = %v, want an error wrapping ErrMonitorClosed", err)
	}
}

// Against a real QEMU: the vCPU threads are the process's tasks, the
// microvm has no disk, a dirty-rate measurement finishes, and a stopped
// machine's Sample fails with ErrExited.
func TestMachineSampleRealQEMU(t *testing.T) {
	spec := bootSpec(t, echoKernel())
	spec.CPUs = 2
	m, console := start(t, spec)
	console.waitCount(t, "READY\n", 1)
	s, err := m.Sample(t.Context())
	if err != nil {
		t.Fatalf("Sample: %v", err)
	}
	if len(s.VCPUs) != 2 || len(s.Block) != 0 || s.KVM != nil {
		t.Errorf("Sample = %+v, want 2 vCPUs, no disk, no KVM counters", s)
	}
	for _, c := range s.VCPUs {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d/task/%d", m.PID(), c.ThreadID)); err != nil {
			t.Errorf("vCPU %d thread %d is not a task of QEMU: %v", c.Index, c.ThreadID, err)
		}
	}
	timeout := time.After(deadline)
	for !s.DirtyRateOK {
		select {
		case <-timeout:
			t.Fatal("no dirty-rate measurement finished")
		case <-time.After(200 * time.Millisecond):
		}
		if s, err = m.Sample(t.Context()); err != nil {
			t.Fatalf("Sample: %v", err)
		}
	}
	if err := m.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Sample(t.Context()); !errors.Is(err, vm.ErrExited) {
		t.Errorf("Sample after Stop = %v, want ErrExited", err)
	}
}

// TestMachineSampleOneRound checks that a Sample's queries reach QEMU
// before it has answered any of them: one round trip, not one each. The
// fake QEMU reads every query of the round, then answers them.
func TestMachineSampleOneRound(t *testing.T) {
	tests := []struct {
		name  string
		accel string
		round []string
	}{
		{"tcg", "", []string{"query-cpus-fast", "query-blockstats", "query-dirty-rate"}},
		{"kvm", "kvm", []string{"query-cpus-fast", "query-blockstats", "query-dirty-rate", "query-stats", "query-stats"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, server := qmpMachine(t)
			m.spec.Accel = tt.accel
			done := make(chan struct{})
			go func() {
				defer close(done)
				var got []serverCommand
				for _, name := range tt.round {
					got = append(got, server.expect(name))
				}
				replies := map[string]string{"query-cpus-fast": `[]`, "query-blockstats": `[]`,
					"query-dirty-rate": `{"status": "measuring"}`, "query-stats": `[]`}
				for _, c := range got {
					server.reply(c, replies[c.Execute])
				}
			}()
			if _, err := m.Sample(t.Context()); err != nil {
				t.Fatalf("Sample: %v", err)
			}
			<-done
		})
	}
}
