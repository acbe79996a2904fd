package devloop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ukdev/ukdev/builder"
	"github.com/ukdev/ukdev/crash"
	"github.com/ukdev/ukdev/flavor"
	"github.com/ukdev/ukdev/guestexit"
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/logs"
	"github.com/ukdev/ukdev/project"
	"github.com/ukdev/ukdev/vm"
	"github.com/ukdev/ukdev/watcher"
)

// Options configure a Loop.
type Options struct {
	// Config is the loaded project configuration. Required.
	Config *project.Config
	// Log receives ukdev's own diagnostics; nil discards them.
	Log *slog.Logger
	// Once makes the loop build if needed, boot once, and end with the
	// boot (ukdev run). Without it the loop watches and reloads (ukdev dev).
	Once bool
	// Backend starts the machines (vm/qemu's Backend runs QEMU). Required.
	Backend vm.Backend
	// Accel, when set, skips the accelerator probe.
	Accel *vm.Accel
	// StateDir and RuntimeDir override the project's directories (tests).
	StateDir, RuntimeDir string
	// BuildSupervisor is the executable that supervises each build so
	// that it dies with ukdev (builder.Builder.Supervisor); empty runs
	// builds without one.
	BuildSupervisor string
	// EventBuffer is the capacity of the events channel; default 8192.
	// Console lines are dropped (and counted) when it is full; other events
	// wait for the reader.
	EventBuffer int
}

// ErrNoImage is returned by Run in Once mode when no boot happened.
var ErrNoImage = errors.New("devloop: no image to boot")

// Loop is ukdev's inner loop. Create it with New, read Events, and call Run
// once; the command methods (Reboot, Rebuild, ...) may be called from any
// goroutine while Run runs.
type Loop struct {
	cfg    *project.Config // completed by the flavor (ops' ports and memory)
	notes  []string        // what the flavor's own config says ukdev ignores
	syslog *syslogSink     // the guest's syslog receiver, nil when it ships none
	opts   Options
	log    *slog.Logger
	flavor flavor.Kernel

	events   chan Event
	closeMu  sync.RWMutex // guards closed: emitters hold it for reading
	closed   bool
	dropped  atomic.Int64
	cmds     chan command
	info     atomic.Pointer[VMInfo] // the live VM (running, or frozen after a crash), for inspection
	liveMu   sync.Mutex             // guards inspect
	inspect  vm.Machine             // the VM info describes
	inputMu  sync.Mutex             // serialises console input; guards the fields below
	running  vm.Machine             // the current boot's machine, for console input
	input    []byte                 // console input waiting for a VM
	starting vm.Machine             // a new boot that has not written to its console yet
	typing   vm.Machine             // the VM the queued input is being typed into
	room     chan struct{}          // closed when queued input is taken (InputRoom)

	lock     *Lock
	backend  vm.Backend
	builder  *builder.Builder // runs every build; keeps a supervisor ready
	store    *logs.Store
	images   *image.Store
	ring     *logs.Ring
	stateDir string
	runDir   string

	// State below is owned by Run's goroutine.
	accel     vm.Accel
	qemuErr   error // QEMU binary missing
	nextBuild int
	nextBoot  int
	build     *buildState
	pending   *watcher.Change
	current   *bootState
	lastImage *image.Image
	lastExit  *guestexit.Exit
	watchOn   bool
	watch     *watcher.Watcher
	bootEnded chan *bootState
	buildDone chan buildResult
	once      sync.Once
}

type command int

const (
	cmdReboot command = iota + 1
	cmdRebuild
	cmdStopVM
	cmdStartVM
	cmdTogglePause
	cmdToggleWatch
)

type buildState struct {
	n      int
	cancel context.CancelFunc
	change *watcher.Change // what triggered it, for reload timing
	start  time.Time
}

type buildResult struct {
	n      int
	res    builder.Result
	change *watcher.Change
	start  time.Time
}

type bootState struct {
	n, build int
	img      image.Image
	machine  string
	m        vm.Machine
	out      *consoleWriter
	ended    bool
	exit     guestexit.Exit
}

