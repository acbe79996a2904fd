package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/creack/pty"
	"github.com/digitalocean/go-qemu/qmp"
	"golang.org/x/sys/unix"

	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/vm"
	"github.com/ukdev/ukdev/vm/qmpcmd"
)

// DefaultStartTimeout bounds the time from spawning QEMU to QMP being ready
// when StartOptions.StartTimeout is zero.
const DefaultStartTimeout = 10 * time.Second

const (
	// stopQuitGrace is how long Stop waits for QEMU to exit after QMP
	// quit, and then again after SIGTERM, before escalating.
	stopQuitGrace = time.Second
	stopTermGrace = time.Second
	// consoleDrainLimit is how long the reaper waits, after QEMU exited,
	// for the console copier to read the rest of the guest's output. The
	// pty reports EOF once QEMU's ends are closed; the limit only matters
	// if something else holds the pty slave open.
	consoleDrainLimit = 2 * time.Second
	// consoleSettleLimit bounds how long a boot's end waits for the
	// console of a machine that stays alive (a frozen guest) to drain.
	consoleSettleLimit = time.Second
	// consoleWriteTimeout bounds WriteConsole while the guest reads none
	// of its serial input. Under TCG on a loaded host, a guest that polls
	// its UART can leave input unread for seconds while QEMU's main loop
	// waits for the big lock: only a longer silence means it is not
	// reading.
	consoleWriteTimeout = 10 * time.Second
	// stderrTail is how much of QEMU's stderr is kept.
	stderrTail = 8 << 10
	// maxSocketPath is the longest unix socket path Linux accepts
	// (sun_path is 108 bytes, including the terminating NUL).
	maxSocketPath = 107
	// kvmInternalError is what QEMU prints when KVM cannot run the guest.
	kvmInternalError = "KVM internal error"
)

// Machine is one running QEMU process: the QEMU vm.Machine.
//
// Lifecycle contract:
//   - Start returns a Machine whose QMP is ready, or an error and no
//     process left behind.
//   - The QEMU process is reaped by exactly one goroutine; Exited is closed
//     after that, once every console byte has reached StartOptions.Console.
//   - Ended is closed when the boot ends: QEMU exited, or the guest
//     panicked, reset (a triple fault does), shut down, or the accelerator
//     failed; in the last four cases QEMU stays alive with the VM paused
//     for inspection until Stop or Reset. The first ending wins and is
//     reported by Outcome.
//   - Stop is idempotent and safe to call concurrently, from any
//     goroutine: every call returns once the process has been reaped.
//   - After Exited, QMP methods return errors wrapping ErrExited or
//     ErrMonitorClosed; nothing panics.
//
// All methods are safe for concurrent use.
type Machine struct {
	spec   vm.Spec
	argv   []string
	log    *slog.Logger
	qmpTTL time.Duration

	cmd     *exec.Cmd
	pty     *os.File
	console io.Writer
	// writeTimeout bounds WriteConsole (consoleWriteTimeout; tests
	// shorten it).
	writeTimeout time.Duration
	stderr       *tailBuffer
	mon          *Monitor

	// life lasts as long as the process; it bounds the Machine's own QMP
	// calls, apart from the contexts of callers.
	life    context.Context
	endLife context.CancelFunc

	consoleDone chan struct{}
	consoleBusy atomic.Int32 // 1 while the copier hands on what it read
	exited      chan struct{}
	// zombie is set (under sigMu) once the process has exited but before
	// it is reaped: signals are only sent before that, so they can never
	// reach a recycled pid.
	sigMu  sync.Mutex
	zombie bool

	stopRequested atomic.Bool
	stopOnce      sync.Once
	hurry         chan struct{}
	hurryOnce     sync.Once

	// dumpFile is StartOptions.DumpFile; dumpMu serialises the reads
	// that share it.
	dumpFile string
	dumpMu   sync.Mutex

	// balloon is what BalloonStats learnt about the balloon device.
	balloon qmpcmd.Balloon
	// sampling is what Sample keeps from one call to the next.
	sampling qmpcmd.Sampler
	// proc keeps QEMU's /proc files open for HostStats until it exits.
	proc procFiles

	mu       sync.Mutex
	ended    chan struct{}
	outcome  image.Outcome
	hasEnded bool
}

