package qemu

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/vm"
)

// Test kernels: 32-bit PVH code placed at pvhCodeAddr by pvhELF, assembled
// from testdata/kernels.S. Each sets up a stack and prints a line on COM1
// by polling the 16550's line status register.

// echoKernel prints "READY\n", then echoes every byte it receives on
// COM1, and on 'x' writes 5 to isa-debug-exit (QEMU exits with 11).
func echoKernel() []byte {
	return []byte{
		0xbc, 0x00, 0x00, 0x08, 0x00, 0xbe, 0xdc, 0x00, 0x10, 0x00, 0xe8, 0x36, 0x00, 0x00, 0x00, 0x66,
		0xba, 0xfd, 0x03, 0xec, 0xa8, 0x01, 0x74, 0xfb, 0x66, 0xba, 0xf8, 0x03, 0xec, 0x3c, 0x78, 0x74,
		0x09, 0x88, 0xc3, 0xe8, 0x0c, 0x00, 0x00, 0x00, 0xeb, 0xe5, 0x66, 0xba, 0x01, 0x05, 0xb0, 0x05,
		0xee, 0xf4, 0xeb, 0xfd, 0x66, 0xba, 0xfd, 0x03, 0xec, 0xa8, 0x20, 0x74, 0xfb, 0x66, 0xba, 0xf8,
		0x03, 0x88, 0xd8, 0xee, 0xc3, 0xac, 0x84, 0xc0, 0x74, 0x09, 0x88, 0xc3, 0xe8, 0xe3, 0xff, 0xff,
		0xff, 0xeb, 0xf2, 0xc3, 'R', 'E', 'A', 'D', 'Y', '\n', 0x00,
	}
}

// tripleFaultKernel prints "BOOT\n", loads an empty IDT and executes
// int3: #GP, #DF, triple fault.
func tripleFaultKernel() []byte {
	return []byte{
		0xbc, 0x00, 0x00, 0x08, 0x00, 0xbe, 0xc8, 0x00, 0x10, 0x00, 0xe8, 0x1c, 0x00, 0x00, 0x00, 0x0f,
		0x01, 0x1d, 0xc2, 0x00, 0x10, 0x00, 0xcc, 0xf4, 0xeb, 0xfd, 0x66, 0xba, 0xfd, 0x03, 0xec, 0xa8,
		0x20, 0x74, 0xfb, 0x66, 0xba, 0xf8, 0x03, 0x88, 0xd8, 0xee, 0xc3, 0xac, 0x84, 0xc0, 0x74, 0x09,
		0x88, 0xc3, 0xe8, 0xe3, 0xff, 0xff, 0xff, 0xeb, 0xf2, 0xc3, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		'B', 'O', 'O', 'T', '\n', 0x00,
	}
}

// panicKernel prints "PANIC\n" and writes 1 (panicked) to the pvpanic
// port 0x505.
func panicKernel() []byte {
	return []byte{
		0xbc, 0x00, 0x00, 0x08, 0x00, 0xbe, 0xc1, 0x00, 0x10, 0x00, 0xe8, 0x1b, 0x00, 0x00, 0x00, 0x66,
		0xba, 0x05, 0x05, 0xb0, 0x01, 0xee, 0xf4, 0xeb, 0xfd, 0x66, 0xba, 0xfd, 0x03, 0xec, 0xa8, 0x20,
		0x74, 0xfb, 0x66, 0xba, 0xf8, 0x03, 0x88, 0xd8, 0xee, 0xc3, 0xac, 0x84, 0xc0, 0x74, 0x09, 0x88,
		0xc3, 0xe8, 0xe3, 0xff, 0xff, 0xff, 0xeb, 0xf2, 0xc3, 'P', 'A', 'N', 'I', 'C', '\n', 0x00,
	}
}

// The generic test deadline: generous, since TCG on a loaded 2-core
// machine can be slow; tests normally finish in milliseconds.
const deadline = 20 * time.Second

// consoleRecorder is a Console writer tests can wait on.
type consoleRecorder struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newConsoleRecorder() *consoleRecorder {
	return &consoleRecorder{changed: make(chan struct{})}
}

func (c *consoleRecorder) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Write(p)
	close(c.changed)
	c.changed = make(chan struct{})
	return len(p), nil
}

