// Package guestexit says why a boot ended: the reasons of ukdev's event
// contract, and the decoding of what a backend reported (image.Outcome)
// that every flavor shares. Flavors refine it with what only they know.
package guestexit

import (
	"fmt"

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

// Decode decodes the outcomes whose meaning does not depend on the
// flavor, with isa-debug-exit's (code<<1)|1 convention for QEMU's status.
func Decode(o image.Outcome) Exit {
	switch o.Kind {
	case image.GuestPanicked:
		return Exit{Reason: ReasonPanic, Detail: OrDefault(o.Detail, "guest reported a panic; VM paused for inspection")}
	case image.GuestReset:
		// QEMU's detail ("guest-reset") adds nothing to this.
		return Exit{Reason: ReasonCrash, Detail: "triple fault or guest reset; VM paused for inspection"}
	case image.InternalError:
		return Exit{Reason: ReasonCrash, Detail: OrDefault(o.Detail, "accelerator internal error; VM paused for inspection")}
	case image.GuestShutdown:
		return Exit{Reason: ReasonExit, Code: 0, HasCode: true, Detail: OrDefault(o.Detail, "guest powered off")}
	case image.StoppedByHost:
		return Exit{Reason: ReasonKilled, Detail: OrDefault(o.Detail, "stopped by ukdev")}
	case image.StartFailed:
		return Exit{Reason: ReasonQEMUError, Detail: OrDefault(o.Detail, "QEMU did not start")}
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
			return Exit{Reason: ReasonQEMUError, Detail: OrDefault(o.Detail, fmt.Sprintf("QEMU exited with status %d", o.Status))}
		}
	}
	return Exit{Reason: ReasonQEMUError, Detail: "unknown outcome"}
}

// OrDefault returns s, or def when s is empty: a flavor's detail, else
// the generic one.
func OrDefault(s, def string) string {
	if s != "" {
		return s
	}
	return def
}
