package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ukdev/ukdev/builder"
	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/flavor"
	"github.com/ukdev/ukdev/guestexit"
	"github.com/ukdev/ukdev/logs"
	"github.com/ukdev/ukdev/manager"
	"github.com/ukdev/ukdev/project"
	"github.com/ukdev/ukdev/tui"
)

func newDevCmd(a *app) *cobra.Command {
	var plain, asJSON, gdb bool
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Watch, rebuild and hot-reboot the unikernel on every save",
		Long: `dev runs the loop: it builds the project, boots the image under QEMU, and on
every save rebuilds and replaces the running VM with the new image.

On a terminal (standard input and output both) it opens the dashboard: a status
bar, the serial console, the logs, the build output, memory and metrics; press ?
in it for every key, q to quit (which stops the VM). NO_COLOR or TERM=dumb turn
its colours off.

--plain prints one event per line (time, source, message) instead; --json prints
the same events as JSON lines (see the README for every type). Without a terminal
ukdev dev runs in plain mode. In both modes each line read from standard input is
typed into the guest's serial console, followed by Enter.

--gdb starts every boot paused at its first instruction with QEMU's gdb stub open,
and prints (as a vm.gdb event) the gdb command line that attaches; gdb's continue
starts the guest. In the dashboard, g opens gdb on the running VM at any time.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.dev(cmd.Context(), plain, asJSON, gdb)
		},
	}
	cmd.Flags().BoolVar(&plain, "plain", false, "print events as text lines instead of opening the dashboard")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print events as JSON lines")
	cmd.Flags().BoolVar(&gdb, "gdb", false, "start every boot paused, waiting for gdb on QEMU's gdb stub")
	cmd.MarkFlagsMutuallyExclusive("plain", "json")
	addOnFlag(cmd, a)
	return cmd
}

// isTerminal reports whether w is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// openDiagnostics opens ukdev's own log file in the project's state dir.
// A state dir that cannot be used is reported by devloop.New.
func openDiagnostics(cfg *project.Config) (*slog.Logger, io.Closer) {
	state, err := project.StateDir(cfg)
	if err != nil {
		return slog.New(slog.DiscardHandler), io.NopCloser(nil)
	}
	log, closer, err := logs.OpenDiagnostics(state)
	if err != nil {
		return slog.New(slog.DiscardHandler), io.NopCloser(nil)
	}
	return log, closer
}

// devSession is what ukdev dev and ukdev run start from: the project's
// config, ukdev's own log and the loop made from them.
type devSession struct {
	cfg *project.Config
	log *slog.Logger
	// closer closes the VM backend (a libvirt connection) and then ukdev's
	// log, once the loop has ended.
	closer io.Closer
	loop   *devloop.Loop
}

// openSession loads the project's config, opens ukdev's log file,
// announces the project and makes the loop with the options given (Once:
// one boot only; NoWatch; GDB: boots that wait for the debugger), filling
// in the rest: the VM backend the config names (QEMU here, or a libvirt
// host), which removes what a ukdev that died left there before the
// first boot. The caller closes closer when the loop has ended; on an
// error nothing is left open.
func (a *app) openSession(opts devloop.Options) (*devSession, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, err
	}
	log, closer := openDiagnostics(cfg)
	a.announceOpen(cfg)
	backend := newBackend(cfg)
	opts.Config, opts.Log, opts.Backend, opts.BuildSupervisor = cfg, log, backend, builder.SelfExe
	opts.Host, opts.CleanStale = hostLabel(libvirtHost(cfg)), cleanStale(cfg)
	closer = closeAll{closeBackend{backend}, closer}
	loop, err := devloop.New(opts)
	if err != nil {
		closer.Close()
		return nil, err
	}
	return &devSession{cfg: cfg, log: log, closer: closer, loop: loop}, nil
}

func (a *app) dev(ctx context.Context, plain, asJSON, gdb bool) error {
	s, err := a.openSession(devloop.Options{GDB: gdb})
	if err != nil {
		return err
	}
	defer s.closer.Close()
	cfg, log, loop := s.cfg, s.log, s.loop
	dashboard := !plain && !asJSON && isTerminal(a.stdin) && isTerminal(a.stdout)
	defer a.serveControl(ctx, s, false, dashboard).Close()
	if dashboard {
		// The dashboard owns the terminal: diagnostics go to the log file
		// only, and keys reach the guest through the console panel.
		return tui.Run(ctx, loop, tui.Options{
			Color:   colorAllowed(),
			Project: cfg.Name,
			Flavor:  cfg.Flavor,
			Ports:   manager.PortLabels(cfg.VM.Ports),
			Host:    hostLabel(libvirtHost(cfg)),
			Log:     log,
			// Inside tmux, g opens gdb in a split of ukdev's pane.
			Tmux:     os.Getenv("TMUX") != "",
			TmuxPane: os.Getenv("TMUX_PANE"),
			VMs:      &vmSource{},
			Input:    a.stdin,
			Output:   a.stdout,
		})
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	defer watchBrokenPipe()()
	go a.forwardStdin(ctx, loop)
	out := newOutputQueue(ctx, stop)
	p := &printer{w: out.writer(a.stdout), json: asJSON, color: isTerminal(a.stdout) && colorAllowed()}
	done := make(chan error, 1)
	go func() {
		var perr error
		for e := range loop.Events() {
			if err := p.print(e); err != nil && perr == nil {
				perr = err
			}
		}
		done <- perr
	}()
	_, err = loop.Run(ctx)
	perr := <-done
	if werr := finishOutput(out, log); perr == nil {
		perr = werr
	}
	if err != nil {
		return err
	}
	return perr
}

// finishOutput waits for the output queue (a bounded time once ukdev is
// stopping) and records in ukdev's log what could not be written: the
// terminal or pipe is not the place to say so.
func finishOutput(out *outputQueue, log *slog.Logger) error {
	dropped, err := out.finish()
	switch {
	case err != nil:
		log.Warn("events not written: writing the output failed", "dropped", dropped, "err", err)
	case dropped > 0:
		log.Warn("events not written: ukdev stopped while nothing read its output", "dropped", dropped)
	}
	return err
}

// forwardStdin types each line of standard input into the guest console
// (see forwardInput). End of input stops forwarding, not the loop.
func (a *app) forwardStdin(ctx context.Context, loop *devloop.Loop) {
	if a.stdin == nil {
		return
	}
	forwardInput(ctx, a.stdin, loop, func(msg string) { fmt.Fprintf(a.stderr, "ukdev: %s\n", msg) })
}

// colorAllowed honours NO_COLOR (any non-empty value) and TERM=dumb.
func colorAllowed() bool {
	return os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
}

func newRunCmd(a *app) *cobra.Command {
	var asJSON, detach, gdb bool
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Build if needed, boot once, stream the console, exit with the guest's status",
		Long: `run builds the project when its image is missing or older than a source file,
boots it once and streams the serial console to standard output (ukdev's own events
go to standard error). Lines read from standard input are typed into the console.

The exit status is the guest's: its exit code for "exit"; 134 for a crash or a panic;
125 when QEMU failed; 137 when the VM was killed; a failed build's own status.

-d runs the VM detached from the terminal instead, as ukdev up does.

--gdb starts the boot paused at its first instruction with QEMU's gdb stub open,
and prints (as a vm.gdb event) the gdb command line that attaches; gdb's continue
starts the guest.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if detach {
				return a.up(cmd.Context())
			}
			return a.runOnce(cmd.Context(), asJSON, gdb)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print every event, console lines included, as JSON lines on standard output")
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "boot the VM detached from the terminal and return (ukdev up)")
	cmd.Flags().BoolVar(&gdb, "gdb", false, "start the boot paused, waiting for gdb on QEMU's gdb stub")
	cmd.MarkFlagsMutuallyExclusive("json", "detach")
	cmd.MarkFlagsMutuallyExclusive("gdb", "detach")
	addOnFlag(cmd, a)
	return cmd
}