// New prepares a loop for cfg. It opens the log store but starts nothing.
func New(opts Options) (l *Loop, err error) {
	cfg := opts.Config
	if cfg == nil {
		return nil, errors.New("devloop: no config")
	}
	if opts.Backend == nil {
		return nil, errors.New("devloop: no VM backend")
	}
	flavor, cfg, notes, syslog, err := newFlavor(cfg)
	if err != nil {
		return nil, fmt.Errorf("devloop: %w", err)
	}
	defer func() {
		if err != nil && syslog != nil {
			syslog.close()
		}
	}()
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	stateDir := opts.StateDir
	if stateDir == "" {
		if stateDir, err = project.StateDir(cfg); err != nil {
			return nil, fmt.Errorf("devloop: %w", err)
		}
	}
	runDir := opts.RuntimeDir
	if runDir == "" {
		runDir, err = project.RuntimeDir(cfg)
		if err != nil {
			return nil, fmt.Errorf("devloop: %w", err)
		}
	}
	lock, err := lockLoop(cfg.Root, stateDir, log)
	if err != nil {
		return nil, err
	}
	store, err := logs.Open(filepath.Join(stateDir, "boots"), logs.Options{KeepBoots: cfg.Logs.KeepBoots, MaxBytes: cfg.Logs.MaxBytes})
	var warn *logs.IndexWarning
	if errors.As(err, &warn) {
		log.Warn("log index rebuilt", "err", err)
	} else if err != nil {
		lock.Release()
		return nil, fmt.Errorf("devloop: %w", err)
	}
	boot, build, err := store.NextNumbers()
	if err != nil {
		log.Warn("log index", "err", err)
	}
	buf := opts.EventBuffer
	if buf <= 0 {
		buf = 8192
	}
	// The build's settings do not change while the loop runs (a changed
	// ukdev.toml applies on restart), so one Builder serves every build
	// and keeps the next build's supervisor started.
	b := &builder.Builder{Command: cfg.Build.Command, Dir: cfg.Build.Dir, Env: cfg.Build.Environ(), Supervisor: opts.BuildSupervisor}
	return &Loop{
		builder:   b,
		backend:   opts.Backend,
		syslog:    syslog,
		notes:     notes,
		cfg:       cfg,
		opts:      opts,
		log:       log,
		flavor:    flavor,
		lock:      lock,
		events:    make(chan Event, buf),
		cmds:      make(chan command, 16),
		store:     store,
		images:    &image.Store{Dir: filepath.Join(runDir, "images"), Keep: 2},
		ring:      logs.NewRing(10000),
		stateDir:  stateDir,
		runDir:    runDir,
		nextBuild: max(build, 1),
		nextBoot:  max(boot, 1),
		bootEnded: make(chan *bootState, 4),
		buildDone: make(chan buildResult, 1),
		watchOn:   true,
	}, nil
}

// Events is the stream of everything the loop does, closed when Run ends.
func (l *Loop) Events() <-chan Event { return l.events }

// Ring holds the recent lines of every source, for views that need history.
func (l *Loop) Ring() *logs.Ring { return l.ring }

// Store is the per-boot log store.
func (l *Loop) Store() *logs.Store { return l.store }

// StateDir is the project's state directory: where files ukdev writes on
// the user's behalf (saved logs) go. The watcher never reports changes in
// it.
func (l *Loop) StateDir() string { return l.stateDir }

// Reboot restarts the guest on the same build: a QMP system_reset while it
// runs, a fresh QEMU once it has ended.
func (l *Loop) Reboot() { l.send(cmdReboot) }

// Rebuild builds now and boots the result, as a save would.
func (l *Loop) Rebuild() { l.send(cmdRebuild) }

// StopVM stops the running VM; StartVM boots the last image again.
func (l *Loop) StopVM() { l.send(cmdStopVM) }

// StartVM boots the last good image when no VM runs.
func (l *Loop) StartVM() { l.send(cmdStartVM) }

// TogglePause pauses or resumes the running VM.
func (l *Loop) TogglePause() { l.send(cmdTogglePause) }

// ToggleWatch pauses or resumes reacting to file changes.
func (l *Loop) ToggleWatch() { l.send(cmdToggleWatch) }

func (l *Loop) send(c command) {
	select {
	case l.cmds <- c:
	default:
		l.log.Warn("command dropped: queue full", "cmd", c)
	}
}

// ErrInputQueueFull is returned by WriteConsole when no VM takes console
// input and the input waiting for one would pass MaxQueuedInput. Nothing
// of the refused bytes was queued; InputRoom says when to try again.
var ErrInputQueueFull = errors.New("devloop: no VM is running and the console input queue is full")

// MaxQueuedInput is how much console input WriteConsole keeps while no VM
// takes it.
const MaxQueuedInput = 64 << 10

