package elf

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/ukdev/ukdev/bootdisk"
	"github.com/ukdev/ukdev/guestexit"
	"github.com/ukdev/ukdev/image"
)

// Kernel prepares and decodes boots of multiboot and PVH ELF kernels
// booted with -kernel. They exit through isa-debug-exit (QEMU exits with
// (code<<1)|1) and report panics through pvpanic.
type Kernel struct{}

// Prepare implements flavor.Kernel. The kernel must carry a PVH note or a
// multiboot v1 header (or be a Linux bzImage); the machine follows from
// that.
func (Kernel) Prepare(ctx context.Context, store *image.Store, build int, a image.Artifacts, inUse ...int) (image.Image, error) {
	if a.Kernel == "" {
		return image.Image{}, fmt.Errorf("elf: prepare build %d: no kernel image configured", build)
	}
	protos, err := image.Inspect(a.Kernel)
	if errors.Is(err, fs.ErrNotExist) {
		// The build said it succeeded, so an absent kernel is a missing
		// artifact (as Store.Copy reports it), not an unbootable file.
		return image.Image{}, fmt.Errorf("elf: %s: %w", a.Kernel, image.ErrMissingArtifact)
	}
	if err != nil {
		return image.Image{}, err
	}
	if !protos.Has(image.PVH) && !protos.Has(image.Multiboot) && !protos.Has(image.LinuxBoot) {
		return image.Image{}, &image.FormatError{Path: a.Kernel, Err: image.ErrNotBootable,
			Reason: "only a multiboot2 header: QEMU's -kernel boots PVH, multiboot v1 and Linux kernels; add a multiboot v1 header or a PVH note"}
	}
	img, err := store.Copy(ctx, build, a, inUse...)
	if err != nil {
		return image.Image{}, err
	}
	img.Protocols = protos
	img.Machine = image.MachineFor(protos)
	img.DebugExit = true
	img.PVPanic = true
	return img, nil
}

// Decode implements flavor.Kernel.
func (Kernel) Decode(o image.Outcome) guestexit.Exit {
	return guestexit.Decode(o)
}

// WriteDisk implements flavor.DiskWriter: a GRUB disk that starts the
// multiboot kernel (or the Linux kernel) on pc. A PVH-only kernel is
// refused: no disk loader starts it.
func (Kernel) WriteDisk(ctx context.Context, img image.Image, path string, opts image.DiskOptions) (image.Disk, error) {
	d, err := bootdisk.WriteImage(ctx, img, path, opts)
	if err != nil {
		return image.Disk{}, fmt.Errorf("elf: %w", err)
	}
	return d, nil
}
