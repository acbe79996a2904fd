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

	"github.com/ukdev/ukdev/guestexit"
)

// EventType says what an Event reports. Its values are the "type" strings
// of the JSON stream, which the README's "Events" table documents; a test
// keeps the table and the constants below in step.
type EventType string

// The event types, in the order of the README's table. Every type is
// declared here and nowhere else.
const (
	// TypeStart is sent once, when the loop starts.
	TypeStart EventType = "ukdev.start"
	// TypeConfigWarning reports what the flavor decided or ignores, or
	// that a config file changed and applies only after a restart.
	TypeConfigWarning EventType = "config.warning"
	// TypeAccel names the accelerator chosen (Accel) and why (Detail).
	TypeAccel EventType = "vm.accel"
	// TypeWatchStart lists the watched Paths when watching begins.
	TypeWatchStart EventType = "watch.start"
	// TypeWatchChange is a debounced batch of changed Paths; Count is -1
	// when there were too many to count.
	TypeWatchChange EventType = "watch.change"
	// TypeWatchWarning reports a watching problem, such as the inotify
	// watch limit.
	TypeWatchWarning EventType = "watch.warning"
	// TypeWatchPaused says that saves no longer trigger builds.
	TypeWatchPaused EventType = "watch.paused"
	// TypeWatchResumed says that saves trigger builds again.
	TypeWatchResumed EventType = "watch.resumed"
	// TypeBuildStart is sent when build number Build runs Command.
	TypeBuildStart EventType = "build.start"
	// TypeBuildOutput is one Line of a build's output on Stream.
	TypeBuildOutput EventType = "build.output"
	// TypeBuildDone ends a build: OK, ExitCode when known, DurationMS.
	TypeBuildDone EventType = "build.done"
	// TypeBuildCanceled says that a newer change cancelled the build.
	TypeBuildCanceled EventType = "build.canceled"
	// TypeImageReady says that the build's image is checked and copied.
	TypeImageReady EventType = "image.ready"
	// TypeVMStale lists the Names of the VMs a ukdev that died left on
	// the VM host (Detail), removed at start.
	TypeVMStale EventType = "vm.stale"
	// TypeVMUpload is the progress of the upload of one File of boot
	// Boot's image to the VM host (into a libvirt storage volume):
	// BytesDone of BytesTotal after ElapsedMS; Skipped when the host held
	// it already; Finished on the last, with why it failed in Detail when
	// it did. Sent at its start, at most 4 times a second, and at its end.
	TypeVMUpload EventType = "vm.upload"
	// TypeVMStart is sent when boot number Boot of a build starts, before
	// any of its console lines.
	TypeVMStart EventType = "vm.start"
	// TypeVMConsole is one Line of the guest's serial console, with the
	// Level, Library and Where the flavor reads from it.
	TypeVMConsole EventType = "vm.console"
	// TypeVMDropped counts console lines not delivered because the reader
	// was slow; they are in the boot log.
	TypeVMDropped EventType = "vm.console_dropped"
	// TypeVMSyslog is one Line the guest shipped to syslog.
	TypeVMSyslog EventType = "vm.syslog"
	// TypeVMCrash is a crash report seen on the console: its summary in
	// Detail and its symbolised stack in Frames.
	TypeVMCrash EventType = "vm.crash"
	// TypeVMExit ends a boot, with its Reason, ExitCode when known and
	// Detail.
	TypeVMExit EventType = "vm.exit"
	// TypeVMReset says that the guest was reset in place.
	TypeVMReset EventType = "vm.reset"
	// TypeVMPaused says that the VM was paused.
	TypeVMPaused EventType = "vm.paused"
	// TypeVMResumed says that the VM runs again after a pause.
	TypeVMResumed EventType = "vm.resumed"
	// TypeVMGDB says that QEMU's gdb stub of boot Boot listens at
	// Address, and gives the gdb command line that attaches (Command,
	// shell-quoted, and Args); Detail says what gdb will not see right.
	TypeVMGDB EventType = "vm.gdb"
	// TypeReload is sent at a new boot's first console line after a save,
	// with the Timing of save → running.
	TypeReload EventType = "reload.done"
	// TypeHealthReady says that boot Boot's health.url first answered
	// 2xx, DurationMS after its QEMU started (or after its reset).
	TypeHealthReady EventType = "health.ready"
	// TypeHealthStatus says that boot Boot's health changed after it was
	// ready: OK, or failing with why in Detail.
	TypeHealthStatus EventType = "health.status"
	// TypeDeployStart is sent when a deploy of Build to the Deploy named
	// starts (its Target).
	TypeDeployStart EventType = "deploy.start"
	// TypeDeployPlan is the Plan of a deploy from the dashboard, shown
	// before it asks for confirmation.
	TypeDeployPlan EventType = "deploy.plan"
	// TypeDeployStep is a Step of a deploy begun or finished, or a line
	// of a deploy tool's output in Message.
	TypeDeployStep EventType = "deploy.step"
	// TypeDeployProgress counts the BytesDone of BytesTotal a Step moved.
	TypeDeployProgress EventType = "deploy.progress"
	// TypeDeployDone ends a deploy that succeeded: Instance, IP, URLs and
	// ElapsedMS.
	TypeDeployDone EventType = "deploy.done"
	// TypeDeployError ends a deploy that failed or was cancelled, with
	// why in Detail.
	TypeDeployError EventType = "deploy.error"
	// TypeDeployConsole is one Line of a deployed Instance's serial
	// console (the log source cloud:<Deploy>).
	TypeDeployConsole EventType = "deploy.console"
	// TypeError reports a failure in Message; the loop goes on.
	TypeError EventType = "error"
	// TypeStop is the last event: the loop ended and no VM is left.
	TypeStop EventType = "ukdev.stop"
)

