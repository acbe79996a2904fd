// Package tui is ukdev's dashboard: a Bubble Tea program over the dev loop
// with a status bar, six panels (console, logs, build, memory, metrics, VMs),
// one keymap for the global keys, and the layout that adapts to the
// terminal. The panels live in the sub-packages; this root model only
// routes messages, lays out and switches focus.
package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/tui/panel"
)

// Options configure the dashboard.
type Options struct {
	// Color enables colours; false (NO_COLOR, TERM=dumb) renders plain
	// text with bold and reverse for emphasis.
	Color bool
	// Project and Flavor name the project in the status bar.
	Project, Flavor string
	// Ports are the forwarded ports as the status bar shows them
	// ("tcp 8080→80").
	Ports []string
	// Host is the libvirt URI the VMs run at (password removed), which
	// the status bar names ("on kvm1"); "" for QEMU run here.
	Host string
	// Log receives the dashboard's own diagnostics; nil discards them.
	// Nothing is ever written to the terminal but the dashboard.
	Log *slog.Logger
	// Tmux says that the dashboard runs inside tmux ($TMUX is set): g
	// opens gdb in a split of TmuxPane ($TMUX_PANE; the current pane when
	// empty) instead of suspending the dashboard for it.
	Tmux     bool
	TmuxPane string
	// Input and Output are the terminal; nil means the process's standard
	// input and output.
	Input  io.Reader
	Output io.Writer
	// Environ is the terminal's environment (TERM, COLORTERM, NO_COLOR)
	// when it is not the process's: an attached client's.
	Environ []string
	// Resize delivers the terminal's new sizes when the process gets no
	// SIGWINCH for it (an attached client's terminal); nil: none.
	Resize <-chan Size
	// VMs lists and acts on every VM of this machine for the VMs panel;
	// nil: the panel says the VM manager is not available.
	VMs panel.VMSource
	// Attached says that the dashboard does not own the loop: quitting
	// detaches, and the VM runs on. RunAttached sets it.
	Attached bool
}

// frameRate is the most frames a second the dashboard draws. After each
// frame with something new, Bubble Tea's renderer keeps waking at this
// rate for half a second before it parks (frameRate/2 wake-ups): in an
// idle dashboard that redraws once a second (the metrics panel's values,
// the uptime) those wake-ups cost more than the drawing, about half a
// percent of a core at Bubble Tea's default of 60 on the bench machine.
// At 30 a key shows within one frame, 33 ms: during a serial flood the
// bench measured key → screen at most 45 ms, as at 60 (48 ms), where 20
// frames a second let it reach 124 ms.
const frameRate = 30

// Size is a terminal's size in cells.
type Size struct{ Width, Height int }

// Run runs the loop and the dashboard over it until the user quits or ctx
// ends. Quitting cancels the loop, which stops the VM; the dashboard stays
// up ("stopping…") until the loop has ended, so when Run returns no VM is
// left. It returns the loop's error, or the program's.
func Run(ctx context.Context, loop *devloop.Loop, opts Options) error {
	defer tuneGC()()
	loopCtx, stopLoop := context.WithCancel(ctx)
	defer stopLoop()
	uiCtx, closeUI := context.WithCancel(ctx)
	defer closeUI()

	// The dashboard reads every event from the loop's start: history
	// views stop where the events begin.
	liveSince := time.Now()
	loopDone := make(chan error, 1)
	go func() {
		_, err := loop.Run(loopCtx)
		loopDone <- err
	}()

	d := panel.Deps{
		Styles:    panel.NewStyles(opts.Color),
		Control:   loop,
		Deploy:    loop,
		GDB:       loop,
		Core:      loop,
		VMs:       opts.VMs,
		Store:     loop.Store(),
		Ring:      loop.Ring(),
		LiveSince: liveSince,
		StateDir:  loop.StateDir(),
		Now:       time.Now,
		Context:   uiCtx,
	}
	m := New(d, loop, loop.Events(), opts)
	m.stop = stopLoop
	// The loop ends on SIGINT, SIGTERM and SIGHUP (ctx), and the dashboard
	// with it once the VM is stopped: Bubble Tea must not quit first.
	popts := []tea.ProgramOption{tea.WithoutSignalHandler(), tea.WithFPS(frameRate)}
	if opts.Input != nil {
		popts = append(popts, tea.WithInput(opts.Input))
	}
	if opts.Output != nil {
		popts = append(popts, tea.WithOutput(opts.Output))
	}
	_, perr := tea.NewProgram(m, popts...).Run()
	stopLoop()
	closeUI()
	// After a forced quit the loop may still report the VM's end: read
	// the stream to its close so the loop never waits on it.
	go func() {
		for range loop.Events() {
		}
	}()
	lerr := <-loopDone
	if perr != nil && !errors.Is(perr, tea.ErrProgramKilled) {
		perr = fmt.Errorf("tui: %w", perr)
	} else {
		perr = nil
	}
	return errors.Join(lerr, perr)
}

// RunAttached runs the dashboard over a loop that runs elsewhere (a
// detached ukdev's, for ukdev attach) until the user detaches (q, or
// ctrl+c outside console input), ctx ends or the loop's events end. It
// never stops the loop: the VM runs on. events is the loop's event
// stream from now on, as the caller hands it over (the loop's own
// channel has one reader).
func RunAttached(ctx context.Context, loop *devloop.Loop, events <-chan devloop.Event, opts Options) error {
	defer tuneGC()()
	uiCtx, closeUI := context.WithCancel(ctx)
	defer closeUI()
	opts.Attached = true
	d := panel.Deps{
		Styles:    panel.NewStyles(opts.Color),
		Control:   loop,
		Deploy:    loop,
		GDB:       loop,
		Core:      loop,
		VMs:       opts.VMs,
		Store:     loop.Store(),
		Ring:      loop.Ring(),
		LiveSince: time.Now(),
		StateDir:  loop.StateDir(),
		Now:       time.Now,
		Context:   uiCtx,
	}
	// No stop: quitting ends the dashboard alone.
	m := New(d, loop, events, opts)
	popts := []tea.ProgramOption{tea.WithoutSignalHandler(), tea.WithContext(ctx), tea.WithFPS(frameRate)}
	if opts.Input != nil {
		popts = append(popts, tea.WithInput(opts.Input))
	}
	if opts.Output != nil {
		popts = append(popts, tea.WithOutput(opts.Output))
	}
	if opts.Environ != nil {
		popts = append(popts, tea.WithEnvironment(opts.Environ))
	}
	p := tea.NewProgram(m, popts...)
	if opts.Resize != nil {
		go func() {
			for sz := range opts.Resize {
				p.Send(tea.WindowSizeMsg{Width: sz.Width, Height: sz.Height})
			}
		}()
	}
	_, err := p.Run()
	if err != nil && !errors.Is(err, tea.ErrProgramKilled) && ctx.Err() == nil {
		return fmt.Errorf("tui: %w", err)
	}
	return nil
}
