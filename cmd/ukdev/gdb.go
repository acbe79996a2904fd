package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ukdev/ukdev/devloop"
)

func newGDBCmd(a *app) *cobra.Command {
	var printOnly, tcp bool
	cmd := &cobra.Command{
		Use:   "gdb [project] [--print] [--tcp] [-- gdb args...]",
		Short: "Attach gdb to the running VM through QEMU's gdb stub",
		Long: `gdb asks the ukdev that runs the project's VM (the project here, or the one named)
to open QEMU's gdb stub on it, on a unix socket in ukdev's private runtime directory
(--tcp: a free 127.0.0.1 port), and runs gdb on it with the flavor's debug file, the
architecture and the address layout set. Attaching stops the VM; gdb's continue lets
it run, and quitting gdb detaches and lets it run on. Arguments after -- are added to
gdb's command line (-batch, -ex 'break main').

--print prints that gdb command line instead, quoted for the shell, runnable as it is:
for scripts and for an editor's debug configuration.`,
		Example: "  ukdev gdb\n  ukdev gdb --print\n  ukdev gdb hello -- -batch -ex 'break timer_interrupt' -ex continue -ex 'print ticks'",
		Args:    cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			project, extra, err := splitGDBArgs(args, cmd.ArgsLenAtDash())
			if err != nil {
				return err
			}
			s, err := a.remoteGDB(cmd.Context(), project, tcp)
			if err != nil {
				return err
			}
			return a.runGDB(s, extra, printOnly)
		},
	}
	cmd.Flags().BoolVar(&printOnly, "print", false, "print the gdb command line instead of running gdb")
	cmd.Flags().BoolVar(&tcp, "tcp", false, "open the stub on a free 127.0.0.1 port instead of a unix socket")
	return cmd
}

// splitGDBArgs splits ukdev gdb's arguments into the project (before
// --, at most one) and gdb's own (after --); dash is cobra's
// ArgsLenAtDash, -1 without --.
func splitGDBArgs(args []string, dash int) (project string, extra []string, err error) {
	before := args
	if dash >= 0 {
		before, extra = args[:dash], args[dash:]
	}
	switch len(before) {
	case 0:
	case 1:
		project = before[0]
	default:
		return "", nil, fmt.Errorf("gdb: want at most one project, got %q (gdb's own arguments go after --)", before)
	}
	return project, extra, nil
}

// runGDB prints the session's note, then prints its command line (with
// extra) when printOnly, or else becomes gdb: ukdev has nothing left to do, and gdb then owns
// the terminal and its ^C.
func (a *app) runGDB(s devloop.GDBSession, extra []string, printOnly bool) error {
	if s.Note != "" {
		fmt.Fprintf(a.stderr, "ukdev: note: %s\n", s.Note)
	}
	args := append(append([]string(nil), s.Args...), extra...)
	if printOnly {
		_, err := fmt.Fprintln(a.stdout, devloop.ShellJoin(args))
		return err
	}
	bin, err := exec.LookPath(args[0])
	if err != nil {
		return fmt.Errorf("gdb: %w: install gdb (Debian: apt-get install gdb), or run the command `ukdev gdb --print` prints with your own", err)
	}
	fmt.Fprintf(a.stderr, "ukdev: attaching gdb to %s\n", s.Address)
	err = syscall.Exec(bin, args, os.Environ())
	return fmt.Errorf("gdb: exec %s: %w", bin, err)
}