var _ vm.Machine = (*Machine)(nil)

// Start spawns QEMU for spec, connects QMP and returns once QMP is ready.
// ctx bounds the start only (together with StartOptions.StartTimeout); the
// Machine lives until Stop or until QEMU exits, whatever happens to ctx.
//
// QEMU always starts paused (-S) and is resumed once QMP is connected, so
// no event of the boot can be missed; with spec.StartPaused it stays
// paused until Cont. Its stdin and stdout are a pty in raw mode (the
// serial console), its stderr is kept (Stderr), it runs in its own session
// and process group and is killed if ukdev dies. A QEMU that exits before
// QMP is ready yields a *StartError carrying its stderr.
//
// The capabilities negotiation and, without spec.StartPaused, the cont
// are sent in one write once QEMU greets: QEMU runs them in the same pass
// of its main loop, so the guest starts as soon as QEMU can run it.
//
// Any file at spec.QMPSocket is removed first. Each boot should use its own
// socket path: QEMU serves one QMP client at a time.
func Start(ctx context.Context, spec vm.Spec, opts vm.StartOptions) (*Machine, error) {
	if err := validateSpec(spec); err != nil {
		return nil, err
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = DefaultStartTimeout
	}
	if opts.CommandTimeout <= 0 {
		opts.CommandTimeout = DefaultQMPTimeout
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Console == nil {
		opts.Console = io.Discard
	}

	paused := spec
	paused.StartPaused = true
	args := Args(paused)
	bin := qemuBinary(spec)
	argv := append([]string{bin}, args...)

	if err := os.Remove(spec.QMPSocket); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("qemu: start: remove stale QMP socket: %w", err)
	}
	master, slave, err := openPty()
	if err != nil {
		return nil, fmt.Errorf("qemu: start: open pty: %w", err)
	}
	if err := makeRaw(slave); err != nil {
		_ = master.Close()
		_ = slave.Close()
		return nil, fmt.Errorf("qemu: start: pty raw mode: %w", err)
	}

	life, endLife := context.WithCancel(context.Background())
	m := &Machine{
		spec:         spec,
		argv:         argv,
		log:          opts.Log,
		qmpTTL:       opts.CommandTimeout,
		pty:          master,
		console:      opts.Console,
		dumpFile:     opts.DumpFile,
		writeTimeout: consoleWriteTimeout,
		life:         life,
		endLife:      endLife,
		consoleDone:  make(chan struct{}),
		exited:       make(chan struct{}),
		hurry:        make(chan struct{}),
		ended:        make(chan struct{}),
	}
	m.stderr = newTailBuffer(stderrTail, kvmInternalError, m.onKVMInternalError)

	m.cmd = exec.Command(bin, args...)
	m.cmd.Stdin = slave
	m.cmd.Stdout = slave
	m.cmd.Stderr = m.stderr
	// Setsid gives QEMU its own session and process group (signalled as a
	// whole by Stop) and no controlling terminal, so no byte on the
	// console can ever raise a signal. Pdeathsig kills it if ukdev dies.
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	// WaitDelay keeps Wait from hanging on a stderr pipe some leftover
	// child still holds.
	m.cmd.WaitDelay = time.Second

	spawn := time.Now()
	err = m.cmd.Start()
	_ = slave.Close() // QEMU has its own copies; the console ends when it exits
	if err != nil {
		_ = master.Close()
		endLife()
		return nil, &vm.StartError{Argv: argv, Err: err}
	}
	m.log.Debug("qemu started", "pid", m.cmd.Process.Pid, "argv", argv)
	go m.copyConsole()
	go m.reap()

	if err := m.connect(ctx, opts.StartTimeout, !spec.StartPaused); err != nil {
		m.stopRequested.Store(true)
		m.hurryOnce.Do(func() { close(m.hurry) })
		m.stopOnce.Do(func() { go m.stopSequence() })
		<-m.exited
		return nil, &vm.StartError{Argv: argv, Stderr: m.stderr.String(), Err: err}
	}
	m.log.Debug("qmp ready", "pid", m.cmd.Process.Pid, "after", time.Since(spawn), "running", !spec.StartPaused)
	return m, nil
}

