package devloop

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ukdev/ukdev/flavor"
	"github.com/ukdev/ukdev/guestexit"
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/project"
	"github.com/ukdev/ukdev/project/projecttest"
	"github.com/ukdev/ukdev/vm"
)

// harness runs a Loop in-process against a fake backend, builder and
// kernel, and reads its events.
type harness struct {
	t      *testing.T
	root   string
	l      *Loop
	be     *fakeBackend
	bld    *fakeBuilder
	k      *fakeKernel
	cancel context.CancelFunc
	done   chan struct{}
	exit   guestexit.Exit
	err    error
	seen   []Event
	closed bool
}

// harnessOptions change a harness's loop before it starts.
type harnessOptions struct {
	config  string // ukdev.toml, after the build and kernel lines
	once    bool
	machine string // the fake kernel's machine; default microvm
	disks   bool   // the fake kernel writes bootable disks
	// imageDisk makes the fake kernel's images attach a disk, one per
	// build.
	imageDisk bool
	noWatch   bool
	// debug makes the fake kernel a flavor.Debugger with this target.
	debug *flavor.DebugTarget
	gdb   bool // Options.GDB
	// host and cleanStale are Options.Host and Options.CleanStale (a
	// libvirt backend).
	host       string
	cleanStale func(context.Context) ([]string, error)
}

