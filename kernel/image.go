// Package kernel knows the kinds of unikernel ukdev runs (flavors): how a
// build's output becomes a bootable Image, how the boot protocols of an ELF
// kernel are detected, and how the end of a boot is decoded into an exit
// reason. It never runs QEMU.
package kernel

// Protocols is the set of boot protocols a kernel image supports.
type Protocols uint8

const (
	// PVH means the ELF carries a Xen PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY).
	PVH Protocols = 1 << iota
	// Multiboot means a multiboot v1 header sits in the first 8 KiB.
	Multiboot
	// Multiboot2 means a multiboot2 header sits in the first 32 KiB.
	Multiboot2
	// LinuxBoot means a Linux bzImage setup header.
	LinuxBoot
)

// Has reports whether every protocol in q is in p.
func (p Protocols) Has(q Protocols) bool { return p&q == q }

// Image is one bootable build: the files QEMU is started with. Paths point
// at private read-only copies owned by ukdev; QEMU maps -kernel and -initrd
// files, so the build must never write to them again.
type Image struct {
	// Build is the build number that produced the image.
	Build int
	// Kernel is the path of the kernel file passed with -kernel.
	Kernel string
	// Initrd is the optional initial ramdisk passed with -initrd.
	Initrd string
	// Cmdline is the kernel command line passed with -append.
	Cmdline string
	// Protocols are the boot protocols the kernel supports.
	Protocols Protocols
	// Machine is the QEMU machine the flavor suggests for this image
	// ("microvm" for PVH, "pc" for multiboot only).
	Machine string
	// Symbols is the ELF file to read symbols from (the kernel itself or a
	// separate debug file), empty when none.
	Symbols string
	// SymbolSpace says how the addresses in Symbols map to guest memory:
	// SpacePhysical (the default: identity-mapped kernels), SpaceVirtual
	// (through the vCPU's page tables, which always map them) or
	// SpaceNone (a process's addresses the host cannot resolve).
	SymbolSpace string
	// DebugExit says the image exits through isa-debug-exit.
	DebugExit bool
	// PVPanic says the image signals panics through the pvpanic device.
	PVPanic bool
	// Disk is a raw disk image attached as a virtio block device (a Nanos
	// image); QEMU opens it, so it is a private copy like Kernel.
	Disk string
	// Balloon adds a virtio balloon device (guest memory statistics).
	Balloon bool
	// RNG adds a virtio RNG device (entropy for the guest).
	RNG bool
	// MachineOptions are added to the -machine option, e.g.
	// "rtc=on,ioapic2=off" for Nanos on microvm.
	MachineOptions string
}

// The address spaces of Image.SymbolSpace.
const (
	SpacePhysical = ""
	SpaceVirtual  = "virtual"
	SpaceNone     = "none"
)

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

// Outcome is what the vm package observed at the end of a boot.
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
