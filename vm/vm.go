// Package vm describes the machines ukdev boots, apart from what runs
// them: the Backend that starts a machine from a Spec, the Machine it
// returns (its console, the end of its boot, its lifecycle and typed
// inspection), and the errors every backend reports the same way. It
// knows nothing about the dashboard and does not decode flavor-specific
// exit statuses; the flavors do that from the raw image.Outcome.
//
// The QEMU implementation is package vm/qemu.
package vm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/ukdev/ukdev/image"
)

// Backend starts machines. Implementations are safe for concurrent use.
type Backend interface {
	// Installed reports whether binary (empty: the backend's default),
	// the program that runs machines, can be found; its error explains
	// why not.
	Installed(binary string) error
	// ProbeAccel picks the accelerator machines started with binary run
	// under, and says why. It never fails: software emulation always
	// works.
	ProbeAccel(ctx context.Context, binary string) Accel
	// Start starts a machine for spec and returns once it can be
	// controlled. ctx bounds the start only; the Machine lives until
	// Stop, or until it exits by itself. A machine that could not start
	// is a *StartError, and leaves nothing running behind.
	Start(ctx context.Context, spec Spec, opts StartOptions) (Machine, error)
}

// Machine is one running machine: one process on the host, one guest.
//
// Lifecycle contract, for every backend:
//   - Ended is closed when the boot ends: the machine exited, or the guest
//     panicked, reset, shut down, or the accelerator failed; in the last
//     four cases the machine stays alive with the guest paused for
//     inspection until Stop or Reset. The first ending wins and is
//     reported by Outcome.
//   - Exited is closed once the machine's process is gone and every
//     console byte has reached StartOptions.Console.
//   - Stop is idempotent and safe to call concurrently: every call
//     returns once the process is gone.
//   - After Exited, the other methods return errors wrapping ErrExited
//     (or another error); nothing panics.
//
// All methods are safe for concurrent use.
type Machine interface {
	// PID is the host process id of the machine.
	PID() int
	// WriteConsole writes bytes to the guest's serial input. It fails
	// with an error wrapping os.ErrDeadlineExceeded when the guest has
	// not read its input for a while, and ErrExited once the machine is
	// gone.
	WriteConsole(p []byte) (int, error)
	// Ended returns a channel closed when the current boot has ended.
	// After a Reset that restarts a paused guest, it returns a new
	// channel for the new boot.
	Ended() <-chan struct{}
	// HasEnded reports, without blocking, whether Ended is closed.
	HasEnded() bool
	// Outcome returns how the current boot ended: valid once Ended is
	// closed, the zero Outcome before.
	Outcome() image.Outcome
	// Exited returns a channel closed once the machine's process is gone
	// and all its console output delivered.
	Exited() <-chan struct{}
	// Stderr returns the end of what the machine's process reported on
	// its standard error.
	Stderr() string
	// Stop ends the machine, asking nicely first and escalating; when
	// ctx ends it skips straight to killing it. It returns once the
	// process is gone. The boot's outcome becomes StoppedByHost unless
	// one was recorded before.
	Stop(ctx context.Context) error
	// Pause pauses the guest.
	Pause(ctx context.Context) error
	// Resume starts a guest started paused (Spec.StartPaused), or
	// resumes a paused one.
	Resume(ctx context.Context) error
	// Reset reboots the guest in the same machine. A running guest
	// restarts at once and a guest paused by the user stays paused; a
	// guest paused after a crash, reset or shutdown is restarted, and
	// its boot counts as a new one (Ended, Outcome).
	Reset(ctx context.Context) error
	// Status returns the guest's run state: StatusRunning, StatusPaused,
	// or another backend-defined word ("shutdown", "guest-panicked"...).
	Status(ctx context.Context) (string, error)
	// AddPortForward forwards a host port to the guest; the host port is
	// bound at once, and a port in use is a *PortError. A machine without
	// Spec.Network fails with ErrNoNetwork.
	AddPortForward(ctx context.Context, pf PortForward) error
	// ReadMemory reads size bytes of guest memory at addr: a physical
	// address, or with virtual a virtual one through vCPU 0's page
	// tables.
	ReadMemory(ctx context.Context, addr, size uint64, virtual bool) ([]byte, error)
	// MemorySize returns the guest's RAM in bytes, base plus hot-plugged.
	MemorySize(ctx context.Context) (uint64, error)
	// BalloonStats returns the balloon's size and the guest's memory
	// statistics; a machine without a balloon yields one that is not
	// Present, and no error.
	BalloonStats(ctx context.Context) (BalloonStats, error)
	// Registers returns vCPU 0's registers.
	Registers(ctx context.Context) (Registers, error)
	// HostStats returns a host-side snapshot of the machine's process. An
	// error wraps fs.ErrNotExist when the process is gone.
	HostStats() (HostStats, error)
	// Sample asks the machine, in one round of monitor commands, for the
	// guest's vCPU threads, block traffic, dirty-page rate and (on KVM)
	// hypervisor counters. Parts the machine cannot report are left
	// empty; the error is for a machine that did not answer at all.
	Sample(ctx context.Context) (Sample, error)
	// DumpCore writes the guest's memory and vCPU state to path, a new
	// file readable by the user only, as an ELF core that gdb opens with
	// the guest's symbols (gdb <kernel ELF> -ex 'core-file <path>'). Its
	// memory is at the guest's virtual addresses where its page tables
	// map them, else at their physical ones. A paused guest stays paused;
	// a running one is paused while the dump is written. It returns once
	// the file is complete; a dump that failed leaves no file.
	DumpCore(ctx context.Context, path string) error
	// GDBServer opens the machine's gdb stub at addr, in Spec.GDB's form
	// ("unix:<path>" or "tcp:127.0.0.1:<port>"), replacing a stub already
	// open (and dropping its debugger). The guest keeps running until a
	// debugger attaches, which stops it.
	GDBServer(ctx context.Context, addr string) error
}