// WriteConsole sends bytes to the running guest's serial console. Input
// that arrives while no VM runs (during the first build, between boots) is
// kept, up to MaxQueuedInput, and typed in as soon as the next boot starts;
// beyond that it is refused whole with ErrInputQueueFull. It is safe to
// call from any goroutine.
func (l *Loop) WriteConsole(p []byte) error {
	l.inputMu.Lock()
	defer l.inputMu.Unlock()
	if m := l.running; m != nil && len(l.input) == 0 {
		_, err := m.WriteConsole(p)
		return err
	}
	if len(l.input)+len(p) > MaxQueuedInput {
		return ErrInputQueueFull
	}
	l.input = append(l.input, p...)
	return nil
}

// InputRoom returns a channel that is closed once some of the queued
// console input has been typed into a VM (at once when nothing is queued):
// a writer refused with ErrInputQueueFull waits on it, then writes again.
func (l *Loop) InputRoom() <-chan struct{} {
	l.inputMu.Lock()
	defer l.inputMu.Unlock()
	if len(l.input) == 0 {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	if l.room == nil {
		l.room = make(chan struct{})
	}
	return l.room
}

// setRunning makes m the VM that console input goes to (nil: none).
func (l *Loop) setRunning(m vm.Machine, info *VMInfo) {
	l.inputMu.Lock()
	defer l.inputMu.Unlock()
	// Console input waits for the guest's first output (see flushInput),
	// or for a second, for a guest that prints nothing.
	l.starting = m
	l.liveMu.Lock()
	l.inspect = m
	l.info.Store(info)
	l.liveMu.Unlock()
	time.AfterFunc(time.Second, func() { l.flushInput(m) })
}

// forget drops m as the VM console input goes to and, when its QEMU is
// gone (gone), as the VM to inspect. A VM frozen after a crash stays
// inspectable until it is replaced or stopped.
func (l *Loop) forget(m vm.Machine, gone bool) {
	l.inputMu.Lock()
	defer l.inputMu.Unlock()
	if l.running == m {
		l.running = nil
	}
	if l.starting == m {
		l.starting = nil
	}
	if l.typing == m {
		// What is still queued waits for the next VM.
		l.typing = nil
	}
	if gone {
		l.liveMu.Lock()
		if l.inspect == m {
			l.inspect = nil
			l.info.Store(nil)
		}
		l.liveMu.Unlock()
	}
}

// flushInput makes m the VM console input goes to, and types in the input
// queued while none could take it. It runs when m first writes to its
// console: by then the guest has set up its serial port, which could have
// dropped bytes sent earlier (a 16550's FIFO reset does).
func (l *Loop) flushInput(m vm.Machine) {
	l.inputMu.Lock()
	defer l.inputMu.Unlock()
	if l.starting != m {
		return
	}
	l.starting = nil
	if len(l.input) == 0 {
		l.running = m
		return
	}
	// A typer still on an older VM stops at its next piece.
	l.typing = m
	go l.typeQueued(m)
}

// typePiece is the most queued input typed in one write: a guest that
// takes its UART's bytes one at a time reads about 20 KB/s under TCG, and
// each write must end within the console's write deadline.
const typePiece = 4 << 10

// typeQueued types the queued console input into m a piece at a time,
// from its own goroutine so that m's console output (which called
// flushInput) keeps flowing meanwhile. Input written while it runs queues
// behind the rest; once the queue is empty, m takes input directly. A
// failed write drops what is queued: quietly (in ukdev's log) when the VM
// has ended, with an error event when it does not read its input.
func (l *Loop) typeQueued(m vm.Machine) {
	for {
		l.inputMu.Lock()
		if l.typing != m {
			l.inputMu.Unlock()
			return
		}
		if len(l.input) == 0 {
			l.typing = nil
			l.input = nil
			l.running = m
			l.inputMu.Unlock()
			return
		}
		n := min(len(l.input), typePiece)
		piece := l.input[:n:n] // owned here: later appends go past it
		l.input = l.input[n:]
		l.freeRoom()
		l.inputMu.Unlock()

		if _, err := m.WriteConsole(piece); err != nil {
			l.inputMu.Lock()
			mine := l.typing == m
			dropped := len(piece)
			if mine {
				dropped += len(l.input)
				l.input = nil
				l.typing = nil
				// Later input goes straight to m, and fails on its own.
				l.running = m
				l.freeRoom()
			}
			l.inputMu.Unlock()
			if !mine || errors.Is(err, vm.ErrExited) {
				l.log.Warn("queued console input dropped", "err", err, "bytes", dropped)
				return
			}
			l.errorf("console input: %d queued bytes dropped: %v", dropped, err)
			return
		}
	}
}

// freeRoom wakes the writers waiting on InputRoom. The caller holds
// inputMu.
func (l *Loop) freeRoom() {
	if l.room != nil {
		close(l.room)
		l.room = nil
	}
}

// emit delivers an event, waiting for the reader.
func (l *Loop) emit(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	l.closeMu.RLock()
	defer l.closeMu.RUnlock()
	if !l.closed {
		l.events <- e
	}
}

// closeEvents ends the event stream; later emits are discarded.
func (l *Loop) closeEvents() {
	l.closeMu.Lock()
	defer l.closeMu.Unlock()
	l.closed = true
	close(l.events)
}

// emitConsole delivers a console line without ever blocking the VM: when
// the reader lags, lines are dropped and counted (they stay in the log file).
func (l *Loop) emitConsole(e Event) {
	l.closeMu.RLock()
	defer l.closeMu.RUnlock()
	if l.closed {
		return
	}
	if n := l.dropped.Swap(0); n > 0 {
		select {
		case l.events <- Event{Time: e.Time, Type: TypeVMDropped, Boot: e.Boot, Count: int(n),
			Message: fmt.Sprintf("%d console lines not shown (reader too slow); they are in the boot log", n)}:
		default:
			l.dropped.Add(n + 1)
			return
		}
	}
	select {
	case l.events <- e:
	default:
		l.dropped.Add(1)
	}
}

func (l *Loop) errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.log.Error(msg)
	l.emit(Event{Type: TypeError, Message: msg})
}

