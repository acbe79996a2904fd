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
	"github.com/ukdev/ukdev/flavor"
	"github.com/ukdev/ukdev/guestexit"
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/logs"
	"github.com/ukdev/ukdev/metrics"
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
	// NoWatch starts the loop with watching off (a detached ukdev): the
	// first build runs only when the image is missing or older than a
	// source, as with Once, and saves rebuild only once watching is turned
	// on (ToggleWatch). Unlike Once, the loop stays up after the guest
	// ends.
	NoWatch bool
	// Backend starts the machines (vm/qemu's Backend runs QEMU). Required.
	Backend vm.Backend
	// Host names the host a remote Backend runs the machines on (a
	// libvirt URI), for messages; empty: this machine, under QEMU.
	Host string
	// CleanStale, when set, removes what a ukdev that died left on the
	// Backend's host (libvirt domains) and returns their names; Run calls
	// it once the host answers, before the first boot, and reports the
	// names as a vm.stale event.
	CleanStale func(context.Context) ([]string, error)
	// Builder runs the builds; nil means a builder.Builder running the
	// config's build command.
	Builder Builder
	// Kernel, when set, replaces the flavor's kernel that New resolves
	// from the config: how builds become images and how boots end
	// (tests).
	Kernel flavor.Kernel
	// Accel, when set, skips the accelerator probe.
	Accel *vm.Accel
	// StateDir and RuntimeDir override the project's directories (tests).
	StateDir, RuntimeDir string
	// BuildSupervisor is the executable that supervises each build so
	// that it dies with ukdev (builder.Builder.Supervisor); empty runs
	// builds without one.
	BuildSupervisor string
	// GDB starts every boot paused at its first instruction with QEMU's
	// gdb stub open on a unix socket in the private runtime dir, reports
	// it as a vm.gdb event with the gdb command line that attaches, and
	// leaves the guest to the debugger: gdb's continue starts it.
	GDB bool
	// EventBuffer is the capacity of the events channel; default 8192.
	// Console lines are dropped (and counted) when it is full; other events
	// wait for the reader.
	EventBuffer int
	// MetricsInterval is the metrics sampling interval; zero means
	// metrics.DefaultInterval.
	MetricsInterval time.Duration
	// MetricsApp gives the application's own numbers (the project's
	// metrics.url); nil: no application series.
	MetricsApp metrics.AppSource
	// MetricsSeries names the application series to graph; empty: a
	// few that exist.
	MetricsSeries []string
}