// validateSpec rejects specs QEMU could not be started with.
func validateSpec(s vm.Spec) error {
	switch {
	case s.QMPSocket == "":
		return errors.New("qemu: start: Spec.QMPSocket is empty")
	case len(s.QMPSocket) > maxSocketPath:
		return fmt.Errorf("qemu: start: QMP socket path %q is %d bytes, longer than the %d a unix socket allows",
			s.QMPSocket, len(s.QMPSocket), maxSocketPath)
	case s.MemoryMiB < 0:
		return fmt.Errorf("qemu: start: negative memory size %d MiB", s.MemoryMiB)
	case s.CPUs < 0:
		return fmt.Errorf("qemu: start: negative CPU count %d", s.CPUs)
	case s.GDB != "":
		if err := checkGDBAddr(s.GDB); err != nil {
			return fmt.Errorf("qemu: start: %w", err)
		}
	}
	return nil
}

// checkGDBAddr accepts the gdb stub addresses of vm.Spec.GDB: a unix
// socket path short enough for a socket, or a loopback TCP port. Nothing
// else reaches QEMU's option parser or the monitor's command line.
func checkGDBAddr(addr string) error {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		switch {
		case !filepath.IsAbs(path):
			return fmt.Errorf("gdb stub: socket path %q is not absolute", path)
		case len(path) > maxSocketPath:
			return fmt.Errorf("gdb stub: socket path %q is %d bytes, longer than the %d a unix socket allows", path, len(path), maxSocketPath)
		}
		return nil
	}
	if hostport, ok := strings.CutPrefix(addr, "tcp:"); ok {
		ap, err := netip.ParseAddrPort(hostport)
		if err == nil && ap.Addr().IsLoopback() && ap.Port() != 0 {
			return nil
		}
	}
	return fmt.Errorf("gdb stub: address %q is neither unix:<path> nor tcp:<loopback address>:<port>", addr)
}

// openPty opens a pty whose master honours deadlines and Close while a
// Read or Write waits: pty.Open's master is left in blocking mode (its
// ioctls go through File.Fd), so the master is reopened non-blocking
// through the runtime poller.
func openPty() (master, slave *os.File, err error) {
	blocking, slave, err := pty.Open()
	if err != nil {
		return nil, nil, err
	}
	defer blocking.Close()
	fd, err := unix.Dup(int(blocking.Fd()))
	if err != nil {
		_ = slave.Close()
		return nil, nil, fmt.Errorf("dup pty master: %w", err)
	}
	unix.CloseOnExec(fd)
	if err := unix.SetNonblock(fd, true); err != nil {
		_ = unix.Close(fd)
		_ = slave.Close()
		return nil, nil, fmt.Errorf("pty master non-blocking: %w", err)
	}
	return os.NewFile(uintptr(fd), blocking.Name()), slave, nil
}

// makeRaw puts the pty in raw mode before QEMU starts: bytes pass both ways
// unchanged (no CR/LF translation, no echo) and no key raises a signal,
// even before QEMU's stdio chardev configures the terminal itself.
func makeRaw(f *os.File) error {
	fd := int(f.Fd())
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	// QEMU's stdio chardev turns OPOST back on; without ONLCR and friends
	// that still translates nothing.
	t.Oflag &^= unix.OPOST | unix.ONLCR | unix.OCRNL | unix.ONOCR | unix.ONLRET
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}

// connect waits for QEMU's QMP socket to accept (or for QEMU to die) and
// negotiates QMP, together with cont when run is set. The events that end
// a boot are watched from before the negotiation: the cont sent with it
// makes QEMU report RESUME before its reply.
func (m *Machine) connect(ctx context.Context, timeout time.Duration, run bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	retry := time.NewTicker(5 * time.Millisecond)
	defer retry.Stop()
	for {
		conn, err := d.DialContext(ctx, "unix", m.spec.QMPSocket)
		if err == nil {
			m.mon = NewMonitor(conn, m.qmpTTL, m.log)
			events, err := m.mon.Events(m.life)
			if err != nil {
				_ = m.mon.Disconnect()
				return err
			}
			go m.watchEvents(events)
			if run {
				_, err = m.mon.ConnectAndRun(ctx, []byte(`{"execute":"cont"}`))
			} else {
				err = m.mon.ConnectContext(ctx)
			}
			if err != nil {
				err = m.startError(err)
				_ = m.mon.Disconnect()
				return err
			}
			return nil
		}
		// The socket appears once QEMU has parsed its options; until then
		// dialing fails with ENOENT or ECONNREFUSED. QEMU only answers
		// commands once its main loop runs, well after that: the retry
		// period is never on the way.
		select {
		case <-m.exited:
			return m.exitError()
		case <-ctx.Done():
			return fmt.Errorf("qemu: qmp not ready: %w", ctx.Err())
		case <-retry.C:
		}
	}
}

