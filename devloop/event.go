// Package devloop runs ukdev's inner loop as one state machine: watch the
// sources, rebuild on change, pack the build into an image, hot-reboot QEMU
// on it, and report everything that happens as a stream of typed Events.
// It renders nothing: the dashboard and the plain and JSON printers are
// views on the same events.
package devloop

import (
	"encoding/json"
	"strings"
	"time"
)

// Event types. The JSON contract (README "Events") names these strings.
const (
	TypeStart         = "ukdev.start"
	TypeStop          = "ukdev.stop"
	TypeAccel         = "vm.accel"
	TypeWatchStart    = "watch.start"
	TypeWatchChange   = "watch.change"
	TypeWatchWarning  = "watch.warning"
	TypeWatchPaused   = "watch.paused"
	TypeWatchResumed  = "watch.resumed"
	TypeBuildStart    = "build.start"
	TypeBuildOutput   = "build.output"
	TypeBuildDone     = "build.done"
	TypeBuildCanceled = "build.canceled"
	TypeImageReady    = "image.ready"
	TypeVMStart       = "vm.start"
	TypeVMConsole     = "vm.console"
	TypeVMExit        = "vm.exit"
	TypeVMCrash       = "vm.crash"
	TypeVMSyslog      = "vm.syslog"
	TypeConfigWarning = "config.warning"
	TypeVMReset       = "vm.reset"
	TypeVMPaused      = "vm.paused"
	TypeVMResumed     = "vm.resumed"
	TypeVMDropped     = "vm.console_dropped"
	TypeReload        = "reload.done"
	TypeError         = "error"
)

// Event is one thing that happened in the loop. Only the fields that belong
// to its Type are set; Message is always a one-line human rendering.
type Event struct {
	Time    time.Time
	Type    string
	Message string

	Paths      []string
	Count      int
	Build      int
	Boot       int
	Line       string // raw guest or build text (untrusted: sanitise before display)
	Stream     string
	OK         *bool
	ExitCode   *int
	DurationMS *float64
	Accel      string
	Machine    string
	PID        int
	Reason     string
	Detail     string
	Command    string
	Frames     []string // a crash's stack, innermost first, symbolised
	Timing     *Timing

	// Level, Library and Where are what the flavor reads from a console
	// line in its kernel's log format (Unikraft: "crit", "err", "warn",
	// "info", "debug"; the library; "file:line"); empty otherwise.
	Level   string
	Library string
	Where   string
}

// Timing splits a save → running reload into its phases, in milliseconds.
type Timing struct {
	// DebounceMS runs from the first file event to the end of the debounce.
	DebounceMS float64 `json:"debounce_ms"`
	// BuildMS is the build command's run time.
	BuildMS float64 `json:"build_ms"`
	// ImageMS is the time to inspect and copy the image.
	ImageMS float64 `json:"image_ms"`
	// QEMUMS is QEMU's own time: spawn → QMP ready, plus cont → first line.
	QEMUMS float64 `json:"qemu_ms"`
	// OverheadMS is everything else ukdev spent (stopping the old VM,
	// scheduling, port forwards).
	OverheadMS float64 `json:"overhead_ms"`
	// TotalMS runs from the first file event to the new boot's first
	// console line.
	TotalMS float64 `json:"total_ms"`
}

// Source is the part of the type before the dot ("build", "vm", ...), or
// "console" for guest console lines.
func (e Event) Source() string {
	if e.Type == TypeVMConsole {
		return "console"
	}
	src, _, _ := strings.Cut(e.Type, ".")
	return src
}

// tsLayout is RFC 3339 with milliseconds.
const tsLayout = "2006-01-02T15:04:05.000Z07:00"

// MarshalJSON writes the event as one flat object with "ts" and "type" first.
func (e Event) MarshalJSON() ([]byte, error) {
	type fields struct {
		TS         string   `json:"ts"`
		Type       string   `json:"type"`
		Message    string   `json:"message,omitempty"`
		Paths      []string `json:"paths,omitempty"`
		Count      int      `json:"count,omitempty"`
		Build      int      `json:"build,omitempty"`
		Boot       int      `json:"boot,omitempty"`
		Line       *string  `json:"line,omitempty"`
		Stream     string   `json:"stream,omitempty"`
		OK         *bool    `json:"ok,omitempty"`
		ExitCode   *int     `json:"exit_code,omitempty"`
		DurationMS *float64 `json:"duration_ms,omitempty"`
		Accel      string   `json:"accel,omitempty"`
		Machine    string   `json:"machine,omitempty"`
		PID        int      `json:"pid,omitempty"`
		Reason     string   `json:"reason,omitempty"`
		Detail     string   `json:"detail,omitempty"`
		Command    string   `json:"command,omitempty"`
		Frames     []string `json:"frames,omitempty"`
		Timing     *Timing  `json:"timing,omitempty"`
		Level      string   `json:"level,omitempty"`
		Library    string   `json:"lib,omitempty"`
		Where      string   `json:"where,omitempty"`
	}
	f := fields{
		TS: e.Time.Format(tsLayout), Type: e.Type, Message: e.Message, Paths: e.Paths, Count: e.Count,
		Build: e.Build, Boot: e.Boot, Stream: e.Stream, OK: e.OK, ExitCode: e.ExitCode,
		DurationMS: e.DurationMS, Accel: e.Accel, Machine: e.Machine, PID: e.PID, Reason: e.Reason,
		Detail: e.Detail, Command: e.Command, Frames: e.Frames, Timing: e.Timing,
		Level: e.Level, Library: e.Library, Where: e.Where,
	}
	if e.Type == TypeVMConsole || e.Type == TypeBuildOutput || e.Type == TypeVMSyslog {
		// An empty line is still a line: keep the key.
		f.Line = &e.Line
	}
	return json.Marshal(f)
}

func ptr[T any](v T) *T { return &v }

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