// Run runs the loop until ctx is done (or, with Once, until the boot ends),
// then stops the VM and any build, and closes Events. With Once it returns
// the boot's decoded exit.
func (l *Loop) Run(ctx context.Context) (exit guestexit.Exit, err error) {
	defer l.lock.Release()
	defer l.closeEvents()
	defer l.shutdown()

	cfg := l.cfg
	buildFirst := !l.opts.Once || l.buildNeeded()
	if buildFirst && cfg.Build.Command != "" {
		// Started while QEMU's accelerator is probed: ready for the first
		// build. shutdown closes it.
		l.builder.Prestart()
	}
	l.emit(Event{Type: TypeStart, Message: fmt.Sprintf("project %s (%s) in %s", cfg.Name, cfg.Flavor, cfg.Root)})
	for _, n := range l.notes {
		l.emit(Event{Type: TypeConfigWarning, Message: n})
	}
	if l.syslog != nil {
		go l.syslog.run(l)
	}
	if err := l.backend.Installed(cfg.VM.QEMU); err != nil {
		l.qemuErr = fmt.Errorf("QEMU not found: %q is not on PATH; install it (Debian: apt-get install qemu-system-x86) or set vm.qemu in %s", cfg.VM.QEMU, cfg.Path)
		l.errorf("%v", l.qemuErr)
	} else {
		l.accel = l.resolveAccel(ctx)
		l.emit(Event{Type: TypeAccel, Accel: l.accel.Name, Detail: l.accel.Reason,
			Message: fmt.Sprintf("accel %s: %s", l.accel.Name, l.accel.Reason)})
	}

	if !l.opts.Once {
		if err := l.startWatcher(ctx); err != nil {
			l.errorf("%v", err)
		}
	}

	if !buildFirst {
		n := l.nextBuild
		l.nextBuild++
		l.prepareAndBoot(ctx, n, nil)
	} else {
		l.startBuild(ctx, nil)
	}

	var changes <-chan watcher.Change
	var warnings <-chan string
	if l.watch != nil {
		changes = l.watch.Changes()
		warnings = l.watch.Warnings()
	}
	for {
		if l.opts.Once && l.build == nil && l.current == nil {
			if l.lastExit == nil {
				return guestexit.Exit{}, ErrNoImage
			}
			return *l.lastExit, nil
		}
		select {
		case <-ctx.Done():
			return guestexit.Exit{}, nil
		case c, ok := <-changes:
			if !ok {
				changes = nil
				continue
			}
			l.onChange(ctx, c)
		case w, ok := <-warnings:
			if !ok {
				warnings = nil
				continue
			}
			l.emit(Event{Type: TypeWatchWarning, Message: w})
		case r := <-l.buildDone:
			l.onBuildDone(ctx, r)
		case b := <-l.bootEnded:
			l.onBootEnded(b)
		case c := <-l.cmds:
			l.onCommand(ctx, c)
		}
	}
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

func (l *Loop) watchOptions() watcher.Options {
	cfg := l.cfg
	var ignore []string
	for _, p := range []string{cfg.Kernel.Image, cfg.Kernel.Initrd, cfg.Kernel.Symbols} {
		if p != "" {
			ignore = append(ignore, p)
		}
	}
	// ukdev's own directories may lie inside the tree (XDG_STATE_HOME=./state):
	// nothing ukdev writes there may start a build. Those outside the root
	// are left out by the watcher itself.
	for _, d := range []string{l.stateDir, l.runDir} {
		if d != "" && filepath.Clean(d) != filepath.Clean(cfg.Root) {
			ignore = append(ignore, d)
		}
	}
	patterns := cfg.Watch.Ignore
	if rel, err := filepath.Rel(cfg.Root, cfg.Kernel.Image); err == nil && cfg.Kernel.Image != "" && !strings.HasPrefix(rel, "..") {
		// go build -o X writes X-go-tmp-umask first: part of the output too.
		patterns = append(append([]string(nil), patterns...), "/"+filepath.ToSlash(rel)+"-go-tmp-*")
	}
	return watcher.Options{
		Root:        cfg.Root,
		Paths:       cfg.Watch.Paths,
		Ignore:      patterns,
		IgnorePaths: ignore,
		Debounce:    cfg.Watch.Debounce,
		MaxWait:     cfg.Watch.MaxWait,
	}
}

func (l *Loop) startWatcher(ctx context.Context) error {
	w, err := watcher.New(l.watchOptions())
	if err != nil {
		return err
	}
	l.watch = w
	go func() {
		if err := w.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			l.log.Error("watcher", "err", err)
		}
	}()
	var rel []string
	for _, p := range l.cfg.Watch.Paths {
		if r, err := filepath.Rel(l.cfg.Root, p); err == nil {
			p = r
		}
		rel = append(rel, p)
	}
	l.emit(Event{Type: TypeWatchStart, Paths: rel, Message: "watching " + strings.Join(rel, ", ")})
	return nil
}