func newHarness(t *testing.T, o harnessOptions) *harness {
	t.Helper()
	root := t.TempDir()
	toml := "build.command = \"make\"\nkernel.image = \"k.elf\"\nwatch.debounce = \"20ms\"\n" + o.config
	projecttest.WriteFile(t, filepath.Join(root, project.FileName), toml)
	cfg, err := project.Load(filepath.Join(root, project.FileName))
	if err != nil {
		t.Fatal(err)
	}
	runDir := filepath.Join(t.TempDir(), "run")
	if err := os.MkdirAll(runDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if o.machine == "" {
		o.machine = "microvm"
	}
	h := &harness{t: t, root: root, be: newFakeBackend(), bld: newFakeBuilder(), k: &fakeKernel{machine: o.machine, disk: o.imageDisk},
		done: make(chan struct{})}
	var k flavor.Kernel = h.k
	if o.disks {
		k = &diskKernel{h.k}
	}
	if o.debug != nil {
		k = &debugKernel{fakeKernel: h.k, target: *o.debug}
	}
	h.l, err = New(Options{Config: cfg, Backend: h.be, Builder: h.bld, Kernel: k, Once: o.once, NoWatch: o.noWatch, GDB: o.gdb,
		Host: o.host, CleanStale: o.cleanStale,
		StateDir: filepath.Join(t.TempDir(), "state"), RuntimeDir: runDir})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// run starts the loop; the test's end stops it.
func (h *harness) run() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() {
		defer close(h.done)
		h.exit, h.err = h.l.Run(ctx)
	}()
	h.t.Cleanup(h.stop)
}

// stop ends the loop and reads its last events.
func (h *harness) stop() {
	h.t.Helper()
	h.cancel()
	h.drain()
}

// drain reads events until the stream closes, and waits for Run.
func (h *harness) drain() {
	h.t.Helper()
	timeout := time.After(testWait)
	for !h.closed {
		select {
		case e, ok := <-h.l.Events():
			if !ok {
				h.closed = true
				break
			}
			h.seen = append(h.seen, e)
		case <-timeout:
			h.t.Fatal("the event stream never closed")
		}
	}
	select {
	case <-h.done:
	case <-time.After(testWait):
		h.t.Fatal("Run never returned")
	}
}

// wait reads events until one of type typ that match accepts (nil: any)
// and returns it.
func (h *harness) wait(typ EventType, match func(Event) bool) Event {
	h.t.Helper()
	timeout := time.After(testWait)
	for {
		select {
		case e, ok := <-h.l.Events():
			if !ok {
				h.closed = true
				h.t.Fatalf("events ended before a %s; saw %s", typ, h.types())
			}
			h.seen = append(h.seen, e)
			if e.Type == typ && (match == nil || match(e)) {
				return e
			}
		case <-timeout:
			h.t.Fatalf("no %s event; saw %s", typ, h.types())
		}
	}
}

// types lists the events seen so far, for failure messages.
func (h *harness) types() string {
	var s []string
	for _, e := range h.seen {
		s = append(s, fmt.Sprintf("%s %q", e.Type, e.Message))
	}
	return strings.Join(s, "\n")
}

// sawType reports whether an event of type typ was read.
func (h *harness) sawType(typ EventType) bool {
	return slices.ContainsFunc(h.seen, func(e Event) bool { return e.Type == typ })
}

// boot runs the next build to success and returns the machine it boots,
// once its vm.start event was read.
func (h *harness) boot() *fakeMachine {
	h.t.Helper()
	h.bld.next(h.t).finish(0)
	m := h.be.next(h.t)
	h.wait(TypeVMStart, func(e Event) bool { return e.PID == m.pid })
	h.live(m)
	return m
}

// live waits until m is the live VM and its guest runs: started running,
// or started paused and resumed (vm.start comes just before). A guest
// started paused cannot end before that, so a test ends it only
// afterwards.
func (h *harness) live(m *fakeMachine) {
	h.t.Helper()
	waitFor(h.t, "the live VM", func() bool { info, ok := h.l.Current(); return ok && info.PID == m.pid })
	waitFor(h.t, "the guest running", func() bool {
		return !m.spec.StartPaused || slices.Contains(m.callList(), "resume")
	})
}

func isBoot(n int) func(Event) bool { return func(e Event) bool { return e.Boot == n } }

// TestLoopBuildBootConsoleExit follows a save through the loop: build,
// image, a new machine started paused, the old one stopped, the ports
// handed over, the new one resumed; then the guest's console and its exit.
func TestLoopBuildBootConsoleExit(t *testing.T) {
	h := newHarness(t, harnessOptions{config: "vm.ports = [\"8080:80\"]\n"})
	h.run()
	h.wait(TypeAccel, nil)

	b1 := h.bld.next(t)
	h.wait(TypeBuildStart, isBuild(1))
	b1.line("cc -o k.elf main.c")
	if e := h.wait(TypeBuildOutput, isBuild(1)); e.Line != "cc -o k.elf main.c" {
		t.Errorf("build output %q", e.Line)
	}
	b1.finish(0)
	if e := h.wait(TypeBuildDone, isBuild(1)); e.OK == nil || !*e.OK {
		t.Errorf("build.done %+v, want ok", e)
	}
	h.wait(TypeImageReady, isBuild(1))
	m1 := h.be.next(t)
	start := h.wait(TypeVMStart, isBoot(1))
	if start.PID != m1.pid || start.Machine != "microvm" || start.Accel != "tcg" {
		t.Errorf("vm.start %+v", start)
	}
	h.live(m1)
	spec := m1.spec
	if !spec.StartPaused || spec.Image.Build != 1 || spec.Machine != "microvm" || !spec.Network ||
		spec.Image.Kernel != filepath.Join(h.root, "k.elf") {
		t.Errorf("spec %+v", spec)
	}
	m1.print(t, "hello from the guest\r\n")
	if e := h.wait(TypeVMConsole, isBoot(1)); e.Line != "hello from the guest" {
		t.Errorf("console line %q", e.Line)
	}
	if info, ok := h.l.Current(); !ok || info.Boot != 1 || info.PID != m1.pid {
		t.Errorf("Current = %+v, %v", info, ok)
	}

	// A save: build 2 replaces boot 1 with boot 2.
	projecttest.WriteFile(t, filepath.Join(h.root, "main.c"), "int main;")
	h.wait(TypeWatchChange, nil)
	h.bld.next(t).finish(0)
	m2 := h.be.next(t)
	h.wait(TypeVMStart, isBoot(2))
	h.wait(TypeVMExit, isBoot(1))
	m2.print(t, "boot 2\n")
	if e := h.wait(TypeReload, isBoot(2)); e.Timing == nil || e.Timing.TotalMS <= 0 {
		t.Errorf("reload.done %+v", e)
	}
	want := []string{
		fmt.Sprintf("start %d", m1.pid), fmt.Sprintf("%d forward tcp:8080-80", m1.pid), fmt.Sprintf("%d resume", m1.pid),
		fmt.Sprintf("start %d", m2.pid), fmt.Sprintf("%d stop", m1.pid),
		fmt.Sprintf("%d forward tcp:8080-80", m2.pid), fmt.Sprintf("%d resume", m2.pid),
	}
	if got := h.be.logged(); !slices.Equal(got, want) {
		t.Errorf("machine calls\n %q\nwant\n %q", got, want)
	}

	// The guest exits through isa-debug-exit with code 3.
	m2.exit(image.Outcome{Kind: image.QEMUExited, Status: 7})
	e := h.wait(TypeVMExit, isBoot(2))
	if e.Reason != string(guestexit.ReasonExit) || e.ExitCode == nil || *e.ExitCode != 3 {
		t.Errorf("vm.exit %+v, want exit 3", e)
	}
	if _, ok := h.l.Current(); ok {
		t.Error("Current still reports a VM after it exited")
	}
	h.stop()
	if !h.sawType(TypeStop) || h.seen[len(h.seen)-1].Type != TypeStop {
		t.Errorf("the last event is not %s: %s", TypeStop, h.types())
	}
	if h.bld.prestarts != 1 || !h.bld.closed {
		t.Errorf("builder prestarts %d, closed %v; want 1, true", h.bld.prestarts, h.bld.closed)
	}
}

func isBuild(n int) func(Event) bool { return func(e Event) bool { return e.Build == n } }

// TestLoopChangeDuringBuildCancelsIt: a save while a build runs cancels it
// and builds again; only the newer build boots.
func TestLoopChangeDuringBuildCancelsIt(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.run()
	b1 := h.bld.next(t)
	projecttest.WriteFile(t, filepath.Join(h.root, "main.c"), "int main;")
	b1.canceled(t)
	h.wait(TypeBuildCanceled, isBuild(1))
	h.bld.next(t).finish(0)
	h.wait(TypeBuildDone, isBuild(2))
	m := h.be.next(t)
	if m.spec.Image.Build != 2 {
		t.Errorf("booted build %d, want 2", m.spec.Image.Build)
	}
	if n := h.be.startCount(); n != 1 {
		t.Errorf("%d machines started, want 1", n)
	}

	// Rebuild during a build does the same.
	h.l.Rebuild()
	b3 := h.bld.next(t)
	h.l.Rebuild()
	b3.canceled(t)
	h.wait(TypeBuildCanceled, isBuild(3))
	h.bld.next(t).finish(0)
	h.wait(TypeVMStart, func(e Event) bool { return e.Build == 4 })
}

// TestLoopFailedBuildKeepsTheMachine: a failed build says what still runs
// and leaves it alone.
func TestLoopFailedBuildKeepsTheMachine(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.run()
	m1 := h.boot()
	h.l.Rebuild()
	h.bld.next(t).finish(2)
	e := h.wait(TypeBuildDone, isBuild(2))
	if e.OK == nil || *e.OK || e.ExitCode == nil || *e.ExitCode != 2 {
		t.Errorf("build.done %+v, want failed with exit 2", e)
	}
	if !strings.Contains(e.Message, "still running boot #1 from build #1") {
		t.Errorf("message %q does not say what still runs", e.Message)
	}
	// An image that cannot be prepared keeps it too.
	h.k.failPrepare(fmt.Errorf("fake: %w", image.ErrMissingArtifact))
	h.l.Rebuild()
	h.bld.next(t).finish(0)
	e = h.wait(TypeError, nil)
	if !strings.Contains(e.Message, "build #3 succeeded but its output is missing") || !strings.Contains(e.Message, "still running boot #1") {
		t.Errorf("error %q", e.Message)
	}
	if m1.stopped() || h.be.startCount() != 1 {
		t.Errorf("machine stopped %v, starts %d: the failed build touched the running VM", m1.stopped(), h.be.startCount())
	}
	if info, ok := h.l.Current(); !ok || info.Boot != 1 {
		t.Errorf("Current = %+v, %v; want boot 1", info, ok)
	}
}

// TestLoopMachineFailsToStart: a machine that cannot start leaves the old
// one running.
func TestLoopMachineFailsToStart(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.run()
	m1 := h.boot()
	h.be.failNextStart(&vm.StartError{Argv: []string{"qemu"}, Stderr: "qemu: could not load kernel\n", Err: errors.New("exit status 1")})
	h.l.Rebuild()
	h.bld.next(t).finish(0)
	e := h.wait(TypeError, nil)
	if want := "QEMU refused build #2: qemu: could not load kernel — still running boot #1 from build #1"; e.Message != want {
		t.Errorf("error %q, want %q", e.Message, want)
	}
	h.be.failNextStart(errors.New("fake: no such binary"))
	h.l.Rebuild()
	h.bld.next(t).finish(0)
	if e := h.wait(TypeError, nil); !strings.HasPrefix(e.Message, "cannot start QEMU for build #3: fake: no such binary") {
		t.Errorf("error %q", e.Message)
	}
	if m1.stopped() {
		t.Error("the running machine was stopped")
	}
	if info, ok := h.l.Current(); !ok || info.Boot != 1 {
		t.Errorf("Current = %+v, %v; want boot 1", info, ok)
	}
	// The next good build boots as boot 2: the failed starts used no number.
	h.l.Rebuild()
	h.bld.next(t).finish(0)
	h.be.next(t)
	h.wait(TypeVMStart, func(e Event) bool { return e.Boot == 2 && e.Build == 4 })
}

// TestLoopRebootStopStartPause drives the VM commands.
func TestLoopRebootStopStartPause(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.run()
	m1 := h.boot()

	h.l.Reboot() // microvm: a reset in place
	h.wait(TypeVMReset, isBoot(1))

	h.l.TogglePause()
	h.wait(TypeVMPaused, isBoot(1))
	h.l.TogglePause()
	h.wait(TypeVMResumed, isBoot(1))
	// No ports to hand over: the machine ran from its start.
	if got, want := m1.callList(), []string{"reset", "pause", "resume"}; !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}

	h.l.StopVM()
	if e := h.wait(TypeVMExit, isBoot(1)); e.Reason != string(guestexit.ReasonKilled) {
		t.Errorf("vm.exit %+v, want killed", e)
	}
	h.l.TogglePause() // no VM: nothing happens
	h.l.StartVM()
	m2 := h.be.next(t)
	h.wait(TypeVMStart, func(e Event) bool { return e.Boot == 2 && e.Build == 1 })
	h.l.StartVM() // one runs already: nothing happens

	// A crashed guest stays for inspection; reboot starts a fresh machine.
	m2.crash(image.Outcome{Kind: image.GuestPanicked, Status: -1, Detail: "guest panicked"})
	if e := h.wait(TypeVMExit, isBoot(2)); e.Reason != string(guestexit.ReasonPanic) {
		t.Errorf("vm.exit %+v, want panic", e)
	}
	if info, ok := h.l.Current(); !ok || info.Boot != 2 {
		t.Errorf("Current = %+v, %v; want the crashed boot 2", info, ok)
	}
	h.l.Reboot()
	h.be.next(t)
	h.wait(TypeVMStart, func(e Event) bool { return e.Boot == 3 && e.Build == 1 })
	// Without ports to free, the old machine is stopped beside the new one.
	waitFor(t, "the crashed machine stopped", m2.stopped)
	if n := h.be.startCount(); n != 3 {
		t.Errorf("%d machines started, want 3", n)
	}
}