// The run states every backend reports the same way (Machine.Status).
const (
	// StatusRunning: the guest runs.
	StatusRunning = "running"
	// StatusPaused: the guest was paused (Machine.Pause, or started
	// paused).
	StatusPaused = "paused"
)

// ErrExited means the machine has exited, so its console or controls
// cannot be used.
var ErrExited = errors.New("vm: the machine has exited")

// ErrNoNetwork means a port forward was asked of a machine started
// without Spec.Network.
var ErrNoNetwork = errors.New("vm: machine has no network")

// StartOptions are the host-side settings of a Start that are not part of
// the machine's description.
type StartOptions struct {
	// Console receives every byte the guest writes to its serial console,
	// raw and in order. It is called from one goroutine and must not block
	// for long: the guest's output waits while it does. Nil discards
	// output.
	Console io.Writer
	// Log receives ukdev's own diagnostics; nil discards them.
	Log *slog.Logger
	// CommandTimeout bounds each control command whose context has no
	// deadline; zero means the backend's default.
	CommandTimeout time.Duration
	// StartTimeout bounds the time from spawning the machine to it being
	// controllable; zero means the backend's default.
	StartTimeout time.Duration
	// DumpFile is a file the backend may have the machine write guest
	// memory to for ReadMemory, one file reused by every read. It holds
	// guest memory: it belongs in a private directory (the runtime dir).
	// The caller removes it once the machine has exited. Empty:
	// ReadMemory may fail.
	DumpFile string
	// Progress, if not nil, is told how the transfer of each of the
	// image's files to the machine's host goes (a remote backend uploads
	// them before the machine starts): at its start, as bytes are sent,
	// and once at its end (Transfer.Done). A backend that runs machines
	// from local files never calls it.
	Progress func(Transfer)
}

// Transfer is the progress of one file's copy to the host that runs a
// machine.
type Transfer struct {
	// File is the local file; Dest names its copy on the host (a storage
	// volume).
	File, Dest string
	// Sent and Total are the bytes sent so far and the file's size.
	Sent, Total int64
	// Skipped says the host already held the same content: nothing is
	// sent.
	Skipped bool
	// Done says the transfer has ended (all sent, or skipped); Err, set
	// with Done, says it failed.
	Done bool
	Err  error
	// Elapsed is the time since the transfer began.
	Elapsed time.Duration
}

// Accel is the accelerator to run guests with, and why it was chosen.
type Accel struct {
	// Name is "kvm" or "tcg".
	Name string
	// Reason explains the choice for people, e.g. "KVM present but
	// unusable (kvm-pvm) — using TCG".
	Reason string
}

// StartError means the machine did not start: it could not be executed,
// exited before it could be controlled (a bad argument, a kernel it
// refused), or was not ready in time.
type StartError struct {
	// Argv is the full command line, binary first.
	Argv []string
	// Stderr is the end of the process's standard error.
	Stderr string
	// Err is the cause: the exec error, the *exec.ExitError, or a context
	// error for a timeout.
	Err error
}

// Error implements error, leading with the machine's own explanation when
// it gave one.
func (e *StartError) Error() string {
	if d := firstLine(e.Stderr); d != "" {
		return "vm: start qemu: " + d
	}
	return fmt.Sprintf("vm: start qemu: %v", e.Err)
}

// Unwrap returns the cause.
func (e *StartError) Unwrap() error { return e.Err }

// Outcome describes the failed start as the end of a boot.
func (e *StartError) Outcome() image.Outcome {
	detail := firstLine(e.Stderr)
	if detail == "" && e.Err != nil {
		detail = e.Err.Error()
	}
	return image.Outcome{Kind: image.StartFailed, Status: -1, Detail: detail}
}

// firstLine returns the first non-empty line of s, trimmed.
func firstLine(s string) string {
	for line := range strings.Lines(s) {
		if line = strings.TrimSpace(line); line != "" {
			return line
		}
	}
	return ""
}

// PortError means the machine refused a port forward, typically because
// the host port is in use.
type PortError struct {
	// Forward is the refused forward.
	Forward PortForward
	// Detail is the machine's explanation.
	Detail string
}

// Error implements error.
func (e *PortError) Error() string {
	return fmt.Sprintf("vm: forward %s %s to guest port %d: %s", e.Forward.Proto,
		net.JoinHostPort(e.Forward.HostAddrOrDefault(), strconv.Itoa(e.Forward.HostPort)), e.Forward.GuestPort, e.Detail)
}