// configFiles maps the root-relative paths of the files ukdev read its
// settings from (ukdev.toml, ops' config.json) to their names.
func (l *Loop) configFiles() map[string]string {
	files := map[string]string{}
	for _, p := range []string{l.cfg.Path, l.cfg.Nanos.Config} {
		if p == "" {
			continue
		}
		if rel, err := filepath.Rel(l.cfg.Root, p); err == nil {
			files[filepath.ToSlash(rel)] = filepath.Base(p)
		}
	}
	return files
}

// buildNeeded reports whether ukdev run must build first: the image is
// missing or a watched source is newer.
func (l *Loop) buildNeeded() bool {
	if l.cfg.Build.Command == "" {
		return false
	}
	st, err := os.Stat(l.artifacts().Kernel)
	if err != nil {
		return true
	}
	newest, _, err := watcher.NewestChange(l.watchOptions())
	if err != nil {
		return true
	}
	return newest.After(st.ModTime())
}

func (l *Loop) onChange(ctx context.Context, c watcher.Change) {
	msg := fmt.Sprintf("%d files changed", c.Count)
	switch {
	case c.Count == 1 && len(c.Paths) == 1:
		msg = c.Paths[0] + " changed"
	case c.Count < 0:
		msg = "many files changed"
	case len(c.Paths) > 0 && len(c.Paths) <= 3:
		msg = strings.Join(c.Paths, ", ") + " changed"
	}
	l.emit(Event{Time: c.Emitted, Type: TypeWatchChange, Paths: c.Paths, Count: c.Count, Message: msg})
	for _, p := range c.Paths {
		if cfgFile := l.configFiles()[p]; cfgFile != "" {
			l.emit(Event{Type: TypeConfigWarning, Message: fmt.Sprintf("%s changed: its settings apply when ukdev restarts", cfgFile)})
		}
	}
	if !l.watchOn {
		return
	}
	if l.build != nil {
		// A newer change makes the running build stale: cancel it and build
		// again once it has stopped.
		keep := c
		if l.pending != nil {
			keep.First = l.pending.First
		}
		l.pending = &keep
		l.build.cancel()
		return
	}
	l.startBuild(ctx, &c)
}