// TestLoopRebootOnPC: on pc a reboot is a fresh machine on the same image.
func TestLoopRebootOnPC(t *testing.T) {
	h := newHarness(t, harnessOptions{machine: "pc"})
	h.run()
	m1 := h.boot()
	h.l.Reboot()
	m2 := h.be.next(t)
	h.wait(TypeVMStart, func(e Event) bool { return e.Boot == 2 && e.Build == 1 })
	waitFor(t, "the old machine stopped", m1.stopped) // beside the new one's start
	if slices.Contains(m1.callList(), "reset") || m2.spec.Machine != "pc" {
		t.Errorf("old machine calls %q, new machine %q", m1.callList(), m2.spec.Machine)
	}
}

// TestLoopInputQueuedBeforeFirstBoot: keys typed during the first build
// reach the guest once it has printed; later keys go straight to it.
func TestLoopInputQueuedBeforeFirstBoot(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.run()
	b1 := h.bld.next(t)
	if err := h.l.WriteConsole([]byte("run\r")); err != nil {
		t.Fatal(err)
	}
	room := h.l.InputRoom()
	select {
	case <-room:
		t.Fatal("InputRoom is ready while input waits for a VM")
	default:
	}
	if err := h.l.WriteConsole(make([]byte, MaxQueuedInput)); !errors.Is(err, ErrInputQueueFull) {
		t.Errorf("overfull queue: %v, want ErrInputQueueFull", err)
	}
	b1.finish(0)
	m := h.be.next(t)
	h.wait(TypeVMStart, isBoot(1))
	h.live(m)
	if got := m.inputString(); got != "" {
		t.Errorf("input %q typed before the guest printed anything", got)
	}
	m.print(t, "login: ")
	m.waitInput(t, "run\r")
	select {
	case <-room:
	case <-time.After(testWait):
		t.Fatal("InputRoom not ready once the input was typed")
	}
	// Once the queue is empty, input goes straight to the guest.
	waitFor(t, "the queue to empty", func() bool {
		h.l.inputMu.Lock()
		defer h.l.inputMu.Unlock()
		return h.l.running == vm.Machine(m)
	})
	if err := h.l.WriteConsole([]byte("x")); err != nil {
		t.Fatal(err)
	}
	m.waitInput(t, "run\rx")
	select {
	case <-h.l.InputRoom():
	default:
		t.Error("InputRoom not ready with nothing queued")
	}
}