func (c *consoleRecorder) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// waitCount waits until the console holds want at least n times.
func (c *consoleRecorder) waitCount(t *testing.T, want string, n int) {
	t.Helper()
	timeout := time.After(deadline)
	for {
		c.mu.Lock()
		got := bytes.Count(c.buf.Bytes(), []byte(want))
		changed := c.changed
		c.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("console never showed %q %d times; got %q", want, n, c.String())
		}
	}
}

// bootSpec returns a spec for a TCG microvm booting code.
func bootSpec(t *testing.T, code []byte) vm.Spec {
	t.Helper()
	dir := shortTempDir(t)
	k := filepath.Join(dir, "kernel.elf")
	if err := os.WriteFile(k, pvhELF(code), 0o444); err != nil {
		t.Fatal(err)
	}
	return vm.Spec{
		QEMU:      requireQEMU(t),
		Image:     image.Image{Kernel: k, DebugExit: true, PVPanic: true},
		Accel:     "tcg",
		Machine:   "microvm",
		MemoryMiB: 32,
		QMPSocket: filepath.Join(dir, "qmp.sock"),
	}
}

// start starts spec and stops the machine at the end of the test.
func start(t *testing.T, spec vm.Spec) (*Machine, *consoleRecorder) {
	t.Helper()
	console := newConsoleRecorder()
	m, err := Start(t.Context(), spec, vm.StartOptions{Console: console, StartTimeout: deadline})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = m.Stop(context.Background()) })
	return m, console
}

func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(deadline):
		t.Fatalf("%s not closed within %v", what, deadline)
	}
}

func processGone(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return errors.Is(err, fs.ErrNotExist)
}

func TestMachineConsoleAndDebugExit(t *testing.T) {
	m, console := start(t, bootSpec(t, echoKernel()))
	console.waitCount(t, "READY\n", 1)

	// ^C goes to the guest, which echoes it, and QEMU lives on.
	if _, err := m.WriteConsole([]byte("a\x03b")); err != nil {
		t.Fatal(err)
	}
	console.waitCount(t, "a\x03b", 1)
	if st, err := m.Status(t.Context()); err != nil || st != "running" {
		t.Fatalf("after ^C: status %q, %v; want running", st, err)
	}

	if _, err := m.WriteConsole([]byte("x")); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, m.Ended(), "Ended")
	waitClosed(t, m.Exited(), "Exited")
	want := image.Outcome{Kind: image.QEMUExited, Status: 5<<1 | 1}
	if got := m.Outcome(); got.Kind != want.Kind || got.Status != want.Status || got.Signal != "" {
		t.Fatalf("Outcome = %+v, want %+v", got, want)
	}
	if got := console.String(); got != "READY\na\x03b" {
		t.Errorf("console = %q, want every byte, unchanged", got)
	}
	if !processGone(m.PID()) {
		t.Errorf("process %d still exists", m.PID())
	}
	if _, err := m.WriteConsole([]byte("y")); !errors.Is(err, vm.ErrExited) {
		t.Errorf("WriteConsole after exit = %v, want vm.ErrExited", err)
	}
	if _, err := m.Status(t.Context()); !errors.Is(err, vm.ErrExited) {
		t.Errorf("Status after exit = %v, want vm.ErrExited", err)
	}
	if err := m.Stop(t.Context()); err != nil {
		t.Errorf("Stop after exit: %v", err)
	}
	if got := m.Outcome().Kind; got != image.QEMUExited {
		t.Errorf("Stop after exit changed the outcome to %v", got)
	}
}

func TestMachineGuestResetThenReset(t *testing.T) {
	m, console := start(t, bootSpec(t, tripleFaultKernel()))
	first := m.Ended()
	waitClosed(t, first, "Ended")
	if got := m.Outcome(); got.Kind != image.GuestReset {
		t.Fatalf("Outcome = %+v, want GuestReset", got)
	}
	if st, err := m.Status(t.Context()); err != nil || st != "shutdown" {
		t.Fatalf("status after triple fault = %q, %v; want shutdown (paused for inspection)", st, err)
	}
	console.waitCount(t, "BOOT\n", 1)

	if err := m.Reset(t.Context()); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	console.waitCount(t, "BOOT\n", 2)
	second := m.Ended()
	if second == first {
		t.Fatal("Reset after a guest reset did not start a new boot")
	}
	waitClosed(t, second, "Ended of the second boot")
	if got := m.Outcome(); got.Kind != image.GuestReset {
		t.Fatalf("second Outcome = %+v, want GuestReset", got)
	}
}