// startError returns err, the failure of QMP's negotiation, or QEMU's
// exit when QEMU closed the connection because it is exiting: that says
// why better, with its stderr.
func (m *Machine) startError(err error) error {
	if !isClosed(m.mon.Done()) {
		return err
	}
	grace := time.NewTimer(exitGrace)
	defer grace.Stop()
	select {
	case <-m.exited:
		return m.exitError()
	case <-grace.C:
		return err
	}
}

// exitGrace is how long a start whose QMP connection closed waits for
// QEMU's exit, to report that instead.
const exitGrace = time.Second

// exitError describes QEMU's exit during start.
func (m *Machine) exitError() error {
	if st := m.cmd.ProcessState; st != nil {
		return &exec.ExitError{ProcessState: st}
	}
	return vm.ErrExited
}

// copyConsole copies the guest's serial output to the console writer until
// the pty reports EOF or EIO (QEMU's ends closed).
func (m *Machine) copyConsole() {
	defer close(m.consoleDone)
	buf := make([]byte, 32<<10)
	broken := false
	var pacer readPacer
	for {
		n, err := m.pty.Read(buf)
		if n > 0 {
			m.consoleBusy.Store(1)
		}
		if n > 0 && !broken {
			if _, werr := m.console.Write(buf[:n]); werr != nil {
				// Keep reading so QEMU never blocks on its console.
				broken = true
				m.log.Warn("console writer failed; discarding console output", "err", werr)
			}
		}
		m.consoleBusy.Store(0)
		if err != nil {
			return
		}
		if d := pacer.after(time.Now(), n); d > 0 {
			time.Sleep(d) // a flood: let the pty gather bytes (readPacer)
		}
	}
}

// reap is the only goroutine that waits for QEMU. It records the process
// exit as the boot's end (unless one was recorded before) once the console
// is drained, then closes Exited.
func (m *Machine) reap() {
	if m.awaitExit() {
		m.sigMu.Lock()
		m.zombie = true
		m.sigMu.Unlock()
	}
	waitErr := m.cmd.Wait()

	drain := time.NewTimer(consoleDrainLimit)
	select {
	case <-m.consoleDone:
	case <-drain.C:
		m.log.Warn("console still open after qemu exited; closing it")
		_ = m.pty.Close()
		<-m.consoleDone
	}
	drain.Stop()
	_ = m.pty.Close()

	out := image.Outcome{Kind: image.QEMUExited, Status: -1, Detail: lastLine(m.stderr.String())}
	if st := m.cmd.ProcessState; st != nil {
		if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			out.Signal = unix.SignalName(ws.Signal())
			if out.Signal == "" {
				out.Signal = ws.Signal().String()
			}
		} else {
			out.Status = st.ExitCode()
		}
	}
	if m.stopRequested.Load() {
		out = image.Outcome{Kind: image.StoppedByHost, Status: -1, Signal: out.Signal, Detail: "stopped by ukdev"}
	}
	m.log.Debug("qemu exited", "pid", m.cmd.Process.Pid, "status", out.Status, "signal", out.Signal, "wait", waitErr)
	m.end(out)
	// The QMP connection ends by itself: QEMU's exit closed the socket.
	m.endLife()
	m.proc.close()
	close(m.exited)
}

// awaitExit blocks until QEMU has exited, without reaping it, and reports
// whether it could tell; if not, the caller learns of the exit from Wait.
func (m *Machine) awaitExit() bool {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, m.cmd.Process.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		switch {
		case err == nil:
			return true
		case !errors.Is(err, unix.EINTR):
			m.log.Warn("waitid on qemu", "err", err)
			return false
		}
	}
}

