package devloop

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ukdev/ukdev/flavor"
	"github.com/ukdev/ukdev/guestexit"
	"github.com/ukdev/ukdev/image"
)

// artifacts names the build's outputs: the config's, completed by the
// flavor where it locates them itself (flavor.ArtifactLocator).
func (l *Loop) artifacts() image.Artifacts {
	k := l.cfg.Kernel
	a := image.Artifacts{Kernel: k.Image, Initrd: k.Initrd, Symbols: k.Symbols, Cmdline: k.Cmdline}
	if loc, ok := l.flavor.(flavor.ArtifactLocator); ok {
		a = loc.Locate(l.cfg, a)
	}
	return a
}

// prepareAndBoot turns build n's output into an image and hot-reboots on it.
// Any failure leaves the running VM as it is.
func (l *Loop) prepareAndBoot(ctx context.Context, n int, clock *reloadClock) {
	imgStart := time.Now()
	var inUse []int
	if l.current != nil {
		inUse = append(inUse, l.current.build)
	}
	img, err := l.flavor.Prepare(ctx, l.images, n, l.artifacts(), inUse...)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			// ukdev is stopping: the copy was cut short on purpose.
			return
		case errors.Is(err, image.ErrMissingArtifact):
			l.errorf("build #%d succeeded but its output is missing: %v%s", n, err, l.stillRunning())
		default:
			l.errorf("build #%d cannot be booted: %v%s", n, err, l.stillRunning())
		}
		if l.opts.Once {
			l.lastExit = &guestexit.Exit{Reason: guestexit.ReasonQEMUError, Detail: err.Error()}
		}
		return
	}
	if clock != nil {
		clock.imageDone = time.Now()
		clock.imageStart = imgStart
	}
	l.emit(Event{Type: TypeImageReady, Build: n, DurationMS: ptr(ms(time.Since(imgStart))),
		Message: fmt.Sprintf("image of build #%d ready: %s kernel", n, img.Protocols)})
	l.boot(ctx, img, clock)
}
