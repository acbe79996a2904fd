package devloop

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ukdev/ukdev/builder"
	"github.com/ukdev/ukdev/guestexit"
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/vm"
)

// testWait bounds every wait of the in-process tests: generous, since
// nothing in them waits on a real process.
const testWait = 10 * time.Second

// fakeBackend plays vm.Backend: it records every start and hands each
// started machine to the test (started), and fails the starts it is
// scripted to fail.
type fakeBackend struct {
	mu           sync.Mutex
	installedErr error
	accel        vm.Accel
	probes       int
	// startErrs fail the next starts, one each, before any succeeds.
	startErrs []error
	specs     []vm.Spec
	machines  []*fakeMachine
	started   chan *fakeMachine
	nextPID   int
	// portErr is what the next machines' AddPortForward return.
	portErr error
	// startOutput is what a guest started running writes to its console
	// before Start returns.
	startOutput string
	// transfers are reported to each Start's Progress before it starts
	// the machine, as a remote backend's uploads.
	transfers []vm.Transfer
	// log holds every start and every machine call, in order, as
	// "start 1001" or "1001 resume".
	log []string
}

// logged returns the calls of every machine, in order.
func (b *fakeBackend) logged() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.log)
}

func (b *fakeBackend) note(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.log = append(b.log, s)
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{accel: vm.Accel{Name: "tcg", Reason: "fake"}, started: make(chan *fakeMachine, 64), nextPID: 1000}
}

func (b *fakeBackend) Installed(string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.installedErr
}

func (b *fakeBackend) ProbeAccel(context.Context, string) vm.Accel {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probes++
	return b.accel
}

func (b *fakeBackend) Start(_ context.Context, spec vm.Spec, opts vm.StartOptions) (vm.Machine, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.specs = append(b.specs, spec)
	if len(b.startErrs) > 0 {
		err := b.startErrs[0]
		b.startErrs = b.startErrs[1:]
		return nil, err
	}
	if opts.Progress != nil {
		for _, tr := range b.transfers {
			opts.Progress(tr)
		}
	}
	b.nextPID++
	status := vm.StatusRunning
	if spec.StartPaused {
		status = vm.StatusPaused
	}
	b.log = append(b.log, fmt.Sprintf("start %d", b.nextPID))
	m := &fakeMachine{b: b, portErr: b.portErr, spec: spec, console: opts.Console, dump: opts.DumpFile, pid: b.nextPID, status: status,
		ended: make(chan struct{}), exited: make(chan struct{}), typed: make(chan struct{})}
	if m.console == nil {
		m.console = io.Discard
	}
	b.machines = append(b.machines, m)
	if !spec.StartPaused && b.startOutput != "" {
		if _, err := m.console.Write([]byte(b.startOutput)); err != nil {
			return nil, err
		}
	}
	b.started <- m
	return m, nil
}

// failNextStart makes the next Start fail with err.
func (b *fakeBackend) failNextStart(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.startErrs = append(b.startErrs, err)
}

// next waits for the next machine to start.
func (b *fakeBackend) next(t *testing.T) *fakeMachine {
	t.Helper()
	select {
	case m := <-b.started:
		return m
	case <-time.After(testWait):
		t.Fatal("no machine started")
		return nil
	}
}

// startCount is how many starts were asked for, failed ones included.
func (b *fakeBackend) startCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.specs)
}

// fakeMachine plays vm.Machine: it records what the loop asks of it, and
// the test scripts the guest (print, exit, crash).
type fakeMachine struct {
	b       *fakeBackend
	spec    vm.Spec
	console io.Writer
	dump    string
	pid     int

	mu       sync.Mutex
	calls    []string
	status   string
	input    bytes.Buffer
	typed    chan struct{} // closed and replaced at each console write
	writeErr error
	portErr  error
	gdbErr   error // what GDBServer returns
	coreErr  error // what DumpCore returns
	forwards []vm.PortForward
	stopGate chan struct{} // when set, Stop waits for it to close
	ended    chan struct{}
	exited   chan struct{}
	outcome  image.Outcome
	hasEnded bool
	isExited bool
}

func (m *fakeMachine) record(call string) {
	m.b.note(fmt.Sprintf("%d %s", m.pid, call))
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls = append(m.calls, call)
}

// callList returns the calls recorded so far.
func (m *fakeMachine) callList() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.calls)
}

func (m *fakeMachine) PID() int { return m.pid }