// kernelOr returns Kernel, or k when Kernel is not set.
func (o Options) kernelOr(k flavor.Kernel) flavor.Kernel {
	if o.Kernel != nil {
		return o.Kernel
	}
	return k
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
	calls    chan call     // commands whose caller waits for the result
	runDone  chan struct{} // closed when Run has returned
	statusMu sync.Mutex
	status   statusFold             // folded from the events emitted, for Status
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
	builder  Builder // runs every build; keeps a supervisor ready
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
	retiring  []*bootState // replaced boots being stopped (retire) whose end is not reported yet
	lastImage *image.Image
	lastExit  *guestexit.Exit
	watchOn   bool
	watch     *watcher.Watcher
	bootEnded chan *bootState
	buildDone chan buildResult
	once      sync.Once

	deploys deployState // deploys from the view (PlanDeploy)

	memTables memTables // the symbols `ukdev mem` reads with (MemRead)

	// healthURL is the resolved health.url, empty without one (or when it
	// names a port that is not forwarded: healthErr says so at start).
	healthURL string
	healthErr error
	healthCh  chan healthReport
	// metricsErr says why metrics.url is not scraped (a port that is not
	// forwarded), reported at start.
	metricsErr error
	metrics    *metrics.Sampler // samples the live VM while a view holds it
	gdb        gdbState         // the live boot's gdb stub (OpenGDB)

	// retirements counts the stops of replaced machines still running
	// (retire); shutdown waits for them, after closing quitting.
	retirements sync.WaitGroup
	quitting    chan struct{}
	// retireWait is how long a replaced machine waits for the new guest's
	// output before it is stopped: the constant retireWait, longer in
	// tests.
	retireWait time.Duration
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
	var b Builder = &builder.Builder{Command: cfg.Build.Command, Dir: cfg.Build.Dir, Env: cfg.Build.Environ(), Supervisor: opts.BuildSupervisor}
	if opts.Builder != nil {
		b = opts.Builder
	}
	var healthURL string
	var healthErr error
	if cfg.Health.URL != "" {
		// The ports are the flavor's completed ones (ops' RunConfig.Ports).
		healthURL, healthErr = metrics.ResolveURL(cfg.Health.URL, cfg.VM.Ports)
	}
	app, appErr := opts.MetricsApp, error(nil)
	if app == nil && cfg.Metrics.URL != "" {
		var url string
		if url, appErr = metrics.ResolveURL(cfg.Metrics.URL, cfg.VM.Ports); appErr == nil {
			app = metrics.NewScraper(url, metrics.NewClient())
		}
	}
	series := opts.MetricsSeries
	if len(series) == 0 {
		series = cfg.Metrics.Series
	}
	interval := opts.MetricsInterval
	if interval == 0 {
		interval = cfg.Metrics.Interval
	}
	l = &Loop{
		healthURL:  healthURL,
		healthErr:  healthErr,
		healthCh:   make(chan healthReport),
		metricsErr: appErr,
		builder:    b,
		backend:    opts.Backend,
		syslog:     syslog,
		notes:      notes,
		cfg:        cfg,
		opts:       opts,
		log:        log,
		flavor:     opts.kernelOr(flavor),
		lock:       lock,
		events:     make(chan Event, buf),
		cmds:       make(chan command, 16),
		calls:      make(chan call),
		runDone:    make(chan struct{}),
		store:      store,
		images:     &image.Store{Dir: filepath.Join(runDir, "images"), Keep: 2},
		ring:       logs.NewRing(10000),
		stateDir:   stateDir,
		runDir:     runDir,
		nextBuild:  max(build, 1),
		nextBoot:   max(boot, 1),
		bootEnded:  make(chan *bootState, 4),
		buildDone:  make(chan buildResult, 1),
		watchOn:    !opts.NoWatch,
		deploys:    deployState{reqs: make(chan string, 4)},
		quitting:   make(chan struct{}),
		retireWait: retireWait,
	}
	// A Go program's runtime statistics are graphed as go.* series: read
	// with the symbols `ukdev mem` uses.
	l.metrics = metrics.NewSampler(l.liveMetrics, metrics.Options{Interval: interval,
		App: app, Series: series, Log: log, Guest: &goStats{ops: memOps{src: l, tables: &l.memTables}}})
	return l, nil
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

// Run runs the loop until ctx is done (or, with Once, until the boot ends),
// then stops the VM and any build, and closes Events. With Once it returns
// the boot's decoded exit.
func (l *Loop) Run(ctx context.Context) (exit guestexit.Exit, err error) {
	defer close(l.runDone)
	defer l.lock.Release()
	defer l.closeEvents()
	defer l.shutdown()

	cfg := l.cfg
	buildFirst := (!l.opts.Once && !l.opts.NoWatch) || l.buildNeeded()
	if buildFirst && cfg.Build.Command != "" {
		// Started while QEMU's accelerator is probed: ready for the first
		// build. shutdown closes it.
		l.builder.Prestart()
	}
	l.emit(Event{Type: TypeStart, Message: fmt.Sprintf("project %s (%s) in %s", cfg.Name, cfg.Flavor, cfg.Root)})
	for _, n := range l.notes {
		l.emit(Event{Type: TypeConfigWarning, Message: n})
	}
	if l.metricsErr != nil {
		l.emit(Event{Type: TypeConfigWarning, Message: fmt.Sprintf("metrics.url: %v; no app metrics", l.metricsErr)})
	}
	if l.healthErr != nil {
		l.emit(Event{Type: TypeConfigWarning, Message: fmt.Sprintf("health.url: %v; no health checks", l.healthErr)})
	}
	if l.syslog != nil {
		go l.syslog.run(l)
	}
	l.checkBackend(ctx)

	if !l.opts.Once {
		if err := l.startWatcher(ctx); err != nil {
			l.errorf("%v", err)
		}
		if l.watch != nil && !l.watchOn {
			l.watch.SetPaused(true)
			l.emit(Event{Type: TypeWatchPaused, Message: "watching off: saves do not rebuild until watching is turned on"})
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
		case r := <-l.healthCh:
			l.onHealth(r)
		case c := <-l.calls:
			c.done <- l.onCall(ctx, c.act)
		case name := <-l.deploys.reqs:
			l.startDeploy(ctx, name)
		}
	}
}

func (l *Loop) onCommand(ctx context.Context, c command) {
	switch c {
	case cmdReboot:
		l.reboot(ctx)
	case cmdStartVM:
		if l.current == nil || l.current.ended {
			l.bootLast(ctx)
		}
	case cmdRebuild:
		l.rebuild(ctx)
	case cmdStopVM:
		l.stopCurrent()
	case cmdTogglePause:
		l.togglePause(ctx)
	case cmdToggleWatch:
		l.toggleWatch()
	}
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
		l.stopDeploys()
		if l.watch != nil {
			_ = l.watch.Close()
		}
		if l.syslog != nil {
			l.syslog.close()
		}
		b := l.current
		l.stopCurrent()
		// Replaced machines still stopping are gone once their Stop
		// returns: no VM is left running.
		close(l.quitting)
		l.retirements.Wait()
		// Report the end of the last boot, and of the replaced ones,
		// before closing Events.
		deadline := time.After(5 * time.Second)
		for (b != nil && !b.ended) || len(l.retiring) > 0 {
			select {
			case eb := <-l.bootEnded:
				l.onBootEnded(eb)
			case <-deadline:
				b, l.retiring = nil, nil
			}
		}
		// The image copies are only for QEMUs this loop ran, all gone now.
		if err := os.RemoveAll(l.images.Dir); err != nil {
			l.log.Warn("remove image copies", "err", err)
		}
		l.emit(Event{Type: TypeStop, Message: "ukdev stopped; no VM left running"})
	})
}

