package tui

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/tui/panel"
)

// vmState is what the status bar says about the VM.
type vmState int

const (
	vmNone vmState = iota
	vmBooting
	vmRunning
	vmPaused
	vmExited
	vmCrashed
)

// status is the state the status bar shows, folded from the loop's events.
type status struct {
	project, flavor string
	ports           []string

	vm         vmState
	exit       string // how the last boot ended, for vmExited and vmCrashed
	accel      string // "TCG (no KVM)"
	machine    string
	host       string // the libvirt URI the VMs run at; "" here
	boot       int
	bootStart  time.Time
	frozenAt   time.Time     // when the VM paused or ended: the uptime stops there
	pausedFor  time.Duration // time spent paused, not counted as uptime
	building   int           // the build in progress, 0 when none
	lastBuild  string
	buildOK    bool
	hasBuild   bool
	reloadMS   float64
	hasReload  bool
	health     healthState // the current boot's health.url, when checked
	readyMS    float64     // QEMU start → health.url first answered, for healthReady
	watchOff   bool
	stopping   bool
	stoppedAll bool
	attached   bool // the dashboard does not own the loop (ukdev attach)
	// gdbWait: the boot waits at its first instruction for gdb.
	gdbWait bool
	// note is what the last gdb request came to, when worth saying.
	note string
	// upload is the image file being sent to the VM host (vm.upload),
	// while it goes: "upload vmlinuz 12.0 MiB/40.0 MiB 1.20s".
	upload string
}

// healthState is what the status bar says about the app's health.
type healthState int

const (
	healthUnknown healthState = iota // no health.url, or not ready yet
	healthReady
	healthFailing
)

// apply folds one event into the status.
func (s *status) apply(e devloop.Event) {
	switch e.Type {
	case devloop.TypeAccel:
		s.accel = accelLabel(e.Accel, e.Detail)
	case devloop.TypeBuildStart:
		s.building = e.Build
	case devloop.TypeBuildCanceled:
		s.building = 0
		s.lastBuild, s.buildOK, s.hasBuild = fmt.Sprintf("build #%d canceled", e.Build), true, true
	case devloop.TypeBuildDone:
		s.building = 0
		ok := e.OK != nil && *e.OK
		text := fmt.Sprintf("build #%d ok", e.Build)
		if !ok {
			text = fmt.Sprintf("build #%d FAILED", e.Build)
			if e.ExitCode != nil {
				text = fmt.Sprintf("build #%d FAILED (exit %d)", e.Build, *e.ExitCode)
			}
		}
		if e.DurationMS != nil {
			text += " " + panel.FormatMS(*e.DurationMS)
		}
		s.lastBuild, s.buildOK, s.hasBuild = text, ok, true
	case devloop.TypeImageReady:
		// An image that needed no build (ukdev run or up on an up-to-date
		// one) still names its build.
		if s.building == 0 && !s.hasBuild {
			s.lastBuild, s.buildOK, s.hasBuild = fmt.Sprintf("build #%d (up to date)", e.Build), true, true
		}
	case devloop.TypeVMGDB:
		s.gdbWait = e.Boot == s.boot && s.vm == vmBooting
	case devloop.TypeVMUpload:
		s.upload = ""
		if !e.Finished {
			s.upload = uploadLabel(e)
		}
	case devloop.TypeVMStart:
		s.upload = ""
		s.gdbWait, s.note = false, ""
		s.vm, s.boot, s.bootStart, s.exit = vmBooting, e.Boot, e.Time, ""
		s.frozenAt, s.pausedFor = time.Time{}, 0
		s.health = healthUnknown
		s.machine = e.Machine
		if s.accel == "" && e.Accel != "" {
			s.accel = accelLabel(e.Accel, "")
		}
	case devloop.TypeVMConsole:
		if e.Boot == s.boot && s.vm == vmBooting {
			s.vm = vmRunning
		}
	case devloop.TypeVMReset:
		s.vm, s.bootStart = vmBooting, e.Time
		s.frozenAt, s.pausedFor = time.Time{}, 0
		s.health = healthUnknown
	case devloop.TypeHealthReady:
		if e.Boot == s.boot && e.DurationMS != nil {
			s.health, s.readyMS = healthReady, *e.DurationMS
		}
	case devloop.TypeHealthStatus:
		if e.Boot == s.boot && e.OK != nil {
			s.health = healthReady
			if !*e.OK {
				s.health = healthFailing
			}
		}
	case devloop.TypeVMPaused:
		if e.Boot == s.boot {
			s.vm, s.frozenAt = vmPaused, e.Time
		}
	case devloop.TypeVMResumed:
		if e.Boot == s.boot {
			s.vm = vmRunning
			if !s.frozenAt.IsZero() {
				s.pausedFor += e.Time.Sub(s.frozenAt)
				s.frozenAt = time.Time{}
			}
		}
	case devloop.TypeVMExit:
		if e.Boot != s.boot {
			return // an old boot replaced by a newer one
		}
		s.exit = exitLabel(e)
		s.health = healthUnknown
		s.vm = vmExited
		if e.Crashed() {
			s.vm = vmCrashed
		}
		s.frozenAt = e.Time // uptime stops at the end
	case devloop.TypeReload:
		if e.Timing != nil {
			s.reloadMS, s.hasReload = e.Timing.TotalMS, true
		}
	case devloop.TypeWatchPaused:
		s.watchOff = true
	case devloop.TypeWatchResumed:
		s.watchOff = false
	case devloop.TypeStop:
		s.stoppedAll = true
	}
}

// running reports whether a VM is up (booting, running or paused): s then
// stops it rather than starting one.
func (s *status) running() bool {
	return s.vm == vmBooting || s.vm == vmRunning || s.vm == vmPaused
}

