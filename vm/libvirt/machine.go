package libvirt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/vm"
	"github.com/ukdev/ukdev/vm/qmpcmd"
)

const (
	// DefaultStartTimeout bounds a start (uploads included) when
	// StartOptions.StartTimeout is zero.
	DefaultStartTimeout = 60 * time.Second
	// DefaultCommandTimeout bounds a control command whose context has no
	// deadline when StartOptions.CommandTimeout is zero.
	DefaultCommandTimeout = 10 * time.Second
	// consoleDrainLimit is how long, after the domain stopped, Exited
	// waits for the console streams to end.
	consoleDrainLimit = 2 * time.Second
	// domainGoneLimit bounds the wait for a stopped domain to leave
	// libvirt before its console streams are finished anyway, and
	// domainFreedDelay is the moment given after it left for the daemon
	// to free it (closeConsolesLater).
	domainGoneLimit  = 30 * time.Second
	domainFreedDelay = 2 * time.Second
	// consoleQuiet is how long the console must stay silent before a
	// boot's end is recorded, and consoleSettleLimit how long that is
	// waited for at most: console bytes travel through libvirtd, apart
	// from the events.
	consoleQuiet       = 100 * time.Millisecond
	consoleSettleLimit = time.Second
	// consoleWriteTimeout bounds WriteConsole while the input is not
	// taken (vm/qemu's, for the same guests).
	consoleWriteTimeout = 10 * time.Second
	// peekChunk is the most DomainMemoryPeek is asked for at once: the
	// limit of older libvirt daemons (libvirt 9 takes 4 MiB).
	peekChunk = 64 << 10
	// qemuPIDDir is where libvirtd's QEMU driver keeps its pid files.
	qemuPIDDir = "/run/libvirt/qemu"
)

// Machine is one transient libvirt domain: the libvirt vm.Machine. It
// runs on its Backend's connection to the daemon, made with the domain
// auto-destroyed when that connection closes: a ukdev that dies leaves
// no domain running (libvirtd notices the closed connection).
//
// Lifecycle, as vm.Machine's contract says, with one difference libvirt
// imposes: a guest reset or power-off ends the domain (libvirt kills
// QEMU on QEMU's SHUTDOWN event) instead of keeping it paused; a guest
// panic keeps it paused for inspection.
type Machine struct {
	b    *Backend
	l    *golibvirt.Libvirt
	dom  golibvirt.Domain
	uri  string
	spec vm.Spec
	log  *slog.Logger
	ttl  time.Duration
	pid  int

	console    io.Writer
	broken     atomic.Bool
	lastOutput atomic.Int64 // UnixNano of the last console bytes
	inR        *io.PipeReader
	inW        *io.PipeWriter
	writeSlot  chan struct{}
	exitR      *io.PipeReader
	exitW      *io.PipeWriter
	exitOnce   sync.Once

	consoleDone chan struct{}
	exitDone    chan struct{}

	life    context.Context
	endLife context.CancelFunc

	stopped     chan struct{}
	stoppedOnce sync.Once
	stopDetail  string
	exited      chan struct{}

	// biosReset is biosResetPending while a Reset waits for the
	// firmware's own reboot (see Reset), biosResetRestoring while the
	// reboot action is being restored, and 0 otherwise.
	biosReset atomic.Int32

	stopRequested atomic.Bool
	stopOnce      sync.Once
	// inputOnce closes the console streams' input (closeConsoles).
	inputOnce sync.Once
	stopErr   error

	balloon  qmpcmd.Balloon
	sampling qmpcmd.Sampler

	// gdb is the local end of the gdb stub (GDBServer, Spec.GDB).
	gdbMu sync.Mutex
	gdb   *Tunnel
	// gdbDone: reap closed the stub's tunnel; no new one may open.
	gdbDone bool

	mu       sync.Mutex
	ended    chan struct{}
	outcome  image.Outcome
	hasEnded bool
}

var (
	_ vm.Machine      = (*Machine)(nil)
	_ qmpcmd.Executor = (*Machine)(nil)
)