func (a *app) runOnce(ctx context.Context, asJSON, gdb bool) error {
	s, err := a.openSession(devloop.Options{Once: true, GDB: gdb})
	if err != nil {
		return err
	}
	defer s.closer.Close()
	defer a.serveControl(ctx, s, false, false).Close()
	log, loop := s.log, s.loop
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	defer watchBrokenPipe()()
	go a.forwardStdin(ctx, loop)
	out := newOutputQueue(ctx, stop)
	stdout := out.writer(a.stdout)
	console := &printer{w: stdout, json: asJSON, color: isTerminal(a.stdout) && colorAllowed()}
	events := &printer{w: out.writer(a.stderr), color: false}
	if asJSON {
		events = console
	}
	buildFailed := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e := range loop.Events() {
			switch {
			case e.Type == devloop.TypeVMConsole && !asJSON:
				_ = console.line(e.Line)
			default:
				_ = events.print(e)
			}
			if e.Type == devloop.TypeBuildDone && e.OK != nil && !*e.OK {
				buildFailed = 1
				if e.ExitCode != nil && *e.ExitCode > 0 {
					buildFailed = *e.ExitCode
				}
			}
		}
	}()
	exit, err := loop.Run(ctx)
	<-done
	_ = finishOutput(out, log) // a write error does not change the guest's status
	switch {
	case ctx.Err() != nil:
		// Interrupted: whatever the loop was doing when it stopped.
		return &exitError{code: 130}
	case buildFailed != 0:
		return &exitError{code: buildFailed}
	case errors.Is(err, devloop.ErrNoImage):
		return &exitError{code: 125}
	case err != nil:
		return err
	}
	return &exitError{code: exitStatus(exit)}
}

// exitStatus maps a decoded guest exit to ukdev run's exit status.
func exitStatus(e guestexit.Exit) int {
	switch e.Reason {
	case guestexit.ReasonExit:
		if e.HasCode {
			return e.Code
		}
		return 0
	case guestexit.ReasonCrash, guestexit.ReasonPanic:
		return 134
	case guestexit.ReasonKilled:
		return 137
	default:
		return 125
	}
}

func versionString() string {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	return fmt.Sprintf("%s (%s, %s/%s)", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// announceOpen prints, before the loop starts, what the flavor says its
// Open will fetch (flavor.Announcer: the linux flavor's kernel through the
// Go module cache, a download the first time, which would otherwise look
// like a hang).
func (a *app) announceOpen(cfg *project.Config) {
	f, err := flavor.Lookup(cfg.Flavor)
	if err != nil {
		return
	}
	if an, ok := f.(flavor.Announcer); ok {
		if line := an.Announce(cfg); line != "" {
			fmt.Fprintf(a.stderr, "ukdev: %s\n", line)
		}
	}
}
