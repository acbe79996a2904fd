package devloop

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/ukdev/ukdev/metrics"
	"github.com/ukdev/ukdev/vm"
)

// VMInfo describes the VM that runs now, for views that inspect it.
type VMInfo struct {
	Boot, Build int
	// PID is QEMU's process id (host-side CPU and memory); 0 when QEMU
	// runs on another machine (a remote libvirt host).
	PID int
	// Host is the libvirt host the VM runs on (Options.Host); "" for
	// QEMU run here.
	Host      string
	Machine   string
	Accel     string
	MemoryMiB int
	// Symbols is the ELF file to read guest symbols from; "" when none.
	Symbols string
	// SymbolSpace is how the symbols' addresses reach guest memory:
	// SpacePhysical, SpaceVirtual or SpaceNone (see image.Image.SymbolSpace).
	SymbolSpace string
}

// Where says where the VM's QEMU runs, for people: "pid 4242", or "on
// kvm1" for a VM on a remote libvirt host (whose process id is not known
// here).
func (i VMInfo) Where() string {
	if i.PID == 0 && i.Host != "" {
		return "on " + HostName(i.Host)
	}
	return fmt.Sprintf("pid %d", i.PID)
}

// HostName is the short name of a libvirt URI's host: "kvm1" for
// qemu+ssh://me@kvm1:2222/system, "libvirt" for a local daemon
// (qemu:///system), the URI itself when it does not parse.
func HostName(uri string) string {
	u, err := url.Parse(uri)
	switch {
	case err != nil:
		return uri
	case u.Hostname() == "":
		return "libvirt"
	}
	return u.Hostname()
}

// ErrNoVM is returned when an inspection needs a running VM and none runs.
var ErrNoVM = errors.New("devloop: no VM is running")

// Current returns the live VM: running, or frozen for inspection after a
// crash or panic. It is safe to call from any
// goroutine.
func (l *Loop) Current() (VMInfo, bool) {
	info := l.info.Load()
	if info == nil {
		return VMInfo{}, false
	}
	return *info, true
}

// ReadMemory reads size bytes of the live VM's memory at addr, physical or
// (virtual) through vCPU 0's page tables. QEMU dumps them into one file
// per boot in the private runtime dir, reused by every read and removed
// when the boot's QEMU exits. It is safe to call from any goroutine; it
// blocks for the round trip.
func (l *Loop) ReadMemory(ctx context.Context, addr, size uint64, virtual bool) ([]byte, error) {
	m := l.live()
	if m == nil {
		return nil, ErrNoVM
	}
	return m.ReadMemory(ctx, addr, size, virtual)
}

// BalloonStats is what the live VM's balloon device says about guest
// memory. It is vm's own type: the loop passes it through unchanged.
type BalloonStats = vm.BalloonStats

// BalloonStat is one guest-reported balloon statistic (see BalloonStats).
type BalloonStat = vm.BalloonStat

// MemorySize returns the live VM's RAM in bytes, base plus hot-plugged.
// It is safe to call from any goroutine; it blocks for the round trip.
func (l *Loop) MemorySize(ctx context.Context) (uint64, error) {
	m := l.live()
	if m == nil {
		return 0, ErrNoVM
	}
	return m.MemorySize(ctx)
}

// BalloonStats returns the live VM's balloon size and the guest's memory
// statistics, as vm.Machine.BalloonStats: a VM without a balloon yields
// one that is not Present, and no error. It is safe to call from any
// goroutine; it blocks for the round trips.
func (l *Loop) BalloonStats(ctx context.Context) (BalloonStats, error) {
	m := l.live()
	if m == nil {
		return BalloonStats{}, ErrNoVM
	}
	return m.BalloonStats(ctx)
}

// Registers are a vCPU's registers. It is vm's own type: the loop passes
// it through unchanged.
type Registers = vm.Registers

// Registers returns vCPU 0's registers in the live VM. It is safe to call
// from any goroutine; it blocks for the round trip.
func (l *Loop) Registers(ctx context.Context) (Registers, error) {
	m := l.live()
	if m == nil {
		return Registers{}, ErrNoVM
	}
	return m.Registers(ctx)
}

// HostStats is a host-side snapshot of a VM's process (QEMU's CPU time
// and memory). It is vm's own type: the loop passes it through unchanged.
type HostStats = vm.HostStats

// HostStats returns a host-side snapshot of the live VM's process. An
// error wraps fs.ErrNotExist when the process is gone. It is safe to call
// from any goroutine.
func (l *Loop) HostStats() (HostStats, error) {
	m := l.live()
	if m == nil {
		return HostStats{}, ErrNoVM
	}
	return m.HostStats()
}

// CPUPercent is the CPU a process used between two snapshots taken elapsed
// apart, in percent of one host CPU; 0 when they are of different
// processes (see vm.CPUPercent).
func CPUPercent(prev, cur HostStats, elapsed time.Duration) float64 {
	return vm.CPUPercent(prev, cur, elapsed)
}

// Metrics is the sampler of the live VM's metrics: it samples only while
// a view holds it (metrics.Sampler.Acquire), and follows the VM across
// reboots. It is safe to call from any goroutine.
func (l *Loop) Metrics() *metrics.Sampler { return l.metrics }

// liveMetrics is live for the sampler: a nil interface when no VM runs.
func (l *Loop) liveMetrics() metrics.Machine {
	if m := l.live(); m != nil {
		return m
	}
	return nil
}

// live returns the VM Current describes, nil when none.
func (l *Loop) live() vm.Machine {
	l.liveMu.Lock()
	defer l.liveMu.Unlock()
	return l.inspect
}