// TestLoopInputToAGuestThatPrintsNothing: queued input is typed in a
// second after the boot even when the guest stays silent, and a guest
// that does not read it gets an error event.
func TestLoopInputToAGuestThatPrintsNothing(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.run()
	b1 := h.bld.next(t)
	if err := h.l.WriteConsole([]byte("a")); err != nil {
		t.Fatal(err)
	}
	b1.finish(0)
	m := h.be.next(t)
	m.waitInput(t, "a")

	h.l.Rebuild()
	h.bld.next(t).finish(0)
	m2 := h.be.next(t)
	h.wait(TypeVMStart, isBoot(2))
	h.live(m2)
	m2.mu.Lock()
	m2.writeErr = fmt.Errorf("fake: write: %w", os.ErrDeadlineExceeded)
	m2.mu.Unlock()
	// Queue while boot 2 has not printed yet, then let it print.
	if err := h.l.WriteConsole([]byte("lost")); err != nil {
		t.Fatal(err)
	}
	m2.print(t, "ready\n")
	if e := h.wait(TypeError, nil); !strings.Contains(e.Message, "console input: 4 queued bytes dropped") {
		t.Errorf("error %q", e.Message)
	}
}

// TestLoopPortInUse: a port the new machine cannot forward stops it, with
// an error; nothing runs then.
func TestLoopPortInUse(t *testing.T) {
	h := newHarness(t, harnessOptions{config: "vm.ports = [\"8080:80\"]\n"})
	h.be.portErr = &vm.PortError{Forward: vm.PortForward{Proto: "tcp", HostPort: 8080, GuestPort: 80}, Detail: "Could not set up host forwarding rule"}
	h.run()
	h.bld.next(t).finish(0)
	m := h.be.next(t)
	if e := h.wait(TypeError, nil); !strings.Contains(e.Message, "boot #1: cannot forward 8080:80") {
		t.Errorf("error %q", e.Message)
	}
	// The error comes as the machine is being stopped.
	waitFor(t, "the machine without its ports stopped", m.stopped)
	if h.sawType(TypeVMStart) {
		t.Error("a vm.start for a machine that never ran")
	}
}