// TestMachineWriteConsoleGuestNotReading checks that WriteConsole gives up
// when a paused guest leaves its input unread and the pty fills.
func TestMachineWriteConsoleGuestNotReading(t *testing.T) {
	spec := bootSpec(t, echoKernel())
	spec.StartPaused = true
	m, _ := start(t, spec)
	m.writeTimeout = 100 * time.Millisecond
	chunk := bytes.Repeat([]byte("a"), 4096)
	for range 1000 {
		if _, err := m.WriteConsole(chunk); err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("err = %v, want os.ErrDeadlineExceeded", err)
			}
			return
		}
	}
	t.Fatal("4 MB written to a guest that reads nothing")
}

// TestMachineWriteConsoleSlowGuest checks that WriteConsole waits for a
// guest that reads its input slowly but steadily: a write far longer than
// the guest reads within one writeTimeout (it reads tens of KB/s under
// TCG) still arrives whole.
func TestMachineWriteConsoleSlowGuest(t *testing.T) {
	m, console := start(t, bootSpec(t, echoKernel()))
	console.waitCount(t, "READY\n", 1)
	m.writeTimeout = time.Second
	line := append(bytes.Repeat([]byte("b"), 32<<10), '\n')
	n, err := m.WriteConsole(line)
	if err != nil || n != len(line) {
		t.Fatalf("WriteConsole = %d, %v; want %d, nil", n, err, len(line))
	}
}

func TestMachineResetRunningGuest(t *testing.T) {
	m, console := start(t, bootSpec(t, echoKernel()))
	console.waitCount(t, "READY\n", 1)
	if err := m.Reset(t.Context()); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	console.waitCount(t, "READY\n", 2)
	if st, err := m.Status(t.Context()); err != nil || st != "running" {
		t.Fatalf("status after reset = %q, %v; want running", st, err)
	}
	select {
	case <-m.Ended():
		t.Fatalf("a host reset ended the boot: %+v", m.Outcome())
	default:
	}
}

func TestMachineGuestPanicked(t *testing.T) {
	m, console := start(t, bootSpec(t, panicKernel()))
	waitClosed(t, m.Ended(), "Ended")
	console.waitCount(t, "PANIC\n", 1)
	if got := m.Outcome(); got.Kind != image.GuestPanicked {
		t.Fatalf("Outcome = %+v, want GuestPanicked", got)
	}
	if err := m.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := m.Outcome(); got.Kind != image.GuestPanicked {
		t.Fatalf("Stop replaced the outcome: %+v", got)
	}
	if !processGone(m.PID()) {
		t.Errorf("process %d still exists after Stop", m.PID())
	}
}

func TestMachineStartPausedAndConcurrentStop(t *testing.T) {
	spec := bootSpec(t, echoKernel())
	spec.StartPaused = true
	m, console := start(t, spec)
	if st, err := m.Status(t.Context()); err != nil || st != "prelaunch" {
		t.Fatalf("status = %q, %v; want prelaunch", st, err)
	}
	if err := m.Pause(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := m.Resume(t.Context()); err != nil {
		t.Fatal(err)
	}
	console.waitCount(t, "READY\n", 1)

	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if err := m.Stop(t.Context()); err != nil {
				t.Errorf("Stop: %v", err)
			}
			select {
			case <-m.Exited():
			default:
				t.Error("Stop returned before QEMU was reaped")
			}
		})
	}
	wg.Wait()
	if !processGone(m.PID()) {
		t.Errorf("process %d still exists after Stop", m.PID())
	}
	if got := m.Outcome(); got.Kind != image.StoppedByHost {
		t.Fatalf("Outcome = %+v, want StoppedByHost", got)
	}
	if err := m.Stop(t.Context()); err != nil {
		t.Fatalf("Stop again: %v", err)
	}
}

func TestMachineStopWithExpiredContextKills(t *testing.T) {
	m, _ := start(t, bootSpec(t, echoKernel()))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := m.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if !processGone(m.PID()) {
		t.Errorf("process %d still exists after Stop", m.PID())
	}
	if got := m.Outcome(); got.Kind != image.StoppedByHost {
		t.Fatalf("Outcome = %+v, want StoppedByHost", got)
	}
}