// signalGroup sends sig to QEMU's process group unless QEMU has already
// exited.
func (m *Machine) signalGroup(sig syscall.Signal) {
	m.sigMu.Lock()
	defer m.sigMu.Unlock()
	if m.zombie {
		return
	}
	m.log.Debug("signalling qemu's process group", "signal", sig)
	if err := syscall.Kill(-m.cmd.Process.Pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		m.log.Warn("signal qemu", "signal", sig, "err", err)
	}
}

// endFrozen records the end of a boot whose machine stays alive with the
// guest paused (a panic, reset, shutdown or accelerator failure), once
// what the guest wrote before has left the pty: on a loaded host the
// console copier can lag behind, and the last lines (a crash report) must
// come before the end.
func (m *Machine) endFrozen(o image.Outcome) {
	m.settleConsole()
	m.end(o)
}

// settleConsole waits, at most consoleSettleLimit, until the pty holds no
// unread byte and the copier has handed on all it read, twice in a row
// (the copier marks itself busy just after its read returns).
func (m *Machine) settleConsole() {
	deadline := time.Now().Add(consoleSettleLimit)
	for idle := 0; idle < 2 && time.Now().Before(deadline) && !isClosed(m.consoleDone); {
		n, err := ptyUnread(m.pty)
		switch {
		case err != nil:
			return
		case n == 0 && m.consoleBusy.Load() == 0:
			idle++
		default:
			idle = 0
		}
		// The copier offers nothing to wait on: poll, briefly.
		time.Sleep(2 * time.Millisecond)
	}
}

// ptyUnread returns how many bytes wait to be read on the pty master
// (TIOCINQ), through the raw descriptor so that the file keeps its
// non-blocking mode and deadlines (File.Fd would end both).
func ptyUnread(f *os.File) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int
	var ierr error
	if err := rc.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.TIOCINQ) }); err != nil {
		return 0, err
	}
	return n, ierr
}

// end records the end of the boot; the first one wins.
func (m *Machine) end(o image.Outcome) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.hasEnded {
		return
	}
	m.hasEnded = true
	m.outcome = o
	close(m.ended)
	m.log.Debug("boot ended", "kind", o.Kind, "status", o.Status, "signal", o.Signal, "detail", o.Detail)
}

// onKVMInternalError is called by the stderr buffer when QEMU reports that
// KVM could not run the guest.
func (m *Machine) onKVMInternalError(line string) {
	m.end(image.Outcome{Kind: image.InternalError, Status: -1, Detail: line})
}

// watchEvents turns QMP events into the boot's end. It reads events, from
// a subscription made before QMP was negotiated, for the QMP connection's
// whole life.
func (m *Machine) watchEvents(events <-chan qmp.Event) {
	for ev := range events {
		m.log.Debug("qmp event", "event", ev.Event, "data", ev.Data)
		switch ev.Event {
		case "GUEST_PANICKED":
			m.endFrozen(image.Outcome{Kind: image.GuestPanicked, Status: -1, Detail: panicDetail(ev.Data)})
		case "SHUTDOWN":
			guest, _ := ev.Data["guest"].(bool)
			reason, _ := ev.Data["reason"].(string)
			if !guest {
				continue
			}
			switch reason {
			case "guest-reset":
				m.endFrozen(image.Outcome{Kind: image.GuestReset, Status: -1, Detail: reason})
			case "guest-shutdown":
				m.endFrozen(image.Outcome{Kind: image.GuestShutdown, Status: -1, Detail: reason})
			case "guest-panic":
				m.endFrozen(image.Outcome{Kind: image.GuestPanicked, Status: -1, Detail: reason})
			}
		case "STOP":
			// An accelerator failure shows only as a stop whose status is
			// internal-error.
			status, err := m.Status(m.life)
			if err == nil && status == "internal-error" {
				detail := lastLine(m.stderr.String())
				if detail == "" {
					detail = "run state internal-error"
				}
				m.endFrozen(image.Outcome{Kind: image.InternalError, Status: -1, Detail: detail})
			}
		}
	}
}

// panicDetail summarises GUEST_PANICKED data.
func panicDetail(data map[string]any) string {
	info, ok := data["info"].(map[string]any)
	if !ok {
		return "guest panicked"
	}
	b, err := json.Marshal(info)
	if err != nil {
		return "guest panicked"
	}
	return "guest panicked: " + string(b)
}

// PID returns QEMU's process id (also its process group id).
func (m *Machine) PID() int { return m.cmd.Process.Pid }

