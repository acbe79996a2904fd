package image

import "errors"

// ErrNoDiskBoot is returned (wrapped, often in a *FormatError that says
// why) when a kernel cannot be made to boot from a disk: no boot loader a
// disk can carry starts it (a PVH-only ELF, a multiboot2-only kernel), or
// the flavor lacks the loader files it needs.
var ErrNoDiskBoot = errors.New("cannot boot from a disk")

// Disk is a bootable raw disk written from an Image: the firmware of the
// machine named by Machine boots it on its own, without -kernel. It says
// what a boot test of the disk, and a cloud importing it, need to know.
type Disk struct {
	// Path is the raw disk file.
	Path string
	// Size is the disk's size in bytes (the file may be sparse).
	Size int64
	// Machine is the QEMU machine type whose firmware boots it: "pc" or
	// "q35".
	Machine string
	// Firmware is how the disk boots: FirmwareBIOS (an MBR boot loader).
	Firmware string
	// Loader names the boot loader on the disk: "grub", "nanos".
	Loader string
	// Handover is a console line the loader prints just before it starts
	// the kernel: only the lines after it are the guest's. Empty: the
	// loader prints nothing, every line is the guest's.
	Handover string
	// ENA says the guest has a driver for AWS's Elastic Network Adapter,
	// the NIC of its current instance types (RegisterImage's
	// EnaSupport).
	ENA bool
	// LoaderFailed is the console line the loader prints when it could
	// not start the kernel (a missing file, a kernel it refused). Empty:
	// the loader reports no failure on the console.
	LoaderFailed string
}

// FirmwareBIOS is Disk.Firmware for a disk that legacy BIOS boots
// through its MBR.
const FirmwareBIOS = "bios"

// DiskOptions tune the writing of a Disk.
type DiskOptions struct {
	// MinSize is the smallest size the disk must have; the space after
	// what the image needs is left empty (sparse). Clouds want sizes in
	// whole GiB. Zero: as small as the image allows.
	MinSize int64
	// Progress, when set, is called as the disk is written with the bytes
	// written so far and the total to write; it must not block.
	Progress func(written, total int64)
}