// checkBackend checks that the backend can run machines, and once it
// can, removes what a dead ukdev left there and picks the accelerator.
// A problem is kept in qemuErr and reported. A libvirt host is asked
// again before each boot while it fails (see boot): it may have been
// down only for a while (a VPN, a locked ssh agent).
func (l *Loop) checkBackend(ctx context.Context) {
	cfg := l.cfg
	if err := l.backend.Installed(cfg.VM.QEMU); err != nil {
		l.qemuErr = fmt.Errorf("QEMU not found: %q is not on PATH; install it (Debian: apt-get install qemu-system-x86) or set vm.qemu in %s", cfg.VM.QEMU, cfg.Path)
		if l.opts.Host != "" {
			l.qemuErr = fmt.Errorf("the libvirt host %s cannot run the VM (check it with `virsh -c %s list`): %w", l.opts.Host, l.opts.Host, err)
		}
		l.errorf("%v", l.qemuErr)
		return
	}
	l.qemuErr = nil
	l.cleanStale(ctx)
	l.accel = l.resolveAccel(ctx)
	l.emit(Event{Type: TypeAccel, Accel: l.accel.Name, Detail: l.accel.Reason,
		Message: fmt.Sprintf("accel %s: %s", l.accel.Name, l.accel.Reason)})
}

// cleanStale runs Options.CleanStale and reports what it removed.
func (l *Loop) cleanStale(ctx context.Context) {
	if l.opts.CleanStale == nil {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	names, err := l.opts.CleanStale(cctx)
	if len(names) > 0 {
		l.log.Info("stale VMs removed", "host", l.opts.Host, "names", names)
		l.emit(Event{Type: TypeVMStale, Names: names, Detail: l.opts.Host,
			Message: fmt.Sprintf("removed %d VM(s) a ukdev that died left on %s: %s", len(names), l.opts.Host, strings.Join(names, ", "))})
	}
	if err != nil {
		l.errorf("cannot remove the VMs a ukdev that died left on %s: %v", l.opts.Host, err)
	}
}