// Argv returns QEMU's full command line, binary first.
func (m *Machine) Argv() []string { return append([]string(nil), m.argv...) }

// Ended returns a channel closed when the current boot has ended (see the
// Machine contract). After a Reset that restarts a paused guest, Ended
// returns a new channel for the new boot.
func (m *Machine) Ended() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ended
}

// HasEnded reports, without blocking, whether the current boot has ended:
// whether Ended is closed.
func (m *Machine) HasEnded() bool { return isClosed(m.Ended()) }

// Outcome returns how the current boot ended; it is valid once Ended is
// closed and the zero Outcome before.
func (m *Machine) Outcome() image.Outcome {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.outcome
}

// Exited returns a channel closed once QEMU has been reaped and all its
// console output delivered.
func (m *Machine) Exited() <-chan struct{} { return m.exited }

// Stderr returns the end (the last 8 KiB) of QEMU's standard error.
func (m *Machine) Stderr() string { return m.stderr.String() }

// Events returns QMP events from now on until ctx is done or QEMU exits
// (see Monitor.Events); the Machine tracks the boot's end on its own.
func (m *Machine) Events(ctx context.Context) (<-chan qmp.Event, error) {
	return m.mon.Events(ctx)
}

// WriteConsole writes bytes to the guest's serial input: keys, ^C
// included, reach the guest and never signal QEMU. It fails with an error
// wrapping os.ErrDeadlineExceeded when the guest has not read any of its
// input for a while (writeTimeout): a guest that reads slowly, a byte at a
// time on a loaded host, still gets all of p. It fails with ErrExited once
// QEMU is gone.
func (m *Machine) WriteConsole(p []byte) (int, error) {
	select {
	case <-m.exited:
		return 0, fmt.Errorf("qemu: write console: %w", vm.ErrExited)
	default:
	}
	written := 0
	for {
		_ = m.pty.SetWriteDeadline(time.Now().Add(m.writeTimeout))
		n, err := m.pty.Write(p[written:])
		written += n
		switch {
		case err == nil:
			return written, nil
		case errors.Is(err, os.ErrClosed) || errors.Is(err, syscall.EIO):
			return written, fmt.Errorf("qemu: write console: %w", vm.ErrExited)
		case errors.Is(err, os.ErrDeadlineExceeded) && n > 0:
			// The guest read some within the deadline: still reading.
			continue
		}
		return written, fmt.Errorf("qemu: write console: %w", err)
	}
}

// ReadMemory reads size bytes of guest memory at addr: a physical address
// with QMP pmemsave, or with virtual a virtual one, through vCPU 0's page
// tables, with memsave. QEMU writes them to StartOptions.DumpFile, which
// every read reuses (reads are serialised); pmemsave writes a binary file
// of any size, where HMP's xp would be text whose format is no stable API.
// An error reply is a *QMPError.
func (m *Machine) ReadMemory(ctx context.Context, addr, size uint64, virtual bool) ([]byte, error) {
	cmd := "pmemsave"
	args := map[string]any{"val": addr, "size": size, "filename": m.dumpFile}
	if virtual {
		cmd = "memsave"
		args["cpu-index"] = 0
	}
	if m.dumpFile == "" {
		return nil, fmt.Errorf("qemu: %s: no dump file (StartOptions.DumpFile)", cmd)
	}
	m.dumpMu.Lock()
	defer m.dumpMu.Unlock()
	if _, err := m.execute(ctx, cmd, args); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(m.dumpFile)
	if err != nil {
		return nil, fmt.Errorf("qemu: %s: %w", cmd, err)
	}
	if uint64(len(data)) != size {
		return nil, fmt.Errorf("qemu: %s at %#x: got %d bytes, want %d", cmd, addr, len(data), size)
	}
	return data, nil
}

// execute runs a QMP command built from a name and arguments and returns
// its "return" value.
func (m *Machine) execute(ctx context.Context, name string, args any) (json.RawMessage, error) {
	cmd, err := json.Marshal(qmp.Command{Execute: name, Args: args})
	if err != nil {
		return nil, fmt.Errorf("qemu: qmp %s: encode: %w", name, err)
	}
	raw, err := m.mon.RunContext(ctx, cmd)
	return m.returnOf(name, raw, err)
}

