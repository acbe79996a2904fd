package vm

import "time"

// BalloonStats is what the balloon device says about guest memory.
type BalloonStats struct {
	// Present is false when the machine has no active balloon device.
	Present bool
	// ActualBytes is the guest memory the balloon leaves the guest.
	ActualBytes uint64
	// Guest holds the statistics the guest reports, sorted by name; nil
	// until it first reports.
	Guest []BalloonStat
	// Updated is when the guest last reported (zero: never).
	Updated time.Time
}

// BalloonStat is one guest-reported balloon statistic.
type BalloonStat struct {
	// Name is the statistic's name ("free-memory", "major-faults").
	Name string
	// Value is in bytes for memory sizes, a count otherwise.
	Value uint64
}

// Registers are an x86-64 vCPU's registers.
type Registers struct {
	// RAX through R15 are the general-purpose registers.
	RAX, RBX, RCX, RDX, RSI, RDI, RBP, RSP uint64
	R8, R9, R10, R11, R12, R13, R14, R15   uint64
	// RIP is the instruction pointer, RFLAGS the flags.
	RIP, RFLAGS uint64
	// CR0, CR2, CR3 and CR4 are the control registers: CR3 holds the
	// page table root, CR2 the last page-fault address.
	CR0, CR2, CR3, CR4 uint64
	// EFER is the extended feature enable register (long mode, NX).
	EFER uint64
	// CPL is the current privilege level (0: kernel).
	CPL int
	// Halted reports a vCPU stopped in HLT.
	Halted bool
}

// userHZ is the unit of the CPU times of HostStats. Linux reports them in
// USER_HZ, which is 100 on every architecture QEMU runs on, whatever the
// kernel's own tick rate.
const userHZ = 100

// HostStats is a host-side snapshot of a machine's process.
type HostStats struct {
	PID int
	// StartTicks is the process start time in clock ticks after boot: two
	// snapshots with different StartTicks are different processes (the pid
	// was reused).
	StartTicks uint64
	// UserTicks and SystemTicks are the CPU time spent, in USER_HZ ticks.
	UserTicks, SystemTicks uint64
	// RSSBytes is the resident set size (VmRSS).
	RSSBytes uint64
	// PeakRSSBytes is the peak resident set size (VmHWM).
	PeakRSSBytes uint64
	Threads      int
	// State is the one-letter process state ("R", "S", "Z"...).
	State string
}

// CPUTime is the CPU time the process has used, user and system.
func (s HostStats) CPUTime() time.Duration {
	return time.Duration(s.UserTicks+s.SystemTicks) * time.Second / userHZ
}

// CPUPercent is the CPU the process used between two snapshots taken
// elapsed apart, in percent of one host CPU (a busy multi-threaded QEMU
// can exceed 100). It is 0 when the snapshots are of different processes,
// elapsed is not positive, or the counters went backwards.
func CPUPercent(prev, cur HostStats, elapsed time.Duration) float64 {
	if elapsed <= 0 || prev.PID != cur.PID || prev.StartTicks != cur.StartTicks {
		return 0
	}
	used := cur.CPUTime() - prev.CPUTime()
	if used < 0 {
		return 0
	}
	return 100 * used.Seconds() / elapsed.Seconds()
}
