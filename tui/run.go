// Package tui is ukdev's dashboard: a Bubble Tea program over the dev loop
// with a status bar, five panels (console, logs, build, memory, metrics),
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
}

// Run runs the loop and the dashboard over it until the user quits or ctx
// ends. Quitting cancels the loop, which stops the VM; the dashboard stays
// up ("stopping…") until the loop has ended, so when Run returns no VM is
// left. It returns the loop's error, or the program's.
func Run(ctx context.Context, loop *devloop.Loop, opts Options) error {
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
	popts := []tea.ProgramOption{tea.WithoutSignalHandler()}
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