func (l *Loop) startBuild(ctx context.Context, change *watcher.Change) {
	n := l.nextBuild
	l.nextBuild++
	bctx, cancel := context.WithCancel(ctx)
	start := time.Now()
	l.build = &buildState{n: n, cancel: cancel, change: change, start: start}
	cmd := l.cfg.Build.Command
	if cmd == "" {
		cancel()
		l.buildDone <- buildResult{n: n, change: change, start: start}
		return
	}
	if err := l.lock.relockProject(l.cfg.Root); err != nil {
		// The project directory was replaced and another ukdev took the
		// new one first.
		l.errorf("project directory %s was replaced: %v", l.cfg.Root, err)
	}
	l.emit(Event{Time: start, Type: TypeBuildStart, Build: n, Command: cmd, Message: fmt.Sprintf("build #%d: %s", n, cmd)})
	go func() {
		defer cancel()
		res := l.builder.Run(bctx, func(line builder.Line) {
			l.waitForRoom(bctx, line.Text)
			l.emit(Event{Type: TypeBuildOutput, Build: n, Line: line.Text, Stream: line.Stream, Message: line.Text})
			l.ring.Append(logs.Line{Time: time.Now(), Build: n, Source: logs.SourceBuild, Text: line.Text})
		})
		l.buildDone <- buildResult{n: n, res: res, change: change, start: start}
	}()
}

// The event channel is bounded by count (EventBuffer, for bursts of
// console lines of at most 4 KiB), not by bytes, and build output lines
// may be 64 KiB (builder.MaxLine): full of them it would hold 512 MiB. A
// long build line therefore waits until fewer than maxQueuedLong events are
// queued, which bounds the long lines queued to about 4 MiB. Build output
// already slows the build down when the reader lags (emit waits); this
// only makes it wait sooner for long lines.
const (
	// longLine is the longest line sent without waiting: a console piece.
	longLine = 4 << 10
	// maxQueuedLong is how many events may be queued when a long line is.
	maxQueuedLong = 64
	// queuePoll is how often a waiting long line looks at the queue again:
	// the channel tells no one when it drains.
	queuePoll = time.Millisecond
)

// waitForRoom returns once a build output line may be queued: at once for
// a short line, else when fewer than maxQueuedLong events are queued or
// ctx (the build's) is done. It runs on the build's output goroutine,
// never on the loop's.
func (l *Loop) waitForRoom(ctx context.Context, line string) {
	if len(line) <= longLine {
		return
	}
	for len(l.events) >= maxQueuedLong && ctx.Err() == nil {
		time.Sleep(queuePoll)
	}
}

func (l *Loop) onBuildDone(ctx context.Context, r buildResult) {
	l.build = nil
	end := time.Now()
	if r.res.Canceled {
		l.emit(Event{Type: TypeBuildCanceled, Build: r.n, Message: fmt.Sprintf("build #%d canceled: a newer build replaces it", r.n)})
		l.startPending(ctx)
		return
	}
	if l.cfg.Build.Command != "" {
		ok := r.res.OK()
		e := Event{Type: TypeBuildDone, Build: r.n, OK: &ok, DurationMS: ptr(ms(r.res.Duration))}
		if r.res.ExitCode >= 0 {
			e.ExitCode = ptr(r.res.ExitCode)
		}
		dirMsg, dirMissing := buildDirMessage(l.cfg.Root, l.cfg.Path, r.res.Err)
		switch {
		case ok:
			e.Message = fmt.Sprintf("build #%d ok in %s", r.n, round(r.res.Duration))
		case dirMissing:
			e.Message = fmt.Sprintf("build #%d not run: %s%s", r.n, dirMsg, l.stillRunning())
			e.Detail = r.res.Err.Error()
		case r.res.Err != nil:
			e.Message = fmt.Sprintf("build #%d failed: %v%s", r.n, r.res.Err, l.stillRunning())
			e.Detail = r.res.Err.Error()
		default:
			e.Message = fmt.Sprintf("build #%d failed (exit %d)%s", r.n, r.res.ExitCode, l.stillRunning())
		}
		l.emit(e)
		if !ok {
			l.startPending(ctx)
			return
		}
	}
	if l.pending != nil {
		// Sources changed again while this build finished: its image is
		// already stale.
		l.startPending(ctx)
		return
	}
	clock := &reloadClock{buildStart: r.start, buildEnd: end, hasBuild: l.cfg.Build.Command != ""}
	if r.change != nil {
		clock.save, clock.debounced = r.change.First, r.change.Emitted
	}
	l.prepareAndBoot(ctx, r.n, clock)
}