// returnOf is the "return" value of command name's reply raw, or its
// error err (vm.ErrExited once QEMU has exited).
func (m *Machine) returnOf(name string, raw []byte, err error) (json.RawMessage, error) {
	if err != nil {
		if errors.Is(err, ErrMonitorClosed) && isClosed(m.exited) {
			return nil, fmt.Errorf("qemu: qmp %s: %w", name, vm.ErrExited)
		}
		return nil, err
	}
	var r struct {
		Return json.RawMessage `json:"return"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("qemu: qmp %s: decode reply: %w", name, err)
	}
	return r.Return, nil
}

// isClosed reports whether ch is closed, without blocking.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// Status returns QEMU's run state ("running", "paused", "prelaunch",
// "shutdown", "guest-panicked", "internal-error"...).
func (m *Machine) Status(ctx context.Context) (string, error) {
	return qmpcmd.Status(ctx, executor{m})
}

// Cont starts or resumes the VM (QMP cont).
func (m *Machine) Cont(ctx context.Context) error {
	_, err := m.execute(ctx, "cont", nil)
	return err
}

// Resume starts a VM started paused, or resumes a paused one; it is Cont.
func (m *Machine) Resume(ctx context.Context) error { return m.Cont(ctx) }

// HostStats returns a host-side snapshot of the QEMU process, from /proc
// (as ProcStats, through files kept open while QEMU runs). An error wraps
// fs.ErrNotExist when the process is gone.
func (m *Machine) HostStats() (vm.HostStats, error) { return m.proc.read(m.PID()) }

// Pause pauses the VM (QMP stop).
func (m *Machine) Pause(ctx context.Context) error {
	_, err := m.execute(ctx, "stop", nil)
	return err
}

// needsReset reports whether a run state is one a guest leaves only
// through a reset (QEMU refuses cont there).
func needsReset(status string) bool {
	switch status {
	case "shutdown", "guest-panicked", "internal-error":
		return true
	}
	return false
}

// Reset reboots the guest in the same QEMU (the same kernel file, read
// again). A running guest restarts at once and a guest paused by the user
// stays paused; a guest paused after a crash, reset or shutdown is
// restarted, and its boot counts as a new one: Ended and Outcome describe
// it from then on.
//
// QEMU runs with reboot=shutdown so that a guest reset is observable,
// which would turn system_reset into a shutdown too; Reset switches the
// reboot action to "reset" around the command.
func (m *Machine) Reset(ctx context.Context) error {
	before, err := m.Status(ctx)
	if err != nil {
		return fmt.Errorf("qemu: reset: %w", err)
	}
	if _, err := m.execute(ctx, "set-action", map[string]string{"reboot": "reset"}); err != nil {
		return fmt.Errorf("qemu: reset: %w", err)
	}
	_, resetErr := m.execute(ctx, "system_reset", nil)
	// Restore the action even when the reset failed or ctx ended.
	restoreCtx, cancel := context.WithTimeout(m.life, m.qmpTTL)
	defer cancel()
	if _, err := m.execute(restoreCtx, "set-action", map[string]string{"reboot": "shutdown"}); err != nil {
		return fmt.Errorf("qemu: reset: restore reboot action: %w", errors.Join(resetErr, err))
	}
	if resetErr != nil {
		return fmt.Errorf("qemu: reset: %w", resetErr)
	}
	if !needsReset(before) {
		return nil
	}
	// QEMU performs the reset asynchronously; cont is refused until it has.
	if err := m.awaitStatus(ctx, func(s string) bool { return !needsReset(s) }); err != nil {
		return fmt.Errorf("qemu: reset: %w", err)
	}
	m.mu.Lock()
	if m.hasEnded && m.outcome.Kind != image.QEMUExited && m.outcome.Kind != image.StoppedByHost {
		m.hasEnded = false
		m.outcome = image.Outcome{}
		m.ended = make(chan struct{})
	}
	m.mu.Unlock()
	if err := m.Cont(ctx); err != nil {
		return fmt.Errorf("qemu: reset: %w", err)
	}
	return nil
}

// awaitStatus polls the run state until ok accepts it. A QMP round trip
// costs well under a millisecond; a state change is not announced by any
// event this can wait on.
func (m *Machine) awaitStatus(ctx context.Context, ok func(string) bool) error {
	ctx, cancel := context.WithTimeout(ctx, m.qmpTTL)
	defer cancel()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		s, err := m.Status(ctx)
		if err != nil {
			return err
		}
		if ok(s) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the run state to change from %q: %w", s, ctx.Err())
		case <-tick.C:
		}
	}
}

// AddPortForward forwards a host port to the guest through the user-mode
// network (HMP hostfwd_add on NetdevID). QEMU binds the host port at once:
// a port in use is reported as a *PortError.
func (m *Machine) AddPortForward(ctx context.Context, pf vm.PortForward) error {
	if !m.spec.Network {
		return fmt.Errorf("qemu: add port forward: %w", vm.ErrNoNetwork)
	}
	return qmpcmd.AddPortForward(ctx, executor{m}, NetdevID, pf)
}

// hostfwdRule validates pf and renders it in hostfwd_add syntax (see
// qmpcmd.HostfwdRule).
func hostfwdRule(pf vm.PortForward) (string, error) { return qmpcmd.HostfwdRule(pf) }

// GDBServer opens QEMU's gdb stub at addr (vm.Spec.GDB's form) with the
// monitor's gdbserver command. QEMU 7.2 refuses a second stub while one is
// open ("duplicate yank instance"), so the old one is closed first (its
// debugger, if any, is dropped). A refused address is an error carrying
// QEMU's explanation.
func (m *Machine) GDBServer(ctx context.Context, addr string) error {
	if err := checkGDBAddr(addr); err != nil {
		return fmt.Errorf("qemu: %w", err)
	}
	if strings.ContainsAny(addr, " \t\r\n") {
		// The monitor splits its command line at white space.
		return fmt.Errorf("qemu: gdbserver: address %q holds white space", addr)
	}
	if _, err := m.hmp(ctx, "gdbserver none"); err != nil {
		return fmt.Errorf("qemu: gdbserver: %w", err)
	}
	dev := gdbDevice(addr)
	text, err := m.hmp(ctx, "gdbserver "+dev)
	if err != nil {
		return fmt.Errorf("qemu: gdbserver %s: %w", addr, err)
	}
	// The monitor's text is its only answer: success says it waits.
	if text = strings.TrimSpace(text); !strings.HasPrefix(text, "Waiting for gdb connection") {
		return fmt.Errorf("qemu: gdbserver %s: %s", addr, strings.Join(strings.Fields(text), " "))
	}
	return nil
}

// Stop ends QEMU: QMP quit, up to a second to exit, then SIGTERM to its
// process group, another second, then SIGKILL. It returns once QEMU has
// been reaped; when ctx ends first, it skips straight to SIGKILL and still
// waits for the reap. It is idempotent and safe to call concurrently. The
// boot's outcome becomes StoppedByHost unless one was recorded before.
func (m *Machine) Stop(ctx context.Context) error {
	m.stopRequested.Store(true)
	m.stopOnce.Do(func() { go m.stopSequence() })
	select {
	case <-m.exited:
	case <-ctx.Done():
		m.hurryOnce.Do(func() { close(m.hurry) })
		<-m.exited
	}
	return nil
}

// stopSequence escalates until QEMU has exited.
func (m *Machine) stopSequence() {
	if isClosed(m.exited) {
		return
	}
	if m.mon != nil {
		ctx, cancel := context.WithTimeout(m.life, stopQuitGrace)
		go func() {
			select {
			case <-m.hurry:
				cancel()
			case <-ctx.Done():
			}
		}()
		_, err := m.mon.RunContext(ctx, []byte(`{"execute":"quit"}`))
		if err != nil {
			m.log.Debug("qmp quit", "err", err)
		}
		hurried := m.waitExit(ctx.Done())
		cancel()
		if !hurried {
			return
		}
	}
	m.signalGroup(syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(m.life, stopTermGrace)
	defer cancel()
	if !m.waitExit(ctx.Done()) {
		return
	}
	m.signalGroup(syscall.SIGKILL)
}

// waitExit waits for QEMU to exit and reports false when it did, or true
// when giveUp fired or Stop was told to hurry first.
func (m *Machine) waitExit(giveUp <-chan struct{}) bool {
	select {
	case <-m.exited:
		return false
	case <-m.hurry:
		return true
	case <-giveUp:
		return true
	}
}