func (m *fakeMachine) WriteConsole(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.isExited {
		return 0, fmt.Errorf("fake: write console: %w", vm.ErrExited)
	}
	if m.writeErr != nil {
		return 0, m.writeErr
	}
	m.input.Write(p)
	close(m.typed)
	m.typed = make(chan struct{})
	return len(p), nil
}

// waitInput waits until the guest has received want as its console input.
func (m *fakeMachine) waitInput(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(testWait)
	for {
		m.mu.Lock()
		got, typed := m.input.String(), m.typed
		m.mu.Unlock()
		if got == want {
			return
		}
		select {
		case <-typed:
		case <-timeout:
			t.Fatalf("guest input = %q, want %q", got, want)
		}
	}
}

// inputString is the console input the guest received.
func (m *fakeMachine) inputString() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.input.String()
}

func (m *fakeMachine) Ended() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ended
}

func (m *fakeMachine) HasEnded() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hasEnded
}

func (m *fakeMachine) Outcome() image.Outcome {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.outcome
}

func (m *fakeMachine) Exited() <-chan struct{} { return m.exited }

func (m *fakeMachine) Stderr() string { return "fake stderr" }

// end records the end of the boot; the first one wins. The caller holds mu.
func (m *fakeMachine) end(o image.Outcome) {
	if m.hasEnded {
		return
	}
	m.hasEnded, m.outcome = true, o
	close(m.ended)
}

// exit plays the machine's process exiting with o.
func (m *fakeMachine) exit(o image.Outcome) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.end(o)
	if !m.isExited {
		m.isExited = true
		close(m.exited)
	}
}

// crash plays a guest that ended while its machine stays (paused) alive.
func (m *fakeMachine) crash(o image.Outcome) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.status = "guest-panicked"
	m.end(o)
}

// print plays the guest writing to its serial console.
func (m *fakeMachine) print(t *testing.T, s string) {
	t.Helper()
	if _, err := m.console.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

func (m *fakeMachine) Stop(context.Context) error {
	m.record("stop")
	m.mu.Lock()
	gate := m.stopGate
	m.mu.Unlock()
	if gate != nil {
		<-gate
	}
	m.exit(image.Outcome{Kind: image.StoppedByHost, Status: -1, Detail: "stopped by ukdev"})
	return nil
}

// stopped reports whether Stop was called.
func (m *fakeMachine) stopped() bool { return slices.Contains(m.callList(), "stop") }

func (m *fakeMachine) control(call, status string) error {
	m.record(call)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.isExited {
		return fmt.Errorf("fake: %s: %w", call, vm.ErrExited)
	}
	if status != "" {
		m.status = status
	}
	return nil
}

func (m *fakeMachine) Pause(context.Context) error  { return m.control("pause", vm.StatusPaused) }
func (m *fakeMachine) Resume(context.Context) error { return m.control("resume", vm.StatusRunning) }

func (m *fakeMachine) Reset(context.Context) error {
	if err := m.control("reset", vm.StatusRunning); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.hasEnded && m.outcome.Kind != image.QEMUExited && m.outcome.Kind != image.StoppedByHost {
		m.hasEnded, m.outcome, m.ended = false, image.Outcome{}, make(chan struct{})
	}
	return nil
}

func (m *fakeMachine) Status(context.Context) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.isExited {
		return "", fmt.Errorf("fake: status: %w", vm.ErrExited)
	}
	return m.status, nil
}

func (m *fakeMachine) AddPortForward(_ context.Context, pf vm.PortForward) error {
	m.record(fmt.Sprintf("forward %s:%d-%d", pf.Proto, pf.HostPort, pf.GuestPort))
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.portErr != nil {
		return m.portErr
	}
	m.forwards = append(m.forwards, pf)
	return nil
}

func (m *fakeMachine) ReadMemory(_ context.Context, addr, size uint64, virtual bool) ([]byte, error) {
	m.record(fmt.Sprintf("read %#x+%d virtual=%v", addr, size, virtual))
	if m.dump == "" {
		return nil, fmt.Errorf("fake: read memory: no dump file")
	}
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(addr + uint64(i))
	}
	// Like QEMU, leave the dump behind for the loop to remove.
	if err := os.WriteFile(m.dump, b, 0o600); err != nil {
		return nil, err
	}
	return b, nil
}

func (m *fakeMachine) MemorySize(context.Context) (uint64, error) {
	return uint64(max(m.spec.MemoryMiB, 1)) << 20, nil
}