func (l *Loop) startPending(ctx context.Context) {
	if l.pending == nil {
		return
	}
	c := *l.pending
	l.pending = nil
	l.startBuild(ctx, &c)
}

// artifacts names the build's outputs: the config's, completed by the
// flavor where it locates them itself (flavor.ArtifactLocator).
func (l *Loop) artifacts() image.Artifacts {
	k := l.cfg.Kernel
	a := image.Artifacts{Kernel: k.Image, Initrd: k.Initrd, Symbols: k.Symbols, Cmdline: k.Cmdline}
	if loc, ok := l.flavor.(flavor.ArtifactLocator); ok {
		a = loc.Locate(l.cfg, a)
	}
	return a
}

// stillRunning tells what a failed build leaves running.
func (l *Loop) stillRunning() string {
	if b := l.current; b != nil && !b.ended {
		return fmt.Sprintf(" — still running boot #%d from build #%d", b.n, b.build)
	}
	return ""
}

func round(d time.Duration) time.Duration {
	if d > time.Second {
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(100 * time.Microsecond)
}

// prepareAndBoot turns build n's output into an image and hot-reboots on it.
// Any failure leaves the running VM as it is.
func (l *Loop) prepareAndBoot(ctx context.Context, n int, clock *reloadClock) {
	imgStart := time.Now()
	var inUse []int
	if l.current != nil {
		inUse = append(inUse, l.current.build)
	}
	img, err := l.flavor.Prepare(ctx, l.images, n, l.artifacts(), inUse...)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			// ukdev is stopping: the copy was cut short on purpose.
			return
		case errors.Is(err, image.ErrMissingArtifact):
			l.errorf("build #%d succeeded but its output is missing: %v%s", n, err, l.stillRunning())
		default:
			l.errorf("build #%d cannot be booted: %v%s", n, err, l.stillRunning())
		}
		if l.opts.Once {
			l.lastExit = &guestexit.Exit{Reason: guestexit.ReasonQEMUError, Detail: err.Error()}
		}
		return
	}
	if clock != nil {
		clock.imageDone = time.Now()
		clock.imageStart = imgStart
	}
	l.emit(Event{Type: TypeImageReady, Build: n, DurationMS: ptr(ms(time.Since(imgStart))),
		Message: fmt.Sprintf("image of build #%d ready: %s kernel", n, img.Protocols)})
	l.boot(ctx, img, clock)
}

// boot starts a new QEMU on img, paused, then stops the old one (freeing
// its forwarded ports), adds the port forwards and lets the new one run.
// When the new QEMU cannot start, the old one keeps running.
func (l *Loop) boot(ctx context.Context, img image.Image, clock *reloadClock) {
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
	n := l.nextBoot
	spec := vm.Spec{
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
	out := &consoleWriter{l: l, boot: n, build: img.Build, split: logs.NewSplitter(4096), clock: clock}
	if f, ok := l.flavor.(flavor.ConsoleFilterer); ok {
		out.show = f.ConsoleFilter()
	}
	spawn := time.Now()
	dump := filepath.Join(l.runDir, fmt.Sprintf("mem-%d.bin", n))
	m, err := l.backend.Start(ctx, spec, vm.StartOptions{Console: out, Log: l.log, DumpFile: dump})
	if err != nil {
		var se *vm.StartError
		if errors.As(err, &se) && strings.TrimSpace(se.Stderr) != "" {
			l.errorf("QEMU refused build #%d: %s%s", img.Build, strings.TrimSpace(se.Stderr), l.stillRunning())
		} else {
			l.errorf("cannot start QEMU for build #%d: %v%s", img.Build, err, l.stillRunning())
		}
		if l.opts.Once {
			l.lastExit = &guestexit.Exit{Reason: guestexit.ReasonQEMUError, Detail: err.Error()}
		}
		return
	}
	ready := time.Now()
	l.nextBoot++

	if old := l.current; old != nil {
		l.forget(old.m, true)
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		if err := old.m.Stop(sctx); err != nil {
			l.log.Warn("stop old VM", "boot", old.n, "err", err)
		}
		cancel()
	}
	for _, p := range cfg.VM.Ports {
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
			return
		}
	}

	bw, err := l.store.StartBoot(logs.BootInfo{Boot: n, Build: img.Build, Start: time.Now(), Accel: l.accel.Name, Machine: machine})
	if err != nil {
		l.errorf("boot #%d: console log: %v", n, err)
	}
	out.setFile(bw)
	b := &bootState{n: n, build: img.Build, img: img, machine: machine, m: m, out: out}
	l.current = b
	l.lastImage = &img
	if clock != nil {
		clock.spawn, clock.ready = spawn, ready
	}
	// vm.start comes before any console line of the boot.
	l.emit(Event{Type: TypeVMStart, Boot: n, Build: img.Build, Accel: l.accel.Name, Machine: machine, PID: m.PID(),
		Message: fmt.Sprintf("boot #%d of build #%d: %s on %s, pid %d", n, img.Build, strings.ToUpper(l.accel.Name), machine, m.PID())})
	l.setRunning(m, &VMInfo{Boot: n, Build: img.Build, PID: m.PID(), Machine: machine, Accel: l.accel.Name,
		MemoryMiB: spec.MemoryMiB, Symbols: img.Symbols, SymbolSpace: img.SymbolSpace})
	contAt := time.Now()
	out.armClock(contAt, m)
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
	go func() {
		// QEMU leaves its QMP socket behind, and ReadMemory its dump.
		<-m.Exited()
		_ = os.Remove(spec.QMPSocket)
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
			out.waitQuiet(50*time.Millisecond, time.Second)
		}
		l.bootEnded <- b
	}()
}

