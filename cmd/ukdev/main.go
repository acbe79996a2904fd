// Command ukdev is the interactive dev loop for unikernels: it watches a
// project, rebuilds it on every save, hot-reboots the new image under QEMU
// and streams the serial console.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ukdev/ukdev/builder"
	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/flavor"
	_ "github.com/ukdev/ukdev/flavor/all"
	"github.com/ukdev/ukdev/project"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// exitError carries a process exit status out of a command without
// printing anything more.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func main() {
	// ukdev re-executes itself as the supervisor of each build (see
	// builder.RunSupervisor): that mode comes before any flag parsing.
	if builder.IsSupervisor(os.Args) {
		os.Exit(builder.RunSupervisor(os.Args))
	}
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	// The first signal stops ukdev in order; a second one gets the
	// default action and ends it at once (its QEMU and build die with it).
	context.AfterFunc(ctx, stop)
	root := newRootCmd(&app{stdin: stdin, stdout: stdout, stderr: stderr})
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	var ee *exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	default:
		fmt.Fprintln(stderr, "ukdev:", err)
		return 1
	}
}

// app holds what every command shares: the streams and the global flags.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	dir            string
	configPath     string
	// on is --on: where the loop's VMs run (applyOn), for the commands
	// that open a loop.
	on string
}

func newRootCmd(a *app) *cobra.Command {
	dev := newDevCmd(a)
	root := &cobra.Command{
		Use:   "ukdev",
		Short: "The interactive dev loop for unikernels",
		Long: `ukdev watches a unikernel project, rebuilds it on every save, hot-reboots the new
image under QEMU (KVM where it works, TCG otherwise) and streams the serial console.

Run it in a project with a ukdev.toml (ukdev init writes one). With no command it runs
the dev loop, like "ukdev dev".`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE:          dev.RunE,
	}
	root.Flags().AddFlagSet(dev.Flags())
	root.PersistentFlags().StringVarP(&a.dir, "dir", "C", "", "run as if ukdev was started in `dir`")
	root.PersistentFlags().StringVarP(&a.configPath, "config", "c", "", "use this ukdev.toml instead of searching for one")
	root.AddCommand(dev, newBuildCmd(a), newRunCmd(a), newLogsCmd(a), newInitCmd(a), newDiskCmd(a), newDeployCmd(a), newStatsCmd(a), newGDBCmd(a), newMemCmd(a), newVersionCmd(a))
	// The local VM manager: every running loop, all projects.
	root.AddCommand(newPsCmd(a), newUpCmd(a), newDownCmd(a), newAttachCmd(a), newDetachedCmd(a),
		newActionCmd(a, devloop.ActionStop, "Stop a running project's VM"),
		newActionCmd(a, devloop.ActionPause, "Pause a running project's VM"),
		newActionCmd(a, devloop.ActionResume, "Resume a paused project's VM"),
		newActionCmd(a, devloop.ActionReboot, "Reboot a running project's VM on the same build"))
	// A flavor's own commands (Nanos' kernel cache), from every flavor
	// that has some.
	for _, name := range flavor.Names() {
		if f, err := flavor.Lookup(name); err == nil {
			if c, ok := f.(flavor.Commander); ok {
				root.AddCommand(c.Commands()...)
			}
		}
	}
	return root
}

// workDir is the directory ukdev acts in.
func (a *app) workDir() (string, error) {
	if a.dir != "" {
		return a.dir, nil
	}
	return os.Getwd()
}

// loadConfig finds and loads the project's ukdev.toml, walking up from
// the work directory. Without one, the directory's own files decide
// (project.Detect: a Kraftfile or Unikraft Makefile, an ops config, a Go
// program, a Makefile building an ELF): when they say enough, ukdev runs
// with the settings `ukdev init` would write, after one line on stderr
// saying what it decided and why; otherwise it asks for `ukdev init`. A
// config without build.command gets the command its flavor picks, if the
// flavor picks one (flavor.BuildChooser: Unikraft's kraft build or make),
// so that `ukdev build` builds it too.
func (a *app) loadConfig() (*project.Config, error) {
	path := a.configPath
	if path == "" {
		dir, err := a.workDir()
		if err != nil {
			return nil, err
		}
		path, err = project.Find(dir)
		if errors.Is(err, project.ErrNotFound) {
			d := project.Detect(dir)
			if !d.Complete {
				return nil, fmt.Errorf("no ukdev.toml in %s or any parent directory, and its files do not say how to build and boot it (%s guess: %s); run `ukdev init` to write one", dir, d.Flavor, d.Reason)
			}
			cfg, err := project.Parse(filepath.Join(dir, project.FileName), project.InitFile(d))
			if err != nil {
				return nil, fmt.Errorf("no ukdev.toml in %s, and the settings guessed from its %s do not load (run `ukdev init` and edit ukdev.toml): %w", dir, d.Source, err)
			}
			build := "no build step (set build.command in a ukdev.toml)"
			if d.BuildCommand != "" {
				build = "building with `" + d.BuildCommand + "`"
			}
			running := "running " + d.Image
			f, err := flavor.Lookup(d.Flavor)
			if err != nil {
				return nil, err
			}
			if b, ok := f.(flavor.BuildChooser); ok {
				why := ""
				cfg.Build.Command, why = b.ChooseBuild(cfg.Root)
				// Decided and said here: the flavor need not again.
				cfg.Build.CommandSet = true
				build = "building with `" + cfg.Build.Command + "` (" + why + ")"
			}
			if ds, ok := f.(flavor.Describer); ok {
				running = ds.Describe(d.Image)
			}
			fmt.Fprintf(a.stderr, "ukdev: no ukdev.toml: %s project from %s, %s, %s (`ukdev init` writes these settings to ukdev.toml)\n",
				d.Flavor, d.Source, build, running)
			if err := applyOn(cfg, a.on); err != nil {
				return nil, err
			}
			return cfg, nil
		}
		if err != nil {
			return nil, err
		}
	}
	cfg, err := project.Load(path)
	if err != nil {
		return nil, err
	}
	if err := applyOn(cfg, a.on); err != nil {
		return nil, err
	}
	// An unknown flavor is reported where the flavor is opened.
	if f, err := flavor.Lookup(cfg.Flavor); err == nil && !cfg.Build.CommandSet {
		if b, ok := f.(flavor.BuildChooser); ok {
			cfg.Build.Command, _ = b.ChooseBuild(cfg.Root)
		}
	}
	return cfg, nil
}

func newVersionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print ukdev's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(a.stdout, "ukdev %s\n", versionString())
			return err
		},
	}
}