// HasLine reports whether events of type t carry a Line of guest or build
// text. Their JSON keeps "line" even when it is empty; other types never
// write it.
func (t EventType) HasLine() bool {
	return t == TypeVMConsole || t == TypeBuildOutput || t == TypeVMSyslog || t == TypeDeployConsole
}

// Event is one thing that happened in the loop. Only the fields that belong
// to its Type are set; Message is always a one-line human rendering.
//
// The struct tags are the JSON contract (README "Events"): a new field
// needs only its tag. MarshalJSON adds the two things tags cannot say:
// "ts" comes first, and "line" is written for the types that carry one
// (even when empty) and never for the others.
type Event struct {
	Time    time.Time `json:"-"` // written as "ts" by MarshalJSON
	Type    EventType `json:"type"`
	Message string    `json:"message,omitempty"`

	Paths      []string `json:"paths,omitempty"`
	Count      int      `json:"count,omitempty"`
	Build      int      `json:"build,omitempty"`
	Boot       int      `json:"boot,omitempty"`
	Line       string   `json:"line"` // raw guest or build text (untrusted: sanitise before display); see HasLine
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
	Address    string   `json:"address,omitempty"` // vm.gdb: the stub's address, as gdb's target remote takes it
	Args       []string `json:"args,omitempty"`    // vm.gdb: the gdb command line, "gdb" first
	Frames     []string `json:"frames,omitempty"`  // a crash's stack, innermost first, symbolised
	Timing     *Timing  `json:"timing,omitempty"`
	URL        string   `json:"url,omitempty"`     // the endpoint a health event checked
	Names      []string `json:"names,omitempty"`   // vm.stale: the VMs removed
	File       string   `json:"file,omitempty"`    // vm.upload: the local file
	Skipped    bool     `json:"skipped,omitempty"` // vm.upload: the host had it already

	// Level, Library and Where are what the flavor reads from a console
	// line in its kernel's log format (Unikraft: "crit", "err", "warn",
	// "info", "debug"; the library; "file:line"); empty otherwise.
	Level   string `json:"level,omitempty"`
	Library string `json:"lib,omitempty"`
	Where   string `json:"where,omitempty"`

	// Target, Deploy, Plan, Step, Finished, BytesDone, BytesTotal,
	// Instance, IP, URLs and ElapsedMS are a deploy's (DeployEvent); never
	// a credential. A vm.upload has BytesDone, BytesTotal, Finished and
	// ElapsedMS too.
	Target     string    `json:"target,omitempty"`
	Deploy     string    `json:"deploy,omitempty"`
	Plan       []PlanRow `json:"plan,omitempty"`
	Step       string    `json:"step,omitempty"`
	Finished   bool      `json:"finished,omitempty"`
	BytesDone  *int64    `json:"bytes_done,omitempty"`
	BytesTotal *int64    `json:"bytes_total,omitempty"`
	Instance   string    `json:"instance,omitempty"`
	IP         string    `json:"ip,omitempty"`
	URLs       []string  `json:"urls,omitempty"`
	ElapsedMS  *float64  `json:"elapsed_ms,omitempty"`
}

