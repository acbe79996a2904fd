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

	"github.com/ukdev/ukdev/image"
)

// Reason is why a boot ended, in the words of ukdev's event contract.
type Reason string

// The reasons a boot can end.
const (
	// ReasonExit: the guest ended on purpose, with a code where known.
	ReasonExit Reason = "exit"
	// ReasonCrash: the guest faulted (triple fault, accelerator internal
	// error, a flavor's crash code).
	ReasonCrash Reason = "crash"
	// ReasonPanic: the guest reported a panic (pvpanic).
	ReasonPanic Reason = "panic"
	// ReasonKilled: ukdev or someone else stopped QEMU.
	ReasonKilled Reason = "killed"
	// ReasonQEMUError: QEMU failed (did not start, aborted, crashed).
	ReasonQEMUError Reason = "qemu-error"
)

// Exit is a decoded end of a boot.
type Exit struct {
	Reason Reason
	// Code is the guest's exit code when HasCode is true.
	Code    int
	HasCode bool
	// Detail is one human line, e.g. "triple fault or guest reset".
	Detail string
}

// String renders the exit for people: "exit 3", "crash (triple fault ...)".
func (e Exit) String() string {
	s := string(e.Reason)
	if e.HasCode {
		s += fmt.Sprintf(" %d", e.Code)
	}
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

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

// decodeCommon decodes the outcomes whose meaning does not depend on the
// flavor, with isa-debug-exit's (code<<1)|1 convention for QEMU's status.
func decodeCommon(o image.Outcome) Exit {
	switch o.Kind {
	case image.GuestPanicked:
		return Exit{Reason: ReasonPanic, Detail: orDefault(o.Detail, "guest reported a panic; VM paused for inspection")}
	case image.GuestReset:
		// QEMU's detail ("guest-reset") adds nothing to this.
		return Exit{Reason: ReasonCrash, Detail: "triple fault or guest reset; VM paused for inspection"}
	case image.InternalError:
		return Exit{Reason: ReasonCrash, Detail: orDefault(o.Detail, "accelerator internal error; VM paused for inspection")}
	case image.GuestShutdown:
		return Exit{Reason: ReasonExit, Code: 0, HasCode: true, Detail: orDefault(o.Detail, "guest powered off")}
	case image.StoppedByHost:
		return Exit{Reason: ReasonKilled, Detail: orDefault(o.Detail, "stopped by ukdev")}
	case image.StartFailed:
		return Exit{Reason: ReasonQEMUError, Detail: orDefault(o.Detail, "QEMU did not start")}
	case image.QEMUExited:
		switch {
		case o.Signal != "":
			return Exit{Reason: ReasonKilled, Detail: "QEMU killed by " + o.Signal}
		case o.Status == 0:
			// QEMU exits 0 when told to quit; the guest cannot cause it with
			// -action shutdown=pause.
			return Exit{Reason: ReasonKilled, Detail: "QEMU quit"}
		case o.Status == 1 && o.Detail != "":
			// isa-debug-exit with code 0 also gives status 1, but silently;
			// QEMU's own fatal errors print to stderr first.
			return Exit{Reason: ReasonQEMUError, Detail: o.Detail}
		case o.Status&1 == 1:
			return Exit{Reason: ReasonExit, Code: o.Status >> 1, HasCode: true}
		default:
			return Exit{Reason: ReasonQEMUError, Detail: orDefault(o.Detail, fmt.Sprintf("QEMU exited with status %d", o.Status))}
		}
	}
	return Exit{Reason: ReasonQEMUError, Detail: "unknown outcome"}
}

func orDefault(s, def string) string {
	if s != "" {
		return s
	}
	return def
}
