package image

// OutcomeKind says how a boot ended, as QEMU reported it, before any
// flavor-specific decoding.
type OutcomeKind int

const (
	// QEMUExited means the QEMU process exited on its own (Status holds its
	// exit status, or Signal the signal that killed it).
	QEMUExited OutcomeKind = iota + 1
	// GuestPanicked means QEMU raised GUEST_PANICKED (pvpanic); the VM is
	// paused for inspection.
	GuestPanicked
	// GuestReset means the guest asked for a reset (a triple fault does):
	// with reboot=shutdown,shutdown=pause the VM is paused for inspection.
	GuestReset
	// GuestShutdown means the guest powered itself off; the VM is paused.
	GuestShutdown
	// InternalError means the accelerator failed to run the guest
	// (query-status "internal-error", "KVM internal error" on stderr).
	InternalError
	// StoppedByHost means ukdev stopped the VM (reboot, rebuild, quit).
	StoppedByHost
	// StartFailed means QEMU did not start (bad argument, kernel refused,
	// port in use); Detail holds QEMU's message.
	StartFailed
)

// Outcome is how a boot of an Image ended, as the vm package observed it:
// raw, before a flavor decodes it into an exit reason.
type Outcome struct {
	Kind OutcomeKind
	// Status is QEMU's exit status when Kind is QEMUExited and it exited
	// normally; -1 otherwise.
	Status int
	// Signal names the signal that ended QEMU, if one did ("killed").
	Signal string
	// Detail is a one-line explanation (QEMU's stderr, the shutdown reason).
	Detail string
}