// start uploads spec's files, creates the domain paused, opens its
// consoles and its event subscriptions, then lets it run (unless
// spec.StartPaused). A failed start destroys what it created.
func (b *Backend) start(ctx context.Context, spec vm.Spec, opts vm.StartOptions) (*Machine, error) {
	uri := ResolveURI(b.URI)
	argv := []string{"libvirt", Redact(uri)}
	switch {
	case spec.MemoryMiB < 0:
		return nil, fmt.Errorf("libvirt: start: negative memory size %d MiB", spec.MemoryMiB)
	case spec.CPUs < 0:
		return nil, fmt.Errorf("libvirt: start: negative CPU count %d", spec.CPUs)
	}
	if spec.GDB != "" {
		if _, _, err := gdbListenAddr(spec.GDB); err != nil {
			return nil, fmt.Errorf("libvirt: start: %w", err)
		}
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = DefaultStartTimeout
	}
	if opts.CommandTimeout <= 0 {
		opts.CommandTimeout = DefaultCommandTimeout
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Console == nil {
		opts.Console = io.Discard
	}
	// StartTimeout bounds the dial, and then the start proper; the
	// uploads between them take what the files' size and the link need,
	// bounded by ctx (and a dead link by ssh's keepalives).
	parent := ctx
	dialCtx, cancelDial := context.WithTimeout(parent, opts.StartTimeout)
	l, hub, err := b.session(dialCtx)
	cancelDial()
	if err != nil {
		return nil, &vm.StartError{Argv: argv, Err: err}
	}
	failed := func(err error) (*Machine, error) {
		var le golibvirt.Error
		detail := ""
		if errors.As(err, &le) {
			detail = le.Message
		}
		return nil, &vm.StartError{Argv: argv, Stderr: detail, Err: err}
	}

	owner := b.owner()
	p := domainParams{Name: newDomainName(owner), Spec: spec, Owner: owner, Network: b.Network}
	if emu := emulator(spec.QEMU); emu != nil {
		p.Emulator = emu[0]
	}
	files := []struct {
		local string
		host  *string
	}{{spec.Image.Kernel, &p.Kernel}, {spec.Image.Initrd, &p.Initrd}, {spec.Image.Disk, &p.Disk}, {spec.BootDisk, &p.BootDisk}}
	var pool golibvirt.StoragePool
	poolReady := false
	for _, f := range files {
		if f.local == "" {
			continue
		}
		if !poolReady {
			name := b.Pool
			if name == "" {
				name = DefaultPool
			}
			if pool, err = ensurePool(l, name, b.PoolDir); err != nil {
				return failed(err)
			}
			poolReady = true
		}
		if *f.host, err = upload(parent, l, pool, f.local, opts.Progress); err != nil {
			return failed(err)
		}
	}
	ctx, cancel := context.WithTimeout(parent, opts.StartTimeout)
	defer cancel()
	xml, err := domainXML(p)
	if err != nil {
		return failed(err)
	}
	argv = append(argv, p.Name)

	life, endLife := context.WithCancel(context.Background())
	dom, err := l.DomainCreateXML(xml, golibvirt.DomainStartPaused|golibvirt.DomainStartAutodestroy)
	if err != nil {
		endLife()
		return failed(fmt.Errorf("libvirt: start: create domain: %w", err))
	}
	lifecycle, unsubscribe := hub.subscribe(dom.UUID)
	context.AfterFunc(life, unsubscribe)
	opts.Log.Debug("libvirt domain created", "uri", Redact(uri), "name", dom.Name, "id", dom.ID)

	m := &Machine{
		b: b, l: l, dom: dom, uri: uri, spec: spec, log: opts.Log, ttl: opts.CommandTimeout,
		console: opts.Console, writeSlot: make(chan struct{}, 1),
		consoleDone: make(chan struct{}), exitDone: make(chan struct{}),
		life: life, endLife: endLife,
		stopped: make(chan struct{}), exited: make(chan struct{}), ended: make(chan struct{}),
	}
	m.inR, m.inW = io.Pipe()
	m.exitR, m.exitW = io.Pipe()
	m.pid = localPID(uri, dom.Name)

	qemuEvents, err := l.SubscribeQEMUEvents(life, dom.Name)
	if err != nil {
		m.abort()
		return failed(fmt.Errorf("libvirt: start: qemu events: %w", err))
	}
	go m.watch(lifecycle, qemuEvents)
	go m.reap()
	if err := b.track(m); err != nil {
		m.abort()
		return failed(err)
	}

	opened := make(chan struct{})
	go m.runConsole(consoleDevice, m.inR, consoleWriter{m}, opened, m.consoleDone)
	exitOpened := make(chan struct{})
	if spec.Image.DebugExit {
		go m.runConsole(exitDevice, m.exitR, exitWriter{m}, exitOpened, m.exitDone)
	} else {
		close(exitOpened)
		close(m.exitDone)
	}
	for _, ch := range []chan struct{}{opened, exitOpened} {
		select {
		case <-ch:
		case <-m.stopped:
			m.abort()
			return nil, &vm.StartError{Argv: argv, Stderr: m.stopDetail, Err: vm.ErrExited}
		case <-ctx.Done():
			m.abort()
			return nil, &vm.StartError{Argv: argv, Err: fmt.Errorf("libvirt: open consoles: %w", ctx.Err())}
		}
	}
	if spec.GDB != "" {
		if err := m.GDBServer(ctx, spec.GDB); err != nil {
			m.abort()
			return failed(fmt.Errorf("libvirt: start: %w", err))
		}
	}
	if !spec.StartPaused {
		if err := l.DomainResume(dom); err != nil {
			m.abort()
			return nil, &vm.StartError{Argv: argv, Err: fmt.Errorf("libvirt: start: resume: %w", err)}
		}
	}
	return m, nil
}

// abort ends a machine whose start failed and waits until it is gone.
func (m *Machine) abort() {
	m.stopRequested.Store(true)
	_ = m.Stop(context.Background())
}

// localPID returns the QEMU process id of a domain of a daemon on this
// machine, from libvirtd's pid file; 0 when the daemon is remote or the
// file cannot be read.
func localPID(uri, name string) int {
	u, err := url.Parse(uri)
	if err != nil || u.Host != "" {
		return 0
	}
	b, err := os.ReadFile(qemuPIDDir + "/" + name + ".pid")
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// openSignal is a console's input as go-libvirt reads it: its first Read
// comes once the console stream is open, which it signals.
type openSignal struct {
	r      io.Reader
	opened chan struct{}
	once   sync.Once
}

func (o *openSignal) Read(p []byte) (int, error) {
	o.once.Do(func() { close(o.opened) })
	return o.r.Read(p)
}

// runConsole holds the console stream of device until it ends: when the
// domain's pty closes, or input reaches EOF.
func (m *Machine) runConsole(device string, in io.Reader, out io.Writer, opened, done chan struct{}) {
	defer close(done)
	err := m.l.DomainOpenConsoleBidirectional(m.dom, golibvirt.OptString{device}, &openSignal{r: in, opened: opened}, out, 0)
	m.log.Debug("libvirt console ended", "device", device, "err", err)
}

// consoleWriter hands the guest's serial output to StartOptions.Console.
type consoleWriter struct{ m *Machine }

func (w consoleWriter) Write(p []byte) (int, error) {
	m := w.m
	m.lastOutput.Store(time.Now().UnixNano())
	if m.biosReset.Load() == biosResetPending && m.biosReset.CompareAndSwap(biosResetPending, biosResetRestoring) {
		// The guest runs again after a Reset: its own resets end the
		// boot from now on. Off the console's path: it is a round trip.
		go func() {
			if err := m.restoreRebootAction(); err != nil {
				m.log.Warn("restore the reboot action after a reset", "err", err)
			}
			m.biosReset.Store(0)
		}()
	}
	if !m.broken.Load() {
		if _, err := m.console.Write(p); err != nil {
			// Keep reading so that the guest never blocks on its console.
			m.broken.Store(true)
			m.log.Warn("console writer failed; discarding console output", "err", err)
		}
	}
	return len(p), nil
}

// exitWriter receives what the guest writes to the isa-debugcon at
// isa-debug-exit's port: its exit code.
type exitWriter struct{ m *Machine }

func (w exitWriter) Write(p []byte) (int, error) {
	if len(p) > 0 {
		code := p[0]
		w.m.exitOnce.Do(func() { go w.m.guestExit(code) })
	}
	return len(p), nil
}

// guestExit ends the boot as isa-debug-exit would have: the guest is
// paused at once (isa-debugcon does not stop it), its console drained,
// the exit recorded with the status QEMU would have exited with,
// (code<<1)|1, and the domain destroyed.
func (m *Machine) guestExit(code byte) {
	if err := m.l.DomainSuspend(m.dom); err != nil {
		m.log.Debug("libvirt suspend after guest exit", "err", err)
	}
	m.settleConsole()
	status := (int(code)<<1 | 1) & 0xff
	m.end(image.Outcome{Kind: image.QEMUExited, Status: status,
		Detail: fmt.Sprintf("guest wrote %d to isa-debug-exit (port %#x)", code, debugExitPort)})
	m.destroy()
}

// settleConsole waits until the console has been silent for
// consoleQuiet, at most consoleSettleLimit.
func (m *Machine) settleConsole() {
	deadline := time.Now().Add(consoleSettleLimit)
	for time.Now().Before(deadline) && !isClosed(m.consoleDone) {
		quiet := time.Since(time.Unix(0, m.lastOutput.Load()))
		if quiet >= consoleQuiet {
			return
		}
		time.Sleep(consoleQuiet - quiet)
	}
}

// watch turns libvirt's lifecycle events and QEMU's own events into the
// boot's end and the domain's stop.
func (m *Machine) watch(lifecycle <-chan golibvirt.DomainEventLifecycleMsg, qemu <-chan golibvirt.DomainEvent) {
	disconnected := m.l.Disconnected()
	for lifecycle != nil || qemu != nil {
		select {
		case ev, ok := <-lifecycle:
			if !ok {
				lifecycle = nil
				continue
			}
			m.log.Debug("libvirt lifecycle event", "event", ev.Event, "detail", ev.Detail)
			switch golibvirt.DomainEventType(ev.Event) {
			case golibvirt.DomainEventStopped:
				m.markStopped("domain stopped: " + stoppedDetail(ev.Detail))
			case golibvirt.DomainEventCrashed:
				m.endFrozen(image.Outcome{Kind: image.GuestPanicked, Status: -1, Detail: "guest panicked"})
			case golibvirt.DomainEventShutdown:
				if golibvirt.DomainEventShutdownDetailType(ev.Detail) == golibvirt.DomainEventShutdownGuest {
					m.end(image.Outcome{Kind: image.GuestShutdown, Status: -1, Detail: "guest-shutdown"})
				}
			}
		case ev, ok := <-qemu:
			if !ok {
				qemu = nil
				continue
			}
			m.log.Debug("qemu event", "event", ev.Event, "data", string(ev.Details))
			m.qemuEvent(ev.Event, ev.Details)
		case <-disconnected:
			m.markStopped("libvirt connection lost")
			disconnected = nil
		case <-m.life.Done():
			// go-libvirt's subscription ends with life, after handing over
			// an event it may hold: take it, so that it can end.
			go func() {
				for range qemu {
				}
			}()
			return
		}
	}
}

// qemuEvent handles one QMP event, as vm/qemu does, where libvirt
// forwards it.
func (m *Machine) qemuEvent(name string, raw []byte) {
	var data map[string]any
	_ = json.Unmarshal(raw, &data)
	switch name {
	case "RESET":
		// The firmware's reboots that follow a Reset (see Reset) are
		// let through until the guest writes to its console again.
		if guest, _ := data["guest"].(bool); guest && m.biosReset.Load() == biosResetPending {
			m.log.Debug("firmware reboot after a reset")
		}
	case "GUEST_PANICKED":
		m.endFrozen(image.Outcome{Kind: image.GuestPanicked, Status: -1, Detail: panicDetail(data)})
	case "SHUTDOWN":
		guest, _ := data["guest"].(bool)
		reason, _ := data["reason"].(string)
		if !guest {
			return
		}
		switch reason {
		case "guest-reset":
			m.end(image.Outcome{Kind: image.GuestReset, Status: -1, Detail: reason})
		case "guest-shutdown":
			m.end(image.Outcome{Kind: image.GuestShutdown, Status: -1, Detail: reason})
		case "guest-panic":
			m.end(image.Outcome{Kind: image.GuestPanicked, Status: -1, Detail: reason})
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

// stoppedDetail names the reason of a STOPPED lifecycle event.
func stoppedDetail(detail int32) string {
	switch golibvirt.DomainEventStoppedDetailType(detail) {
	case golibvirt.DomainEventStoppedShutdown:
		return "shutdown"
	case golibvirt.DomainEventStoppedDestroyed:
		return "destroyed"
	case golibvirt.DomainEventStoppedCrashed:
		return "QEMU exited"
	case golibvirt.DomainEventStoppedFailed:
		return "failed"
	default:
		return "reason " + strconv.Itoa(int(detail))
	}
}

// markStopped records that the domain is gone.
func (m *Machine) markStopped(detail string) {
	m.stoppedOnce.Do(func() {
		m.stopDetail = detail
		close(m.stopped)
	})
}

// reap waits for the domain to be gone, lets its consoles end, records
// the end of the boot (unless one was recorded before), closes its gdb
// tunnel, gives its port forwards back to the Backend and then closes
// Exited. The connection stays: it is the Backend's.
func (m *Machine) reap() {
	<-m.stopped
	drain := time.NewTimer(consoleDrainLimit)
	for _, ch := range []chan struct{}{m.consoleDone, m.exitDone} {
		select {
		case <-ch:
		case <-drain.C:
		}
	}
	drain.Stop()
	out := image.Outcome{Kind: image.QEMUExited, Status: -1, Detail: m.stopDetail}
	if m.stopRequested.Load() {
		out = image.Outcome{Kind: image.StoppedByHost, Status: -1, Detail: "stopped by ukdev"}
	}
	m.end(out)
	m.endLife()
	go m.closeConsolesLater()
	m.gdbMu.Lock()
	m.gdbDone = true
	if m.gdb != nil {
		_ = m.gdb.Close()
		m.gdb = nil
	}
	m.gdbMu.Unlock()
	m.b.untrack(m)
	close(m.exited)
}

// endFrozen records the end of a boot whose domain stays, paused, once
// the console has drained.
func (m *Machine) endFrozen(o image.Outcome) {
	m.settleConsole()
	m.end(o)
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
	m.log.Debug("boot ended", "kind", o.Kind, "status", o.Status, "detail", o.Detail)
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

// Name returns the domain's name on the libvirt host.
func (m *Machine) Name() string { return m.dom.Name }

// URI returns the libvirt URI the domain runs under.
func (m *Machine) URI() string { return m.uri }

// PID returns the QEMU process id when the daemon runs on this machine,
// else 0: libvirt does not tell a remote QEMU's.
func (m *Machine) PID() int { return m.pid }

// Ended returns a channel closed when the current boot has ended.
func (m *Machine) Ended() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ended
}

// HasEnded reports, without blocking, whether Ended is closed.
func (m *Machine) HasEnded() bool { return isClosed(m.Ended()) }

// Outcome returns how the current boot ended; valid once Ended is closed.
func (m *Machine) Outcome() image.Outcome {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.outcome
}

// Exited returns a channel closed once the domain is gone and its
// consoles ended (the connection stays: it is the Backend's).
func (m *Machine) Exited() <-chan struct{} { return m.exited }

// Stderr returns why the domain stopped, once it has: QEMU's own standard
// error stays in its log on the libvirt host.
func (m *Machine) Stderr() string {
	if isClosed(m.stopped) {
		return m.stopDetail
	}
	return ""
}

// WriteConsole writes bytes to the guest's serial input through the
// console stream. It fails with an error wrapping os.ErrDeadlineExceeded
// when the input has not been taken for a while, and vm.ErrExited once the
// domain is gone.
func (m *Machine) WriteConsole(p []byte) (int, error) {
	if isClosed(m.exited) {
		return 0, fmt.Errorf("libvirt: write console: %w", vm.ErrExited)
	}
	timer := time.NewTimer(consoleWriteTimeout)
	defer timer.Stop()
	select {
	case m.writeSlot <- struct{}{}:
	case <-timer.C:
		return 0, fmt.Errorf("libvirt: write console: %w", os.ErrDeadlineExceeded)
	case <-m.exited:
		return 0, fmt.Errorf("libvirt: write console: %w", vm.ErrExited)
	}
	buf := append([]byte(nil), p...)
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := m.inW.Write(buf)
		<-m.writeSlot
		done <- result{n, err}
	}()
	select {
	case r := <-done:
		if errors.Is(r.err, io.ErrClosedPipe) {
			return r.n, fmt.Errorf("libvirt: write console: %w", vm.ErrExited)
		}
		if r.err != nil {
			return r.n, fmt.Errorf("libvirt: write console: %w", r.err)
		}
		return r.n, nil
	case <-timer.C:
		return 0, fmt.Errorf("libvirt: write console: %w", os.ErrDeadlineExceeded)
	case <-m.exited:
		return 0, fmt.Errorf("libvirt: write console: %w", vm.ErrExited)
	}
}

// call runs f, one libvirt RPC, giving up when ctx (bounded by the
// command timeout) ends or the domain is gone; go-libvirt's calls take
// no context, so a call given up on finishes in the background.
func (m *Machine) call(ctx context.Context, op string, f func() error) error {
	if isClosed(m.exited) {
		return fmt.Errorf("libvirt: %s: %w", op, vm.ErrExited)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, m.ttl)
		defer cancel()
	}
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		if err == nil {
			return nil
		}
		if isError(err, golibvirt.ErrNoDomain) || isError(err, golibvirt.ErrOperationInvalid) && isClosed(m.stopped) || isClosed(m.exited) {
			return fmt.Errorf("libvirt: %s: %w", op, errors.Join(vm.ErrExited, err))
		}
		return fmt.Errorf("libvirt: %s: %w", op, err)
	case <-ctx.Done():
		return fmt.Errorf("libvirt: %s: %w", op, ctx.Err())
	case <-m.exited:
		return fmt.Errorf("libvirt: %s: %w", op, vm.ErrExited)
	}
}

// Execute runs a QMP command through libvirt's QEMU monitor passthrough
// and returns its "return" value; an error reply is a *qmpcmd.Error. It
// implements qmpcmd.Executor.
func (m *Machine) Execute(ctx context.Context, name string, args any) (json.RawMessage, error) {
	cmd := struct {
		Execute string `json:"execute"`
		Args    any    `json:"arguments,omitempty"`
	}{name, args}
	b, err := json.Marshal(cmd)
	if err != nil {
		return nil, fmt.Errorf("libvirt: qmp %s: encode: %w", name, err)
	}
	var reply string
	if err := m.call(ctx, "qmp "+name, func() error {
		var err error
		reply, err = m.l.QEMUDomainMonitorCommand(m.dom, string(b), 0)
		return err
	}); err != nil {
		return nil, err
	}
	return qmpcmd.DecodeReply(name, []byte(reply))
}

// Status returns QEMU's run state (query-status): vm.StatusRunning,
// vm.StatusPaused, "guest-panicked"...
func (m *Machine) Status(ctx context.Context) (string, error) { return qmpcmd.Status(ctx, m) }

// Pause pauses the guest (virDomainSuspend).
func (m *Machine) Pause(ctx context.Context) error {
	return m.call(ctx, "pause", func() error { return m.l.DomainSuspend(m.dom) })
}

// Resume starts a guest started paused, or resumes a paused one
// (virDomainResume).
func (m *Machine) Resume(ctx context.Context) error {
	return m.call(ctx, "resume", func() error { return m.l.DomainResume(m.dom) })
}

// Reset reboots the guest in the same domain. libvirt runs QEMU with
// -no-reboot (on_reboot destroy), which turns system_reset into a
// shutdown too, and a shutdown ends the domain; as vm/qemu does, the
// reboot action is switched to reset around the command. A guest paused
// after a panic restarts, and its boot counts as a new one.
//
// On pc and q35, SeaBIOS answers a warm reset with a reboot of its own
// (through port 0xcf9) to start from a clean machine: a guest reset that
// would end the domain (sometimes more than one, under load). There the
// reboot action goes back to shutdown only once the guest writes to its
// console again, or after biosResetLimit.
func (m *Machine) Reset(ctx context.Context) error {
	before, err := m.Status(ctx)
	if err != nil {
		return fmt.Errorf("libvirt: reset: %w", err)
	}
	if _, err := m.Execute(ctx, "set-action", map[string]string{"reboot": "reset"}); err != nil {
		return fmt.Errorf("libvirt: reset: %w", err)
	}
	bios := m.spec.MachineType() != "microvm"
	if bios {
		m.biosReset.Store(biosResetPending)
	}
	_, resetErr := m.Execute(ctx, "system_reset", nil)
	if resetErr != nil || !bios {
		if err := m.restoreRebootAction(); err != nil {
			return fmt.Errorf("libvirt: reset: restore reboot action: %w", errors.Join(resetErr, err))
		}
	} else {
		time.AfterFunc(biosResetLimit, func() {
			if m.biosReset.CompareAndSwap(biosResetPending, biosResetRestoring) {
				m.log.Warn("no firmware reboot after a reset; reboot action restored")
				_ = m.restoreRebootAction()
				m.biosReset.Store(0)
			}
		})
	}
	if resetErr != nil {
		return fmt.Errorf("libvirt: reset: %w", resetErr)
	}
	if before != "guest-panicked" {
		return nil
	}
	wait, cancelWait := context.WithTimeout(ctx, m.ttl)
	defer cancelWait()
	for {
		s, err := m.Status(wait)
		if err != nil {
			return fmt.Errorf("libvirt: reset: %w", err)
		}
		if s != "guest-panicked" {
			break
		}
		select {
		case <-wait.Done():
			return fmt.Errorf("libvirt: reset: the guest stays panicked: %w", wait.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
	m.mu.Lock()
	if m.hasEnded && m.outcome.Kind == image.GuestPanicked {
		m.hasEnded = false
		m.outcome = image.Outcome{}
		m.ended = make(chan struct{})
	}
	m.mu.Unlock()
	if _, err := m.Execute(ctx, "cont", nil); err != nil {
		return fmt.Errorf("libvirt: reset: %w", err)
	}
	return nil
}

// biosResetLimit bounds the wait for the firmware's reboot after a Reset.
const biosResetLimit = 30 * time.Second

// The states of Machine.biosReset.
const (
	biosResetPending   = 1
	biosResetRestoring = 2
)

// restoreRebootAction makes a guest reset end the boot again.
func (m *Machine) restoreRebootAction() error {
	ctx, cancel := context.WithTimeout(m.life, m.ttl)
	defer cancel()
	_, err := m.Execute(ctx, "set-action", map[string]string{"reboot": "shutdown"})
	return err
}

// ReadMemory reads guest memory with virDomainMemoryPeek, a physical
// address or with virtual a virtual one through vCPU 0's page tables, in
// chunks of at most 64 KiB.
func (m *Machine) ReadMemory(ctx context.Context, addr, size uint64, virtual bool) ([]byte, error) {
	flags := golibvirt.MemoryPhysical
	if virtual {
		flags = golibvirt.MemoryVirtual
	}
	out := make([]byte, 0, size)
	for off := uint64(0); off < size; {
		n := min(size-off, peekChunk)
		var chunk []byte
		err := m.call(ctx, "memory peek", func() error {
			var err error
			chunk, err = m.l.DomainMemoryPeek(m.dom, addr+off, uint32(n), flags)
			return err
		})
		if err != nil {
			return nil, err
		}
		if uint64(len(chunk)) != n {
			return nil, fmt.Errorf("libvirt: memory peek at %#x: got %d bytes, want %d", addr+off, len(chunk), n)
		}
		out = append(out, chunk...)
		off += n
	}
	return out, nil
}

// MemorySize returns the guest's RAM in bytes (QMP, see qmpcmd.MemorySize).
func (m *Machine) MemorySize(ctx context.Context) (uint64, error) { return qmpcmd.MemorySize(ctx, m) }

// BalloonStats returns the balloon's size and the guest's statistics (QMP,
// see qmpcmd.Balloon.Stats).
func (m *Machine) BalloonStats(ctx context.Context) (vm.BalloonStats, error) {
	return m.balloon.Stats(ctx, m)
}

// Registers returns vCPU 0's registers (HMP info registers through QMP).
func (m *Machine) Registers(ctx context.Context) (vm.Registers, error) {
	return qmpcmd.Registers(ctx, m)
}

// Sample asks QEMU for the guest's vCPU threads (threads of the host's
// QEMU), block traffic, dirty rate and KVM counters (see
// qmpcmd.Sampler.Sample).
func (m *Machine) Sample(ctx context.Context) (vm.Sample, error) {
	return m.sampling.Sample(ctx, m, m.spec.Accel == "kvm")
}

// HostStats returns what libvirt says of the domain's QEMU process: its
// CPU time (virDomainGetInfo) and resident set (virDomainMemoryStats
// rss). The domain's id stands for the process start time, so that two
// snapshots of different boots never compare. An error wraps
// fs.ErrNotExist once the domain is gone.
func (m *Machine) HostStats() (vm.HostStats, error) {
	if isClosed(m.exited) {
		return vm.HostStats{}, fmt.Errorf("libvirt: host stats: %w", fs.ErrNotExist)
	}
	var cpuTime uint64
	var stats []golibvirt.DomainMemoryStat
	err := m.call(context.Background(), "host stats", func() error {
		var err error
		if _, _, _, _, cpuTime, err = m.l.DomainGetInfo(m.dom); err != nil {
			return err
		}
		stats, err = m.l.DomainMemoryStats(m.dom, uint32(golibvirt.DomainMemoryStatNr), 0)
		return err
	})
	if err != nil {
		if errors.Is(err, vm.ErrExited) {
			return vm.HostStats{}, fmt.Errorf("libvirt: host stats: %w", errors.Join(fs.ErrNotExist, err))
		}
		return vm.HostStats{}, err
	}
	hs := vm.HostStats{PID: m.pid, StartTicks: uint64(m.dom.ID), UserTicks: cpuTime / uint64(10*time.Millisecond), State: "R"}
	for _, s := range stats {
		if golibvirt.DomainMemoryStatTags(s.Tag) == golibvirt.DomainMemoryStatRss {
			hs.RSSBytes = s.Val << 10
		}
	}
	return hs, nil
}

// Stop destroys the domain (libvirt sends QEMU SIGTERM, then SIGKILL) and
// returns once it is gone and Exited closed; when ctx ends first it stops
// waiting for the daemon's answer (the destroy goes on in the background,
// and the domain goes at the latest with the Backend's connection).
// Idempotent and safe to call concurrently.
// The boot's outcome becomes StoppedByHost unless one was recorded before.
func (m *Machine) Stop(ctx context.Context) error {
	m.stopRequested.Store(true)
	m.stopOnce.Do(func() { go m.destroy() })
	select {
	case <-m.exited:
	case <-ctx.Done():
		// The daemon did not answer in time. The domain was started
		// auto-destroyed: it goes with the Backend's connection at the
		// latest.
		m.markStopped("libvirt did not answer the destroy")
		<-m.exited
	}
	return nil
}

// destroyAttempts bounds how often destroy asks libvirt before it gives
// up; libvirt's own destroy fails, for one, when QEMU does not die of
// SIGKILL within its own limit (a process stuck in the kernel).
const destroyAttempts = 5

// closeInput ends the console streams' input: go-libvirt then finishes
// each stream from this side. Idempotent.
func (m *Machine) closeInput() {
	m.inputOnce.Do(func() {
		_ = m.inW.Close()
		_ = m.exitW.Close()
	})
}

// closeConsoles finishes the console streams from this side while the
// domain still runs, and waits for libvirt to close them, at most
// consoleDrainLimit. It comes before a destroy: libvirt 9.0 deadlocks
// (the whole daemon) when a console stream is finished while the domain
// that owns it is being freed, since virStreamFinish and virChrdevFree
// take the stream's lock and the consoles' lock in opposite orders. A
// stream libvirt already ended (the domain stopped by itself) is left to
// closeConsolesLater.
func (m *Machine) closeConsoles() {
	if isClosed(m.consoleDone) {
		return
	}
	m.closeInput()
	limit := time.NewTimer(consoleDrainLimit)
	defer limit.Stop()
	for _, ch := range []chan struct{}{m.consoleDone, m.exitDone} {
		select {
		case <-ch:
		case <-limit.C:
			return
		}
	}
}

// closeConsolesLater ends the console streams' input of a machine that
// has stopped, once its domain is gone from libvirt (plus a moment for
// the daemon to free it) or the connection closed: finishing a stream
// of a domain being freed deadlocks libvirt 9.0 (see closeConsoles).
// Until then the goroutine go-libvirt reads the input with waits on it.
func (m *Machine) closeConsolesLater() {
	defer m.closeInput()
	deadline := time.Now().Add(domainGoneLimit)
	for time.Now().Before(deadline) {
		if isClosed(m.l.Disconnected()) {
			return
		}
		if _, err := m.l.DomainLookupByUUID(m.dom.UUID); isError(err, golibvirt.ErrNoDomain) {
			break
		}
		select {
		case <-m.l.Disconnected():
			return
		case <-time.After(200 * time.Millisecond): // polling: libvirt has no event for a freed domain
		}
	}
	select {
	case <-m.l.Disconnected():
	case <-time.After(domainFreedDelay):
	}
}

// destroy destroys the domain and marks it gone. A destroy libvirt
// refuses is tried again a few times: a domain left running would hold
// its forwarded host port, and the host's memory, until ukdev ends and
// its connection takes the domain with it.
func (m *Machine) destroy() {
	if isClosed(m.stopped) {
		return
	}
	m.closeConsoles()
	var err error
	for attempt := 1; attempt <= destroyAttempts; attempt++ {
		err = m.l.DomainDestroy(m.dom)
		switch {
		case err == nil:
			m.markStopped("domain destroyed")
			return
		case isError(err, golibvirt.ErrNoDomain):
			m.markStopped("domain gone")
			return
		case isClosed(m.l.Disconnected()):
			// The connection is gone, and the domain with it (started
			// auto-destroyed).
			m.markStopped("connection to libvirt closed")
			return
		}
		m.log.Warn("libvirt destroy", "attempt", attempt, "err", err)
		time.Sleep(time.Duration(attempt) * 500 * time.Millisecond)
	}
	m.markStopped("destroy failed: " + err.Error())
}
