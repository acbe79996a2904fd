// Package kernel knows the kinds of unikernel ukdev runs (flavors): how a
// build's output becomes a bootable image.Image and how the end of a boot
// is decoded into an exit reason. It never runs QEMU.
package kernel

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/ukdev/ukdev/guestexit"
	"github.com/ukdev/ukdev/image"
)

// Exit and Reason are guestexit's; these names go when the flavors move
// out of kernel.
type (
	Exit   = guestexit.Exit
	Reason = guestexit.Reason
)

const (
	ReasonExit      = guestexit.ReasonExit
	ReasonCrash     = guestexit.ReasonCrash
	ReasonPanic     = guestexit.ReasonPanic
	ReasonKilled    = guestexit.ReasonKilled
	ReasonQEMUError = guestexit.ReasonQEMUError
)

// Flavor is a kind of unikernel: how a build's output becomes a bootable
// Image and how the end of a boot is decoded.
type Flavor interface {
	// Name is the flavor's config name, e.g. "elf".
	Name() string
	// Prepare copies the build's artifacts into store and returns the image
	// to boot, or an error saying why it cannot be booted. It stops early,
	// with ctx's error, when ctx ends.
	Prepare(ctx context.Context, store *image.Store, build int, a image.Artifacts, inUse ...int) (image.Image, error)
	// Decode turns what QEMU reported into an exit reason.
	Decode(o image.Outcome) Exit
}

var flavors = map[string]Flavor{
	"elf": ELF{},
}

// Lookup returns the flavor with the given config name.
func Lookup(name string) (Flavor, error) {
	if f, ok := flavors[name]; ok {
		return f, nil
	}
	return nil, fmt.Errorf("kernel: unknown flavor %q (supported: %s)", name, strings.Join(Names(), ", "))
}

// Names lists the supported flavor names, sorted.
func Names() []string {
	var names []string
	for n := range flavors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ELF is the flavor of multiboot and PVH ELF kernels booted with -kernel.
// They exit through isa-debug-exit (QEMU exits with (code<<1)|1) and report
// panics through pvpanic.
type ELF struct{}

// Name implements Flavor.
func (ELF) Name() string { return "elf" }

// Prepare implements Flavor. The kernel must carry a PVH note or a multiboot
// v1 header (or be a Linux bzImage); the machine follows from that.
func (ELF) Prepare(ctx context.Context, store *image.Store, build int, a image.Artifacts, inUse ...int) (image.Image, error) {
	if a.Kernel == "" {
		return image.Image{}, fmt.Errorf("kernel: prepare build %d: no kernel image configured", build)
	}
	protos, err := image.Inspect(a.Kernel)
	if errors.Is(err, fs.ErrNotExist) {
		// The build said it succeeded, so an absent kernel is a missing
		// artifact (as Store.Copy reports it), not an unbootable file.
		return image.Image{}, fmt.Errorf("kernel: %s: %w", a.Kernel, image.ErrMissingArtifact)
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

// Decode implements Flavor.
func (ELF) Decode(o image.Outcome) Exit {
	return decodeCommon(o)
}

func decodeCommon(o image.Outcome) Exit { return guestexit.Decode(o) }

func orDefault(s, def string) string { return guestexit.OrDefault(s, def) }