// TestLoopWithoutQEMU: without the backend's binary every build says it
// cannot boot.
func TestLoopWithoutQEMU(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.be.installedErr = errors.New("fake: not found")
	h.run()
	if e := h.wait(TypeError, nil); !strings.HasPrefix(e.Message, "QEMU not found") {
		t.Errorf("error %q", e.Message)
	}
	h.bld.next(t).finish(0)
	if e := h.wait(TypeError, nil); !strings.HasPrefix(e.Message, "cannot boot build #1: QEMU not found") {
		t.Errorf("error %q", e.Message)
	}
	h.l.StartVM()
	if e := h.wait(TypeError, nil); e.Message != "no image to boot yet" {
		t.Errorf("error %q", e.Message)
	}
	if h.be.startCount() != 0 || h.be.probes != 0 {
		t.Errorf("starts %d, probes %d: want none", h.be.startCount(), h.be.probes)
	}
}

// TestLoopRemoteHost: a VM host that does not answer is named in the
// error, nothing is cleaned on it, and it is asked again before the boot
// of the first build (when it answers then, the boot goes ahead); one
// that answers has what a dead
// ukdev left removed before the first boot, reported as vm.stale (a
// failure to as an error), and the image's uploads come as vm.upload
// events before the boot's vm.start.
func TestLoopRemoteHost(t *testing.T) {
	const host = "qemu+ssh://builder/system"
	tests := []struct {
		name        string
		installed   error
		backLater   bool // the host answers by the time the build is done
		stale       []string
		staleErr    error
		wantErr     string // the first error event's message prefix
		wantStale   bool
		wantCleaned bool // CleanStale called
	}{
		{name: "unreachable", installed: errors.New("libvirt: dial: refused"),
			wantErr: "the libvirt host " + host + " cannot run the VM (check it with `virsh -c " + host + " list`): libvirt: dial: refused"},
		{name: "unreachable for a while", installed: errors.New("libvirt: dial: refused"), backLater: true, wantCleaned: true,
			wantErr: "the libvirt host " + host + " cannot run the VM (check it with `virsh -c " + host + " list`): libvirt: dial: refused"},
		{name: "stale domains removed", stale: []string{"ukdev-a-1", "ukdev-b-2"}, wantStale: true, wantCleaned: true},
		{name: "nothing stale", wantCleaned: true},
		{name: "cleaning fails", staleErr: errors.New("permission denied"), wantCleaned: true,
			wantErr: "cannot remove the VMs a ukdev that died left on " + host + ": permission denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cleaned atomic.Bool
			h := newHarness(t, harnessOptions{host: host, cleanStale: func(context.Context) ([]string, error) {
				cleaned.Store(true)
				return tt.stale, tt.staleErr
			}})
			h.be.installedErr = tt.installed
			h.be.transfers = []vm.Transfer{{File: "/img/k.elf", Total: 10}, {File: "/img/k.elf", Sent: 10, Total: 10, Done: true}}
			h.run()
			if tt.wantErr != "" {
				if e := h.wait(TypeError, nil); e.Message != tt.wantErr {
					t.Errorf("error %q\nwant  %q", e.Message, tt.wantErr)
				}
			}
			if tt.backLater {
				h.be.mu.Lock()
				h.be.installedErr = nil
				h.be.mu.Unlock()
			}
			h.bld.next(t).finish(0)
			if tt.installed != nil && !tt.backLater {
				// Asked again at the boot, and still down.
				h.wait(TypeError, func(e Event) bool { return e.Message == tt.wantErr })
				if h.be.startCount() != 0 {
					t.Errorf("%d machines started on a host that does not answer", h.be.startCount())
				}
			} else {
				m := h.be.next(t)
				if e := h.wait(TypeVMStart, nil); !strings.HasSuffix(e.Message, fmt.Sprintf("TCG on microvm at %s, pid %d", host, m.pid)) {
					t.Errorf("vm.start %q does not say where the VM runs", e.Message)
				}
				var uploads []Event
				for _, e := range h.seen {
					if e.Type == TypeVMUpload {
						uploads = append(uploads, e)
					}
				}
				if len(uploads) != 2 || uploads[0].Boot != 1 || uploads[0].Build != 1 || !uploads[1].Finished {
					t.Errorf("vm.upload events before vm.start: %v\n%s", uploads, h.types())
				}
			}
			if cleaned.Load() != tt.wantCleaned {
				t.Errorf("CleanStale called: %v, want %v", cleaned.Load(), tt.wantCleaned)
			}
			if h.sawType(TypeVMStale) != tt.wantStale {
				t.Errorf("vm.stale seen: %v, want %v\n%s", h.sawType(TypeVMStale), tt.wantStale, h.types())
			}
			for _, e := range h.seen {
				if e.Type == TypeVMStale && (!slices.Equal(e.Names, tt.stale) || e.Detail != host) {
					t.Errorf("vm.stale names %v on %q, want %v on %q", e.Names, e.Detail, tt.stale, host)
				}
			}
		})
	}
}