// accelLabel says which accelerator runs the guest and, for TCG, why KVM
// does not, in a few words: "KVM", "TCG (no KVM)", "TCG (KVM unusable)".
func accelLabel(accel, detail string) string {
	name := strings.ToUpper(accel)
	if accel != "tcg" {
		return name
	}
	switch {
	case strings.Contains(detail, "config"):
		return name + " (set in config)"
	case strings.Contains(detail, "unusable"):
		return name + " (KVM unusable)"
	case strings.Contains(detail, "cannot be opened"):
		return name + " (KVM not permitted)"
	case strings.Contains(detail, "not run"), strings.Contains(detail, "could not run"):
		return name + " (KVM not probed)"
	default:
		return name + " (no KVM)"
	}
}

// exitLabel is how a boot ended: "exit 3", "panic", "killed".
func exitLabel(e devloop.Event) string {
	s := e.Reason
	if s == "" {
		s = "ended"
	}
	if e.ExitCode != nil {
		s += fmt.Sprintf(" %d", *e.ExitCode)
	}
	return s
}

// uploadLabel is the status bar's segment for a vm.upload that goes on:
// the file, the bytes sent of its size and the time so far.
func uploadLabel(e devloop.Event) string {
	var sent, total int64
	if e.BytesDone != nil {
		sent = *e.BytesDone
	}
	if e.BytesTotal != nil {
		total = *e.BytesTotal
	}
	label := fmt.Sprintf("upload %s %s/%s", filepath.Base(e.File), panel.FormatBytes(float64(sent)), panel.FormatBytes(float64(total)))
	if e.ElapsedMS != nil {
		label += " " + panel.FormatMS(*e.ElapsedMS)
	}
	return label
}

// vmLabel is the VM segment of the status bar.
func (s *status) vmLabel() string {
	switch {
	case s.stopping && !s.stoppedAll:
		return "stopping…"
	case s.stoppedAll:
		return "stopped"
	}
	switch s.vm {
	case vmBooting:
		if s.gdbWait {
			return "waiting for gdb"
		}
		return "booting"
	case vmRunning:
		return "running"
	case vmPaused:
		return "paused"
	case vmExited:
		return "exited (" + s.exit + ")"
	case vmCrashed:
		return "crashed (" + s.exit + ")"
	}
	if s.building != 0 {
		return "building"
	}
	return "no VM"
}

// uptimeChanges is when the uptime the status bar shows next changes its
// text, after now: false while it stands still (no boot yet, the VM
// paused or ended).
func (s *status) uptimeChanges(now time.Time) (time.Time, bool) {
	if s.boot == 0 || s.bootStart.IsZero() || !s.frozenAt.IsZero() {
		return time.Time{}, false
	}
	up := now.Sub(s.bootStart) - s.pausedFor
	if up < 0 {
		return now.Add(-up + time.Second), true
	}
	step := uptimeStep(up)
	return now.Add(step - up%step), true
}

// segments renders the status bar's parts, in two groups: the VM, then the
// loop (build, reload, ports, watching). now is the clock for the uptime.
func (s *status) segments(now time.Time) (vm, loop []string) {
	name := s.project
	if s.flavor != "" {
		name += " · " + s.flavor
	}
	vm = append(vm, name, s.vmLabel())
	if s.accel != "" || s.machine != "" {
		where := strings.TrimSpace(s.accel + " " + s.machine)
		if s.host != "" {
			where += " on " + devloop.HostName(s.host)
		}
		vm = append(vm, where)
	}
	if s.boot > 0 {
		b := fmt.Sprintf("boot #%d", s.boot)
		if !s.bootStart.IsZero() {
			end := now
			if !s.frozenAt.IsZero() {
				end = s.frozenAt
			}
			b += " up " + formatUptime(end.Sub(s.bootStart)-s.pausedFor)
		}
		vm = append(vm, b)
	}
	switch s.health {
	case healthReady:
		vm = append(vm, "ready "+panel.FormatMS(s.readyMS))
	case healthFailing:
		vm = append(vm, "health failing")
	}

	switch {
	case s.building != 0:
		loop = append(loop, fmt.Sprintf("build #%d running…", s.building))
	case s.hasBuild:
		loop = append(loop, s.lastBuild)
	default:
		loop = append(loop, "no build yet")
	}
	if s.upload != "" {
		loop = append(loop, s.upload)
	}
	if s.hasReload {
		loop = append(loop, "save→running "+panel.FormatMS(s.reloadMS))
	}
	if len(s.ports) > 0 {
		loop = append(loop, "ports "+strings.Join(s.ports, ", "))
	}
	if s.watchOff {
		loop = append(loop, "watch paused")
	} else {
		loop = append(loop, "watching")
	}
	if s.attached {
		loop = append(loop, "attached · q detaches")
	}
	if s.note != "" {
		loop = append(loop, s.note)
	}
	return vm, loop
}

// formatUptime renders the status bar's uptime: to the second in the
// first minute, then to the minute ("42s", "3m", "1h02m"). A clock that
// stays on screen changes once a minute, so an idle dashboard need not
// redraw every second; the VMs panel and ukdev ps, which refresh anyway,
// keep panel.FormatUptime's seconds. A negative duration is 0s.
func formatUptime(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	if d < time.Minute {
		return panel.FormatUptime(d)
	}
	d = d.Truncate(time.Minute)
	if d < time.Hour {
		return fmt.Sprintf("%dm", int(d.Minutes()))
	}
	return panel.FormatUptime(d)
}

// uptimeStep is the unit formatUptime shows d in: its text changes when
// d crosses a multiple of it.
func uptimeStep(d time.Duration) time.Duration {
	if d < time.Minute {
		return time.Second
	}
	return time.Minute
}
