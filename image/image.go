// Package image knows what a bootable build is, apart from any flavor: the
// Image QEMU is started with, the boot protocols a kernel file supports
// (PVH note, multiboot, Linux boot header), the private store of read-only
// copies those images point at, and the raw Outcome of a boot before a
// flavor decodes it. It is a leaf: vm and the flavors both import it, and
// it imports nothing of ukdev's but nofollow.
package image

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
