package tui

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	tea "charm.land/bubbletea/v2"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/ukdev/ukdev/devloop"
)

// gdbOpenedMsg carries the session OpenGDB returned for the g key, or why
// there is none.
type gdbOpenedMsg struct {
	session devloop.GDBSession
	err     error
}

// gdbDoneMsg says that gdb ended (it ran in the dashboard's terminal), or
// that its tmux pane is open; err says why it could not run.
type gdbDoneMsg struct {
	inPane bool
	err    error
}

// openGDB asks the loop to open QEMU's gdb stub on the running VM.
func (m Model) openGDB() tea.Cmd {
	g, ctx := m.deps.GDB, m.deps.Context
	return func() tea.Msg {
		s, err := g.OpenGDB(ctx, false)
		return gdbOpenedMsg{session: s, err: err}
	}
}

// runGDB starts gdb on s: in a tmux split of the dashboard's pane when
// ukdev runs inside tmux, otherwise in the dashboard's own terminal,
// which the dashboard gives up until gdb quits (its panels keep their
// state meanwhile).
func (m Model) runGDB(s devloop.GDBSession) tea.Cmd {
	if _, err := exec.LookPath(s.Args[0]); err != nil {
		return func() tea.Msg {
			return gdbDoneMsg{err: fmt.Errorf("%w: install gdb (Debian: apt-get install gdb)", err)}
		}
	}
	if m.tmux {
		argv := tmuxSplit(m.tmuxPane, s.Args)
		return func() tea.Msg {
			out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
			if err != nil {
				err = fmt.Errorf("tmux split-window: %w: %s", err, out)
			}
			return gdbDoneMsg{inPane: true, err: err}
		}
	}
	c := &gdbProcess{cmd: exec.Command(s.Args[0], s.Args[1:]...)}
	return tea.Exec(c, func(err error) tea.Msg { return gdbDoneMsg{err: err} })
}

// tmuxSplit is the tmux command that runs gdb (args) in a new pane split
// from pane (the current one when empty); the pane closes when gdb quits.
func tmuxSplit(pane string, args []string) []string {
	argv := []string{"tmux", "split-window"}
	if pane != "" {
		argv = append(argv, "-t", pane)
	}
	return append(argv, devloop.ShellJoin(args))
}

// gdbProcess runs gdb in the dashboard's terminal as its foreground job:
// in a process group of its own that the terminal's ^C reaches, not
// ukdev, which would take it for a request to stop (and stop the VM).
// It implements tea.ExecCommand.
type gdbProcess struct {
	cmd *exec.Cmd
	tty *os.File // the terminal, when the dashboard's input is one
}

// SetStdin implements tea.ExecCommand: gdb reads the dashboard's input.
func (g *gdbProcess) SetStdin(r io.Reader) {
	g.cmd.Stdin = r
	if f, ok := r.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		g.tty = f
	}
}

// SetStdout implements tea.ExecCommand: gdb writes to the dashboard's
// output, its errors too (ukdev's own standard error may be elsewhere).
func (g *gdbProcess) SetStdout(w io.Writer) {
	g.cmd.Stdout = w
	g.cmd.Stderr = w
}

// SetStderr implements tea.ExecCommand; standard error goes where
// SetStdout said.
func (g *gdbProcess) SetStderr(io.Writer) {}

// Run implements tea.ExecCommand: it runs gdb to its end. When ukdev is
// the terminal's foreground job, gdb becomes it for its run, and ukdev
// takes the terminal back afterwards.
func (g *gdbProcess) Run() error {
	if g.tty == nil {
		return g.cmd.Run()
	}
	fd := int(g.tty.Fd())
	fg, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
	if err != nil || fg != unix.Getpgrp() {
		return g.cmd.Run()
	}
	// Stdin is the terminal: fd 0 in gdb.
	g.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Foreground: true, Ctty: 0}
	runErr := g.cmd.Run()
	return errors.Join(runErr, foreground(fd, fg))
}

// foreground makes process group pgrp the terminal's foreground job. A
// background process asking that is sent SIGTTOU, ignored for the call.
func foreground(fd, pgrp int) error {
	signal.Ignore(syscall.SIGTTOU)
	defer signal.Reset(syscall.SIGTTOU)
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPGRP, pgrp); err != nil {
		return fmt.Errorf("take the terminal back from gdb: %w", err)
	}
	return nil
}