// PlanRow is one fact of a deploy's plan (deploy.Row).
type PlanRow struct {
	Key   string `json:"key"`
	Value string `json:"value"`
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
	// BootMS runs from QEMU's spawn to the first console line on the wall
	// clock: QEMUMS plus whatever ukdev did between QMP ready and cont
	// (stopping the old VM, handing over ports), the figure a bare QEMU
	// boot of the same argv compares with.
	BootMS float64 `json:"boot_ms"`
	// OverheadMS is everything else ukdev spent (stopping the old VM,
	// scheduling, port forwards).
	OverheadMS float64 `json:"overhead_ms"`
	// TotalMS runs from the first file event to the new boot's first
	// console line.
	TotalMS float64 `json:"total_ms"`
}

// Crashed reports whether a TypeVMExit event ends its boot abnormally:
// the guest crashed or panicked, or QEMU failed.
func (e Event) Crashed() bool {
	switch guestexit.Reason(e.Reason) {
	case guestexit.ReasonCrash, guestexit.ReasonPanic, guestexit.ReasonQEMUError:
		return true
	}
	return false
}

// Source is the part of the type before the dot ("build", "vm", ...), or
// "console" for guest console lines.
func (e Event) Source() string {
	if e.Type == TypeVMConsole {
		return "console"
	}
	src, _, _ := strings.Cut(string(e.Type), ".")
	return src
}

// MarshalJSON writes the event as one flat object: "ts" first, then the
// fields as their tags say, in the struct's order.
func (e Event) MarshalJSON() ([]byte, error) {
	w := eventJSON{TS: timestamp(e.Time), taggedEvent: taggedEvent(e)}
	if e.Type.HasLine() {
		return json.Marshal(w)
	}
	return json.Marshal(eventJSONNoLine{eventJSON: w})
}

// taggedEvent is Event without its MarshalJSON, so that encoding/json
// writes it by its tags.
type taggedEvent Event

// eventJSON is an event as written: its fields after "ts".
type eventJSON struct {
	TS timestamp `json:"ts"`
	taggedEvent
}

// eventJSONNoLine is an event of a type without a line. Its own Line,
// shallower than the embedded one, hides it from encoding/json, and being
// always zero it is never written either.
type eventJSONNoLine struct {
	eventJSON
	Line struct{} `json:"line,omitzero"`
}

// timestamp is an event's time as JSON: RFC 3339 with milliseconds.
type timestamp time.Time

// tsLayout is RFC 3339 with milliseconds.
const tsLayout = "2006-01-02T15:04:05.000Z07:00"

// MarshalText writes t in tsLayout; encoding/json quotes it.
func (t timestamp) MarshalText() ([]byte, error) {
	return time.Time(t).AppendFormat(make([]byte, 0, len(tsLayout)), tsLayout), nil
}

func ptr[T any](v T) *T { return &v }

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