// TestLoopToggleWatch: a paused watch ignores saves.
func TestLoopToggleWatch(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.run()
	h.boot()
	h.l.ToggleWatch()
	h.wait(TypeWatchPaused, nil)
	h.l.ToggleWatch()
	h.wait(TypeWatchResumed, nil)
	// ukdev.toml is read once: a change says so.
	projecttest.WriteFile(t, filepath.Join(h.root, project.FileName), "build.command = \"make\"\nkernel.image = \"k2.elf\"\n")
	if e := h.wait(TypeConfigWarning, nil); !strings.Contains(e.Message, "ukdev.toml changed") {
		t.Errorf("config warning %q", e.Message)
	}
}

// TestLoopOnce: ukdev run builds, boots once and returns the boot's exit.
func TestLoopOnce(t *testing.T) {
	h := newHarness(t, harnessOptions{once: true})
	h.run()
	h.bld.next(t).finish(0)
	m := h.be.next(t)
	h.wait(TypeVMStart, isBoot(1))
	h.live(m)
	m.print(t, "done\n")
	m.exit(image.Outcome{Kind: image.QEMUExited, Status: 1})
	h.drain()
	if h.err != nil || h.exit.Reason != guestexit.ReasonExit || h.exit.Code != 0 {
		t.Errorf("Run = %v, %v; want exit 0", h.exit, h.err)
	}
}