func TestMachineKilledFromOutside(t *testing.T) {
	m, _ := start(t, bootSpec(t, echoKernel()))
	if err := syscall.Kill(m.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, m.Exited(), "Exited")
	if got := m.Outcome(); got.Kind != image.QEMUExited || got.Signal != "SIGKILL" || got.Status != -1 {
		t.Fatalf("Outcome = %+v, want QEMUExited by SIGKILL", got)
	}
}

func TestMachinePortForward(t *testing.T) {
	spec := bootSpec(t, echoKernel())
	spec.Network = true
	spec.StartPaused = true
	m, _ := start(t, spec)

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port
	pf := vm.PortForward{Proto: "tcp", HostPort: busyPort, GuestPort: 80}
	err = m.AddPortForward(t.Context(), pf)
	var pe *vm.PortError
	if !errors.As(err, &pe) || pe.Forward.HostPort != busyPort || pe.Forward.HostAddr != vm.DefaultHostAddr || pe.Detail == "" {
		t.Fatalf("forward to a busy port = %v, want *vm.PortError", err)
	}

	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	freePort := free.Addr().(*net.TCPAddr).Port
	free.Close()
	if err := m.AddPortForward(t.Context(), vm.PortForward{Proto: "tcp", HostPort: freePort, GuestPort: 80}); err != nil {
		t.Fatalf("forward to a free port: %v", err)
	}
	if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(freePort)); err == nil {
		l.Close()
		t.Fatal("the forwarded host port is not bound by QEMU")
	}
	if err := m.AddPortForward(t.Context(), vm.PortForward{Proto: "icmp", HostPort: 1, GuestPort: 1}); err == nil {
		t.Fatal("a bad forward was accepted")
	}
}

func TestMachinePortForwardWithoutNetwork(t *testing.T) {
	m, _ := start(t, bootSpec(t, echoKernel()))
	err := m.AddPortForward(t.Context(), vm.PortForward{Proto: "tcp", HostPort: 8080, GuestPort: 80})
	if !errors.Is(err, vm.ErrNoNetwork) {
		t.Fatalf("err = %v, want vm.ErrNoNetwork", err)
	}
}

func TestStartFailures(t *testing.T) {
	qemu := requireQEMU(t)
	dir := shortTempDir(t)
	// An ELF whose note is not the PVH entry: microvm refuses it.
	noPVH := pvhELF(echoKernel())
	noPVH[52+2*32+8] = xenElfNotePhys32Entry - 1
	noPVHPath := filepath.Join(dir, "nopvh.elf")
	if err := os.WriteFile(noPVHPath, noPVH, 0o444); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		spec       vm.Spec
		wantStderr bool
		wantIs     error
	}{
		{
			name:       "missing kernel",
			spec:       vm.Spec{QEMU: qemu, Machine: "microvm", Image: image.Image{Kernel: filepath.Join(dir, "nope")}},
			wantStderr: true,
		},
		{
			name:       "kernel without PVH note",
			spec:       vm.Spec{QEMU: qemu, Machine: "microvm", Image: image.Image{Kernel: noPVHPath}},
			wantStderr: true,
		},
		{
			name:       "bad argument",
			spec:       vm.Spec{QEMU: qemu, Machine: "microvm", ExtraArgs: []string{"-no-such-option"}},
			wantStderr: true,
		},
		{
			name:   "missing binary",
			spec:   vm.Spec{QEMU: filepath.Join(dir, "no-qemu"), Machine: "microvm"},
			wantIs: fs.ErrNotExist,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.QMPSocket = filepath.Join(dir, "qmp.sock")
			m, err := Start(t.Context(), tt.spec, vm.StartOptions{StartTimeout: deadline})
			if m != nil {
				_ = m.Stop(context.Background())
				t.Fatal("Start returned a machine")
			}
			var se *vm.StartError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want *vm.StartError", err)
			}
			if tt.wantStderr && (se.Stderr == "" || se.Error() == "vm: start qemu: "+se.Err.Error()) {
				t.Errorf("vm.StartError %q does not carry QEMU's stderr %q", se.Error(), se.Stderr)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("err = %v, want errors.Is %v", err, tt.wantIs)
			}
			if o := se.Outcome(); o.Kind != image.StartFailed || o.Detail == "" {
				t.Errorf("Outcome = %+v, want StartFailed with a detail", o)
			}
			t.Logf("%v", err)
		})
	}
}