func (l *Loop) onBootEnded(b *bootState) {
	if b.ended {
		return
	}
	b.ended = true
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
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.m.Stop(ctx); err != nil {
		l.log.Warn("stop VM", "boot", b.n, "err", err)
	}
}

func (l *Loop) onCommand(ctx context.Context, c command) {
	switch c {
	case cmdReboot:
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
			return
		}
		if b != nil {
			// The same build, even if a newer image was refused since.
			l.boot(ctx, b.img, nil)
			return
		}
		l.bootLast(ctx)
	case cmdStartVM:
		if l.current == nil || l.current.ended {
			l.bootLast(ctx)
		}
	case cmdRebuild:
		if l.build != nil {
			l.pending = &watcher.Change{}
			l.build.cancel()
			return
		}
		l.startBuild(ctx, nil)
	case cmdStopVM:
		l.stopCurrent()
	case cmdTogglePause:
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
			l.emit(Event{Type: TypeVMPaused, Boot: b.n, Message: fmt.Sprintf("boot #%d paused", b.n)})
		} else if err := b.m.Resume(ctx); err != nil {
			l.errorf("boot #%d: resume: %v", b.n, err)
		} else {
			l.emit(Event{Type: TypeVMResumed, Boot: b.n, Message: fmt.Sprintf("boot #%d resumed", b.n)})
		}
	case cmdToggleWatch:
		if l.watch == nil {
			return
		}
		l.watchOn = !l.watchOn
		l.watch.SetPaused(!l.watchOn)
		if l.watchOn {
			l.emit(Event{Type: TypeWatchResumed, Message: "watching again"})
		} else {
			l.emit(Event{Type: TypeWatchPaused, Message: "watching paused: saves do not rebuild"})
		}
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

// shutdown stops the build and the VM; it runs once, when Run returns.
func (l *Loop) shutdown() {
	l.once.Do(func() {
		if l.build != nil {
			// Wait for the build's process group to be gone.
			l.build.cancel()
			<-l.buildDone
			l.build = nil
		}
		_ = l.builder.Close() // the spare supervisor
		if l.watch != nil {
			_ = l.watch.Close()
		}
		if l.syslog != nil {
			l.syslog.close()
		}
		b := l.current
		l.stopCurrent()
		// Report the end of the last boot before closing Events.
		deadline := time.After(5 * time.Second)
		for b != nil && !b.ended {
			select {
			case eb := <-l.bootEnded:
				l.onBootEnded(eb)
			case <-deadline:
				b = nil
			}
		}
		// The image copies are only for QEMUs this loop ran, all gone now.
		if err := os.RemoveAll(l.images.Dir); err != nil {
			l.log.Warn("remove image copies", "err", err)
		}
		l.emit(Event{Type: TypeStop, Message: "ukdev stopped; no VM left running"})
	})
}