// TestLoopOnceUnbootable: ukdev run with an image that cannot be
// prepared returns a qemu-error exit.
func TestLoopOnceUnbootable(t *testing.T) {
	h := newHarness(t, harnessOptions{once: true})
	h.k.failPrepare(errors.New("fake: not a kernel"))
	h.run()
	h.bld.next(t).finish(0)
	h.drain()
	if h.err != nil || h.exit.Reason != guestexit.ReasonQEMUError || !strings.Contains(h.exit.Detail, "not a kernel") {
		t.Errorf("Run = %v, %v; want a qemu-error exit", h.exit, h.err)
	}
}

// TestLoopOnceFailedBuild: ukdev run whose build fails boots nothing.
func TestLoopOnceFailedBuild(t *testing.T) {
	h := newHarness(t, harnessOptions{once: true})
	h.run()
	h.bld.next(t).finish(1)
	h.drain()
	if !errors.Is(h.err, ErrNoImage) {
		t.Errorf("Run = %v, %v; want ErrNoImage", h.exit, h.err)
	}
}

// TestLoopInspection reads the live VM through the loop.
func TestLoopInspection(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	ctx := t.Context()
	if _, err := h.l.ReadMemory(ctx, 0, 1, false); !errors.Is(err, ErrNoVM) {
		t.Errorf("ReadMemory without a VM: %v", err)
	}
	if _, err := h.l.Registers(ctx); !errors.Is(err, ErrNoVM) {
		t.Errorf("Registers without a VM: %v", err)
	}
	if _, err := h.l.HostStats(); !errors.Is(err, ErrNoVM) {
		t.Errorf("HostStats without a VM: %v", err)
	}
	if _, err := h.l.MemorySize(ctx); !errors.Is(err, ErrNoVM) {
		t.Errorf("MemorySize without a VM: %v", err)
	}
	if _, err := h.l.BalloonStats(ctx); !errors.Is(err, ErrNoVM) {
		t.Errorf("BalloonStats without a VM: %v", err)
	}
	h.run()
	m := h.boot()
	b, err := h.l.ReadMemory(ctx, 0x10, 2, true)
	if err != nil || !slices.Equal(b, []byte{0x10, 0x11}) {
		t.Errorf("ReadMemory = %x, %v", b, err)
	}
	if r, err := h.l.Registers(ctx); err != nil || r.RIP != 0x100000 {
		t.Errorf("Registers = %+v, %v", r, err)
	}
	if s, err := h.l.HostStats(); err != nil || s.PID != m.pid {
		t.Errorf("HostStats = %+v, %v", s, err)
	}
	if n, err := h.l.MemorySize(ctx); err != nil || n != 128<<20 {
		t.Errorf("MemorySize = %d, %v", n, err)
	}
	if s, err := h.l.BalloonStats(ctx); err != nil || !s.Present {
		t.Errorf("BalloonStats = %+v, %v", s, err)
	}
	// The metrics sampler reads the live machine while held.
	release := h.l.Metrics().Acquire()
	snap, err := h.l.Metrics().Next(ctx)
	release()
	if rss, _ := snap.Find("rss"); err != nil || !snap.Running || snap.PID != m.pid || len(rss.Points) == 0 {
		t.Errorf("Metrics snapshot = %+v, %v; want the fake machine's RSS", snap, err)
	}
	if dirty, _ := snap.Find("dirty"); len(dirty.Points) == 0 || dirty.Points[0].V != 1 {
		t.Errorf("Metrics dirty = %+v; want the fake machine's sample", dirty)
	}
	if CPUPercent(HostStats{PID: 1, UserTicks: 0}, HostStats{PID: 1, UserTicks: 50}, time.Second) != 50 {
		t.Error("CPUPercent")
	}
	// The dump ReadMemory left is removed once the machine has exited.
	dump := m.dump
	if _, err := os.Stat(dump); err != nil {
		t.Fatal(err)
	}
	m.exit(image.Outcome{Kind: image.QEMUExited, Status: 1})
	h.wait(TypeVMExit, isBoot(1))
	waitFor(t, "the memory dump to be removed", func() bool {
		_, err := os.Stat(dump)
		return errors.Is(err, os.ErrNotExist)
	})
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
