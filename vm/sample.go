package vm

import "time"

// Sample is what one round of questions to a machine's monitor says about
// the guest's work: which host threads run its vCPUs, its disks' traffic,
// the rate at which it dirties memory and, on KVM, the hypervisor's
// counters. Counters are cumulative since the machine started; the caller
// turns two Samples into rates.
type Sample struct {
	// At is when the sample was taken.
	At time.Time
	// VCPUs maps each vCPU to the host thread that runs it.
	VCPUs []VCPU
	// Block holds the traffic of each block device, in the machine's
	// order; empty when the machine has none.
	Block []BlockStat
	// DirtyRate is the guest's dirty-page rate in MiB/s, as the last
	// finished measurement found it; valid when DirtyRateOK.
	DirtyRate   float64
	DirtyRateOK bool
	// KVM holds KVM's counters by name ("exits", "halt_exits",
	// "io_exits"...), summed over the VM and its vCPUs; nil when the
	// machine does not run on KVM or reports none.
	KVM map[string]uint64
}

// VCPU is one virtual CPU and the host thread running it.
type VCPU struct {
	// Index is the vCPU's number, from 0.
	Index int
	// ThreadID is the host thread id (a task of the machine's process
	// under /proc/<pid>/task); with single-threaded emulation every vCPU
	// shares one.
	ThreadID int
}

// BlockStat is one block device's traffic since the machine started.
type BlockStat struct {
	// Device names the device (its drive id, else its node name).
	Device string
	// ReadBytes and WriteBytes are the bytes the guest read and wrote.
	ReadBytes, WriteBytes uint64
	// ReadOps and WriteOps count the guest's read and write requests.
	ReadOps, WriteOps uint64
}
