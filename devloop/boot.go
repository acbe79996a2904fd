package devloop

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ukdev/ukdev/crash"
	"github.com/ukdev/ukdev/flavor"
	"github.com/ukdev/ukdev/guestexit"
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/logs"
	"github.com/ukdev/ukdev/vm"
)

type bootState struct {
	n, build int
	img      image.Image
	machine  string
	m        vm.Machine
	out      *consoleWriter
	ended    bool
	exit     guestexit.Exit
	spawn    time.Time   // when its QEMU was started
	ready    time.Time   // when its QEMU could be controlled (and ran, unless started paused)
	paused   bool        // paused by the user (togglePause)
	health   healthWatch // its health.url checks
}

func (l *Loop) resolveAccel(ctx context.Context) vm.Accel {
	if l.opts.Accel != nil {
		return *l.opts.Accel
	}
	switch l.cfg.VM.Accel {
	case "kvm":
		return vm.Accel{Name: "kvm", Reason: "vm.accel = \"kvm\" in the config"}
	case "tcg":
		return vm.Accel{Name: "tcg", Reason: "vm.accel = \"tcg\" in the config"}
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return l.backend.ProbeAccel(pctx, l.cfg.VM.QEMU)
}

// boot hot-reboots onto img in named steps. When the old machine holds
// something the new one needs (forwarded ports, a disk both would open for
// writing) or the guest waits for a debugger: start a new machine on it,
// paused; stop the old one (freeing its ports); hand the ports over to the
// new one; let it run. A disk both attach is let go of first: the old
// machine is stopped before the new one starts, since QEMU refuses to open
// a disk another QEMU writes. Otherwise the new machine runs as soon as QEMU is
// ready and the old one is stopped beside it, off the critical path
// (overlap). When the new machine cannot start, the old one keeps running.
func (l *Loop) boot(ctx context.Context, img image.Image, clock *reloadClock) {
	if l.qemuErr != nil && l.opts.Host != "" {
		l.checkBackend(ctx)
		if l.qemuErr != nil {
			if l.opts.Once {
				l.lastExit = &guestexit.Exit{Reason: guestexit.ReasonQEMUError, Detail: l.qemuErr.Error()}
			}
			return // reported by checkBackend
		}
	}
	if l.qemuErr != nil {
		if !l.opts.Once {
			// A reminder after each build; ukdev run said it at start.
			l.errorf("cannot boot build #%d: %v", img.Build, l.qemuErr)
		}
		if l.opts.Once {
			l.lastExit = &guestexit.Exit{Reason: guestexit.ReasonQEMUError, Detail: l.qemuErr.Error()}
		}
		return
	}
	if l.opts.GDB {
		// The guest waits for the debugger: no save → running time.
		clock = nil
	}
	n := l.nextBoot
	spec := l.machineSpec(img, n)
	img = spec.Image
	overlap := l.canOverlap(spec)
	spec.StartPaused = !overlap
	out := &consoleWriter{l: l, boot: n, build: img.Build, split: logs.NewSplitter(4096), clock: clock}
	if f, ok := l.flavor.(flavor.ConsoleFilterer); ok {
		out.show = f.ConsoleFilter()
	}
	if !overlap && l.current != nil && sharesDisk(l.current.img, spec.Image) {
		l.stopOld(ctx)
		l.current = nil
	}
	spawn := time.Now()
	dump := filepath.Join(l.runDir, fmt.Sprintf("mem-%d.bin", n))
	m, ok := l.startMachine(ctx, spec, out, dump)
	if !ok {
		return
	}
	ready := time.Now()
	l.nextBoot++

	if overlap {
		l.retire(ctx, l.current, out.output(), m.Ended())
	} else {
		l.stopOld(ctx)
		if !l.handOverPorts(ctx, m, n) {
			return
		}
	}

	bw, err := l.store.StartBoot(logs.BootInfo{Boot: n, Build: img.Build, Start: time.Now(), Accel: l.accel.Name, Machine: spec.Machine})
	if err != nil {
		l.errorf("boot #%d: console log: %v", n, err)
	}
	out.setFile(bw)
	b := &bootState{n: n, build: img.Build, img: img, machine: spec.Machine, m: m, out: out, spawn: spawn, ready: ready}
	l.current = b
	l.lastImage = &img
	if clock != nil {
		clock.spawn, clock.ready = spawn, ready
	}
	l.letRun(ctx, b, spec, dump)
}

// canOverlap reports whether the machine of spec may run while the
// current one is still being stopped: nothing has to pass from the old
// machine to the new one first. Forwarded ports are bound by one QEMU at
// a time, and are added to the new machine once the old one has freed
// them; a disk both machines attach would be opened for writing by both
// (QEMU refuses, and two guests would write it); a guest started for gdb
// waits paused anyway.
func (l *Loop) canOverlap(spec vm.Spec) bool {
	if spec.GDB != "" || len(l.cfg.VM.Ports) > 0 {
		return false
	}
	return l.current == nil || !sharesDisk(l.current.img, spec.Image)
}

// sharesDisk reports whether two images attach the same disk file.
func sharesDisk(a, b image.Image) bool {
	if a.Disk == "" || b.Disk == "" {
		return false
	}
	if filepath.Clean(a.Disk) == filepath.Clean(b.Disk) {
		return true
	}
	ai, errA := os.Stat(a.Disk)
	bi, errB := os.Stat(b.Disk)
	return errA == nil && errB == nil && os.SameFile(ai, bi)
}

// machineSpec describes boot n of img, paused at start: boot lets it run
// at once when nothing has to be handed over from the old machine first.
func (l *Loop) machineSpec(img image.Image, n int) vm.Spec {
	cfg := l.cfg
	machine := cfg.VM.Machine
	if machine == "" || machine == "auto" {
		machine = img.Machine
	}
	if machine != img.Machine {
		// The flavor's machine options are for its own machine
		// (microvm's ioapic2 does not exist on q35).
		img.MachineOptions = ""
	}
	var gdb string
	if l.opts.GDB {
		gdb = "unix:" + l.gdbSocket(n)
	}
	return vm.Spec{
		GDB:         gdb,
		QEMU:        cfg.VM.QEMU,
		Image:       img,
		Accel:       l.accel.Name,
		Machine:     machine,
		MemoryMiB:   cfg.VM.MemoryMiB,
		CPUs:        cfg.VM.CPUs,
		QMPSocket:   filepath.Join(l.runDir, fmt.Sprintf("qmp-%d.sock", n)),
		Network:     cfg.VM.Network || len(cfg.VM.Ports) > 0,
		StartPaused: true,
		ExtraArgs:   cfg.VM.Args,
	}
}

// startMachine starts the machine of spec, its guest paused or running
// as spec says. A machine that cannot start is reported, and false
// returned: the old one keeps running.
func (l *Loop) startMachine(ctx context.Context, spec vm.Spec, out *consoleWriter, dump string) (vm.Machine, bool) {
	up := newUploadReporter(out.boot, spec.Image.Build, l.emit)
	m, err := l.backend.Start(ctx, spec, vm.StartOptions{Console: out, Log: l.log, DumpFile: dump, Progress: up.progress})
	if err == nil {
		return m, true
	}
	build := spec.Image.Build
	if spec.GDB != "" {
		err = l.unsupported(err, "--gdb (boots waiting for gdb)")
	}
	var se *vm.StartError
	if errors.As(err, &se) && strings.TrimSpace(se.Stderr) != "" {
		l.errorf("QEMU refused build #%d: %s%s", build, strings.TrimSpace(se.Stderr), l.stillRunning())
	} else {
		what := "QEMU"
		if l.opts.Host != "" {
			what = "the VM on " + l.opts.Host
		}
		l.errorf("cannot start %s for build #%d: %v%s", what, build, err, l.stillRunning())
	}
	if l.opts.Once {
		l.lastExit = &guestexit.Exit{Reason: guestexit.ReasonQEMUError, Detail: err.Error()}
	}
	return nil, false
}

// stopOld stops the current machine, if any, freeing its forwarded ports
// for the new one; its end is reported by the goroutine that waits on it.
func (l *Loop) stopOld(ctx context.Context) {
	old := l.current
	if old == nil {
		return
	}
	l.forget(old.m, true)
	l.stopHealth(old)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := old.m.Stop(sctx); err != nil {
		l.log.Warn("stop old VM", "boot", old.n, "err", err)
	}
}

// retireWait bounds how long a replaced machine waits, paused, for the new
// guest's first output before it is stopped.
const retireWait = time.Second

// retire stops old, the machine a new one replaces, without waiting for
// it: nothing of it is handed over, so its teardown is kept off the new
// boot's way. It is paused at once (a paused guest neither competes for
// the CPU nor prints), and stopped once the new guest has written
// (newOutput), or its boot has ended (newEnded), or after retireWait, or
// when ukdev quits: QEMU's exit costs CPU time the new boot needs on a
// small host. Its end is reported by the goroutine that waits on it, as
// for stopOld; shutdown waits for the stop and for that report.
func (l *Loop) retire(ctx context.Context, old *bootState, newOutput, newEnded <-chan struct{}) {
	if old == nil {
		return
	}
	l.forget(old.m, true)
	l.stopHealth(old)
	if !old.ended {
		l.retiring = append(l.retiring, old)
	}
	wait := l.retireWait
	l.retirements.Add(1)
	go func() {
		defer l.retirements.Done()
		ctx := context.WithoutCancel(ctx)
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		if err := old.m.Pause(pctx); err != nil {
			// It may have ended or exited meanwhile: stopping it is all
			// that matters.
			l.log.Debug("pause old VM", "boot", old.n, "err", err)
		}
		cancel()
		bound := time.NewTimer(wait)
		select {
		case <-newOutput:
		case <-newEnded:
		case <-l.quitting:
		case <-bound.C:
		}
		bound.Stop()
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := old.m.Stop(sctx); err != nil {
			l.log.Warn("stop old VM", "boot", old.n, "err", err)
		}
	}()
}

// handOverPorts forwards the configured ports to m, boot n. When a port
// cannot be forwarded, m is stopped and false returned: there is no
// current machine then.
func (l *Loop) handOverPorts(ctx context.Context, m vm.Machine, n int) bool {
	for _, p := range l.cfg.VM.Ports {
		pf := vm.PortForward{Proto: p.Proto, HostAddr: p.HostAddr, HostPort: p.HostPort, GuestPort: p.GuestPort}
		if err := m.AddPortForward(ctx, pf); err != nil {
			l.errorf("boot #%d: cannot forward %s: %v (is the port in use?)", n, p.Spec, err)
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_ = m.Stop(sctx)
			cancel()
			l.current = nil
			if l.opts.Once {
				l.lastExit = &guestexit.Exit{Reason: guestexit.ReasonQEMUError, Detail: err.Error()}
			}
			return false
		}
	}
	return true
}

// letRun announces boot b, makes it the machine console input and
// inspection go to, resumes its guest unless it runs already (with
// Options.GDB, leaves it to the debugger), and waits for its end in the
// background.
func (l *Loop) letRun(ctx context.Context, b *bootState, spec vm.Spec, dump string) {
	m, n := b.m, b.n
	// vm.start comes before any console line of the boot.
	l.emit(Event{Type: TypeVMStart, Boot: n, Build: b.build, Accel: l.accel.Name, Machine: b.machine, PID: m.PID(),
		Message: fmt.Sprintf("boot #%d of build #%d: %s on %s%s", n, b.build, strings.ToUpper(l.accel.Name), b.machine, l.where(m))})
	// The stub is known before the VM is live: whoever sees it live
	// (Current) can open gdb on it at once.
	l.setGDBStub(&gdbStub{m: m, boot: n, build: b.build, img: b.img, addr: spec.GDB})
	l.setRunning(m, &VMInfo{Boot: n, Build: b.build, PID: m.PID(), Host: l.opts.Host, Machine: b.machine, Accel: l.accel.Name,
		MemoryMiB: spec.MemoryMiB, Symbols: b.img.Symbols, SymbolSpace: b.img.SymbolSpace})
	switch {
	case !spec.StartPaused:
		// It runs since Start returned; its first lines, held until
		// now, follow vm.start.
		b.out.armClock(b.ready, m)
	case spec.GDB != "":
		b.out.armClock(time.Now(), m)
		l.waitForGDB(b, spec.GDB)
	default:
		b.out.armClock(time.Now(), m)
		if err := m.Resume(ctx); err != nil && ctx.Err() == nil {
			// When ukdev is quitting, shutdown stops this VM anyway.
			l.errorf("boot #%d: cont: %v", n, err)
			if l.opts.Once {
				// Nothing else would end a VM that never ran.
				l.lastExit = &guestexit.Exit{Reason: guestexit.ReasonQEMUError, Detail: err.Error()}
				l.stopCurrent()
				return
			}
		}
	}
	l.startHealth(ctx, b, b.spawn)
	go func() {
		// QEMU leaves its QMP and gdb sockets behind, and ReadMemory its
		// dump.
		<-m.Exited()
		_ = os.Remove(spec.QMPSocket)
		_ = os.Remove(l.gdbSocket(n))
		_ = os.Remove(dump)
	}()
	go func() {
		<-m.Ended()
		o := m.Outcome()
		if o.Kind == image.QEMUExited || o.Kind == image.StoppedByHost || o.Kind == image.StartFailed {
			// Every console byte has been delivered once QEMU is reaped.
			<-m.Exited()
		} else {
			// The VM is paused (panic, crash): what it wrote just before
			// may still be in the pty. Let it drain so the last lines come
			// before vm.exit and reach the boot log.
			b.out.waitQuiet(50*time.Millisecond, time.Second)
		}
		l.bootEnded <- b
	}()
}

func (l *Loop) onBootEnded(b *bootState) {
	if b.ended {
		return
	}
	b.ended = true
	l.retiring = slices.DeleteFunc(l.retiring, func(r *bootState) bool { return r == b })
	l.stopHealth(b)
	o := b.m.Outcome()
	l.forget(b.m, o.Kind == image.QEMUExited || o.Kind == image.StoppedByHost || o.Kind == image.StartFailed)
	exit := l.flavor.Decode(o)
	b.out.flush()
	if ex, ok := l.flavor.(flavor.ConsoleExplainer); ok && o.Kind != image.StoppedByHost {
		var report *crash.Crash
		exit, report = ex.Explain(exit, b.out.tail(), b.img)
		if report != nil {
			frames := make([]string, 0, len(report.Frames))
			for _, f := range report.Frames {
				frames = append(frames, f.String())
			}
			l.emit(Event{Type: TypeVMCrash, Boot: b.n, Build: b.build, Detail: report.Summary(), Frames: frames,
				Message: fmt.Sprintf("boot #%d crashed: %s", b.n, report.Summary())})
		}
	}
	b.exit = exit
	e := Event{Type: TypeVMExit, Boot: b.n, Build: b.build, Reason: string(exit.Reason), Detail: exit.Detail,
		Message: fmt.Sprintf("boot #%d ended: %s", b.n, exit)}
	if exit.HasCode {
		e.ExitCode = ptr(exit.Code)
	}
	if o.Kind == image.QEMUExited && o.Status == 1 && o.Detail != "" {
		e.Detail = strings.TrimSpace(b.m.Stderr())
	}
	l.emit(e)
	var code *int
	if exit.HasCode {
		code = ptr(exit.Code)
	}
	if err := b.out.finish(time.Now(), string(exit.Reason), code); err != nil {
		l.log.Warn("finish boot log", "boot", b.n, "err", err)
	}
	if l.current == b {
		l.lastExit = &exit
		if l.opts.Once {
			l.stopCurrent()
		}
	}
}

// stopCurrent stops the current VM and forgets it; its end is reported by
// the goroutine that waits on it.
func (l *Loop) stopCurrent() {
	b := l.current
	if b == nil {
		return
	}
	l.current = nil
	l.forget(b.m, true)
	l.stopHealth(b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.m.Stop(ctx); err != nil {
		l.log.Warn("stop VM", "boot", b.n, "err", err)
	}
}

// bootLast boots the last good image again, replacing any running VM.
func (l *Loop) bootLast(ctx context.Context) {
	if l.lastImage == nil {
		l.errorf("no image to boot yet")
		return
	}
	l.boot(ctx, *l.lastImage, nil)
}

// reboot restarts the guest on the same build: a reset in place on
// microvm while it runs, else a fresh machine on the same image.
func (l *Loop) reboot(ctx context.Context) {
	b := l.current
	// On microvm a QMP system_reset reboots in ~10 ms. On pc and q35
	// SeaBIOS resets the machine once more while it boots, which QEMU
	// (running with reboot=shutdown so that a triple fault freezes the
	// guest) would take for a crash: there a fresh QEMU on the same
	// image is the reboot, and it also starts from clean RAM.
	if b != nil && !b.ended && !b.m.HasEnded() && b.machine == "microvm" {
		if err := b.m.Reset(ctx); err != nil {
			l.errorf("boot #%d: reset: %v", b.n, err)
			return
		}
		b.out.separator("reset")
		l.emit(Event{Type: TypeVMReset, Boot: b.n, Build: b.build, Message: fmt.Sprintf("boot #%d reset (same build #%d)", b.n, b.build)})
		l.startHealth(ctx, b, time.Now()) // the guest starts over: so does "ready in"
		return
	}
	if b != nil {
		// The same build, even if a newer image was refused since.
		l.boot(ctx, b.img, nil)
		return
	}
	l.bootLast(ctx)
}

// togglePause pauses the running guest, or resumes a paused one.
func (l *Loop) togglePause(ctx context.Context) {
	b := l.current
	if b == nil || b.ended {
		return
	}
	st, err := b.m.Status(ctx)
	if err != nil {
		l.errorf("boot #%d: status: %v", b.n, err)
		return
	}
	if st == vm.StatusRunning {
		if err := b.m.Pause(ctx); err != nil {
			l.errorf("boot #%d: pause: %v", b.n, err)
			return
		}
		b.paused = true
		l.emit(Event{Type: TypeVMPaused, Boot: b.n, Message: fmt.Sprintf("boot #%d paused", b.n)})
	} else if err := b.m.Resume(ctx); err != nil {
		l.errorf("boot #%d: resume: %v", b.n, err)
	} else {
		b.paused = false
		l.emit(Event{Type: TypeVMResumed, Boot: b.n, Message: fmt.Sprintf("boot #%d resumed", b.n)})
	}
}

// where says where machine m runs, for vm.start's message: its QEMU's
// pid here, and the libvirt host when the VMs run on one (whose QEMU's
// pid is only known when the host is this machine).
func (l *Loop) where(m vm.Machine) string {
	switch {
	case l.opts.Host == "":
		return fmt.Sprintf(", pid %d", m.PID())
	case m.PID() == 0:
		return " at " + l.opts.Host
	default:
		return fmt.Sprintf(" at %s, pid %d", l.opts.Host, m.PID())
	}
}
