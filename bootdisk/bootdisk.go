// Package bootdisk writes bootable raw disks for kernels that a boot loader
// starts: multiboot v1 kernels (elf, unikraft) and Linux kernels with an
// initramfs (linux). A disk is an MBR partition table with one FAT32
// partition, written from Go with go-diskfs, holding the kernel, its
// initrd and GRUB's configuration; GRUB's i386-pc boot.img sits in the MBR
// and its core.img in the gap before the partition, as grub-install would
// put them. It knows no flavor: the flavors turn their image.Image into a
// Spec (ForImage) and call Write.
//
// GRUB is the loader because it starts both multiboot and Linux kernels
// from one configuration, talks to the serial port itself (the cloud
// consoles and the boot test read COM1), and is packaged by Debian for
// i386-pc (grub-pc-bin). Its core.img is made by GRUB's own grub-mkimage
// (grub-common), the one external program run here: its format (an LZMA
// compressed kernel with linked modules) is GRUB's private business.
package bootdisk

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ukdev/ukdev/image"
)

// Kind is the boot protocol GRUB starts a kernel with.
type Kind int

const (
	// Multiboot starts a multiboot v1 kernel (GRUB's multiboot command);
	// an initrd becomes its first module.
	Multiboot Kind = iota + 1
	// Linux starts a Linux bzImage (GRUB's linux and initrd commands).
	Linux
)

// String names the kind as GRUB's command does.
func (k Kind) String() string {
	switch k {
	case Multiboot:
		return "multiboot"
	case Linux:
		return "linux"
	default:
		return fmt.Sprintf("Kind(%d)", int(k))
	}
}

// Spec describes the disk of one kernel.
type Spec struct {
	// Kind is how GRUB starts the kernel.
	Kind Kind
	// Kernel is the host path of the kernel file.
	Kernel string
	// Initrd is the host path of the optional initrd (a multiboot module
	// or a Linux initramfs).
	Initrd string
	// Cmdline is the kernel command line. It is split into words at
	// spaces (GRUB passes each word on, joined by single spaces).
	Cmdline string
	// Machine is the QEMU machine the kernel is tested on; empty means
	// "pc".
	Machine string
}

// Paths of the files on the disk's FAT partition, as GRUB names them.
const (
	KernelPath = "/boot/kernel"
	InitrdPath = "/boot/initrd"
	ConfigPath = "/boot/grub/grub.cfg"
)

// The console lines GRUB's configuration prints around the kernel's
// start (image.Disk's Handover and LoaderFailed).
const (
	Handover     = "ukdev-boot: starting the kernel"
	LoaderFailed = "ukdev-boot: the kernel did not start"
)

// ForImage returns the disk Spec of a prepared image: a multiboot v1
// kernel, or a Linux kernel, with the image's initrd and command line. A
// kernel that GRUB cannot start from a disk, a PVH-only ELF or one with
// only a multiboot2 header, is a *image.FormatError wrapping
// image.ErrNoDiskBoot that says why.
func ForImage(img image.Image) (Spec, error) {
	s := Spec{Kernel: img.Kernel, Initrd: img.Initrd, Cmdline: img.Cmdline, Machine: img.Machine}
	switch {
	case img.Kernel == "":
		return Spec{}, fmt.Errorf("bootdisk: the image of build %d has no kernel file: %w", img.Build, image.ErrNoDiskBoot)
	case img.Protocols.Has(image.Multiboot):
		s.Kind = Multiboot
	case img.Protocols.Has(image.LinuxBoot):
		s.Kind = Linux
	case img.Protocols.Has(image.PVH):
		return Spec{}, &image.FormatError{Path: img.Kernel, Err: image.ErrNoDiskBoot,
			Reason: "only a PVH entry point: no BIOS boot loader starts a PVH kernel from a disk (QEMU's -kernel does); add a multiboot v1 header to boot it from a disk"}
	case img.Protocols.Has(image.Multiboot2):
		return Spec{}, &image.FormatError{Path: img.Kernel, Err: image.ErrNoDiskBoot,
			Reason: "only a multiboot2 header: ukdev's disks start multiboot v1 and Linux kernels; add a multiboot v1 header to boot it from a disk"}
	default:
		return Spec{}, &image.FormatError{Path: img.Kernel, Err: image.ErrNoDiskBoot,
			Reason: "no multiboot v1 or Linux boot header: nothing a disk's boot loader can start"}
	}
	if s.Machine == "" || s.Machine == "microvm" {
		// microvm's firmware does not boot disks.
		s.Machine = "pc"
	}
	return s, nil
}

// WriteImage writes the GRUB disk of a prepared image to path (ForImage,
// then GRUB's Write with Debian's GRUB): what the flavors whose kernels
// GRUB starts do for flavor.DiskWriter.
func WriteImage(ctx context.Context, img image.Image, path string, opts image.DiskOptions) (image.Disk, error) {
	s, err := ForImage(img)
	if err != nil {
		return image.Disk{}, err
	}
	return GRUB{}.Write(ctx, path, s, opts)
}

// ErrNoGRUB is returned (wrapped) when GRUB's i386-pc files or
// grub-mkimage are missing.
var ErrNoGRUB = errors.New("GRUB for BIOS (i386-pc) is not installed: install Debian's grub-pc-bin and grub-common (scripts/deps.sh does)")

// Config returns GRUB's configuration for s: the serial console on COM1
// at 115200 baud (GRUB's own messages reach the serial console, as the
// kernel's do), the kernel loaded from the partition, a Handover line
// just before it starts, and LoaderFailed followed by a halt when it does
// not, so that a failed boot ends instead of waiting at GRUB's prompt.
// While the kernel starts, GRUB's output goes to the screen only: an
// error of GRUB's own there cannot be mistaken for the guest's first
// line.
func Config(s Spec) string {
	var b strings.Builder
	b.WriteString("# Written by ukdev: starts the " + s.Kind.String() + " kernel of this disk.\n")
	b.WriteString("serial --unit=0 --speed=115200\n")
	b.WriteString("terminal_input serial console\n")
	b.WriteString("terminal_output serial console\n")
	b.WriteString("set timeout=0\n")
	load := []string{}
	switch s.Kind {
	case Linux:
		load = append(load, "linux "+KernelPath+quoteWords(s.Cmdline))
		if s.Initrd != "" {
			load = append(load, "initrd "+InitrdPath)
		}
	default:
		load = append(load, "multiboot "+KernelPath+quoteWords(s.Cmdline))
		if s.Initrd != "" {
			load = append(load, "module "+InitrdPath+" initrd")
		}
	}
	indent := ""
	for _, l := range load {
		b.WriteString(indent + "if " + l + "; then\n")
		indent += "\t"
	}
	b.WriteString(indent + "echo '" + Handover + "'\n")
	b.WriteString(indent + "terminal_output console\n")
	b.WriteString(indent + "boot\n")
	b.WriteString(indent + "terminal_output serial console\n")
	for range load {
		indent = indent[1:]
		b.WriteString(indent + "fi\n")
	}
	b.WriteString("echo '" + LoaderFailed + "'\n")
	b.WriteString("halt\n")
	return b.String()
}

// quoteWords returns cmdline's words, each single-quoted for GRUB's shell
// and preceded by a space, so that no word is expanded ($) or split.
func quoteWords(cmdline string) string {
	var b strings.Builder
	for _, w := range strings.Fields(cmdline) {
		b.WriteString(" '" + strings.ReplaceAll(w, "'", `'\''`) + "'")
	}
	return b.String()
}