func (m *fakeMachine) BalloonStats(context.Context) (vm.BalloonStats, error) {
	return vm.BalloonStats{Present: true, ActualBytes: 64 << 20}, nil
}

func (m *fakeMachine) Registers(context.Context) (vm.Registers, error) {
	return vm.Registers{RIP: 0x100000, CR0: 0x11}, nil
}

func (m *fakeMachine) DumpCore(_ context.Context, path string) error {
	m.record("dump-core " + path)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.isExited {
		return fmt.Errorf("fake: dump core: %w", vm.ErrExited)
	}
	if m.coreErr != nil {
		return m.coreErr
	}
	return os.WriteFile(path, []byte("\x7fELF core"), 0o400)
}

func (m *fakeMachine) GDBServer(_ context.Context, addr string) error {
	m.record("gdbserver " + addr)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.isExited {
		return fmt.Errorf("fake: gdbserver: %w", vm.ErrExited)
	}
	return m.gdbErr
}

func (m *fakeMachine) HostStats() (vm.HostStats, error) {
	return vm.HostStats{PID: m.pid, RSSBytes: 10 << 20}, nil
}

func (m *fakeMachine) Sample(context.Context) (vm.Sample, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.isExited {
		return vm.Sample{}, fmt.Errorf("fake: sample: %w", vm.ErrExited)
	}
	return vm.Sample{At: time.Now(), VCPUs: []vm.VCPU{{Index: 0, ThreadID: m.pid}}, DirtyRate: 1, DirtyRateOK: true}, nil
}

// fakeBuilder plays the build runner: each Run hands a fakeBuild to the
// test, which prints lines and ends it; cancelling the build's context
// ends it as canceled, as builder.Builder does.
type fakeBuilder struct {
	mu        sync.Mutex
	prestarts int
	closed    bool
	runs      chan *fakeBuild
}

func newFakeBuilder() *fakeBuilder { return &fakeBuilder{runs: make(chan *fakeBuild, 16)} }

// fakeBuild is one Run of a fakeBuilder.
type fakeBuild struct {
	ctx    context.Context
	out    func(builder.Line)
	result chan builder.Result
}

func (b *fakeBuilder) Run(ctx context.Context, out func(builder.Line)) builder.Result {
	fb := &fakeBuild{ctx: ctx, out: out, result: make(chan builder.Result, 1)}
	b.runs <- fb
	select {
	case r := <-fb.result:
		return r
	case <-ctx.Done():
		return builder.Result{ExitCode: -1, Canceled: true}
	}
}

func (b *fakeBuilder) Prestart() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.prestarts++
}

func (b *fakeBuilder) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	return nil
}

// next waits for the next build to run.
func (b *fakeBuilder) next(t *testing.T) *fakeBuild {
	t.Helper()
	select {
	case fb := <-b.runs:
		return fb
	case <-time.After(testWait):
		t.Fatal("no build ran")
		return nil
	}
}

// line prints a line of build output.
func (fb *fakeBuild) line(text string) { fb.out(builder.Line{Stream: builder.Stdout, Text: text}) }

// finish ends the build with exit status code.
func (fb *fakeBuild) finish(code int) {
	fb.result <- builder.Result{ExitCode: code, Duration: time.Millisecond}
}

// canceled waits until the loop cancels the build.
func (fb *fakeBuild) canceled(t *testing.T) {
	t.Helper()
	select {
	case <-fb.ctx.Done():
	case <-time.After(testWait):
		t.Fatal("the build was not canceled")
	}
}

// fakeKernel plays a flavor's kernel: images for every build (on
// machine), or the scripted error; exits decoded as guestexit does.
type fakeKernel struct {
	mu         sync.Mutex
	machine    string
	disk       bool // images attach a disk, one per build
	prepareErr error
	prepared   []int
}

func (k *fakeKernel) Prepare(_ context.Context, _ *image.Store, build int, a image.Artifacts, _ ...int) (image.Image, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.prepared = append(k.prepared, build)
	if k.prepareErr != nil {
		return image.Image{}, k.prepareErr
	}
	img := image.Image{Build: build, Kernel: a.Kernel, Protocols: image.PVH, Machine: k.machine, DebugExit: true}
	if k.disk {
		img.Disk = filepath.Join(filepath.Dir(a.Kernel), fmt.Sprintf("disk-%d.img", build))
	}
	return img, nil
}

func (k *fakeKernel) Decode(o image.Outcome) guestexit.Exit { return guestexit.Decode(o) }

func (k *fakeKernel) failPrepare(err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.prepareErr = err
}
