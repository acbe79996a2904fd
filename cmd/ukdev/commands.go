package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ukdev/ukdev/builder"
	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/logs"
	"github.com/ukdev/ukdev/nofollow"
	"github.com/ukdev/ukdev/project"
	"github.com/ukdev/ukdev/project/templates"
)

func newBuildCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "build",
		Short: "Build the project once and exit with the build's status",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			if cfg.Build.Command == "" {
				fmt.Fprintln(a.stderr, "ukdev: build.command is empty: nothing to build")
				return nil
			}
			lock, err := lockBuild(cfg)
			switch {
			case errors.Is(err, devloop.ErrLocked):
				return fmt.Errorf("build: %w: a loop rebuilds on every save (save a file, or press R in its dashboard), and two builds at once would write the same outputs", err)
			case err != nil:
				return fmt.Errorf("build: %w", err)
			}
			defer lock.Release()
			b := &builder.Builder{Command: cfg.Build.Command, Dir: cfg.Build.Dir, Env: cfg.Build.Environ(), Supervisor: builder.SelfExe}
			fmt.Fprintf(a.stderr, "ukdev: building: %s\n", cfg.Build.Command)
			stdout := &printer{w: a.stdout, color: isTerminal(a.stdout) && colorAllowed()}
			stderr := &printer{w: a.stderr, color: isTerminal(a.stderr) && colorAllowed()}
			res := b.Run(cmd.Context(), func(l builder.Line) {
				p := stdout
				if l.Stream == builder.Stderr {
					p = stderr
				}
				_ = p.line(l.Text)
			})
			switch {
			case res.OK():
				fmt.Fprintf(a.stderr, "ukdev: build ok in %s\n", res.Duration.Round(time.Millisecond))
				return nil
			case res.Err != nil:
				return fmt.Errorf("build: %w", res.Err)
			default:
				fmt.Fprintf(a.stderr, "ukdev: build failed (exit %d) in %s\n", res.ExitCode, res.Duration.Round(time.Millisecond))
				return &exitError{code: res.ExitCode}
			}
		},
	}
}

// lockBuild takes the lock every loop holds, so that a build outside a
// loop (ukdev build, ukdev deploy) neither runs beside one (two builds at
// once would write the same outputs and corrupt them) nor lets one start
// during it. It fails with devloop.ErrLocked when a loop runs.
func lockBuild(cfg *project.Config) (*devloop.Lock, error) {
	lock, err := devloop.LockProject(cfg.Root)
	if errors.Is(err, devloop.ErrNoProjectLock) {
		// The state dir's lock, which every loop also holds, guards the
		// project instead.
		var state string
		if state, err = project.StateDir(cfg); err == nil {
			lock, err = devloop.LockState(state)
		}
	}
	return lock, err
}

func newLogsCmd(a *app) *cobra.Command {
	var follow, asJSON, list bool
	var boot int
	cmd := &cobra.Command{
		Use:   "logs",
		Short: "Print or follow the console log of the current or an earlier boot",
		Long: `logs prints the serial console of a boot from the project's log store
($XDG_STATE_HOME/ukdev/<project>/boots). By default it shows the newest boot; with -f it
keeps following, moving on to each new boot as "ukdev dev" starts it, also from
another terminal.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			state, err := project.StateDir(cfg)
			if err != nil {
				return err
			}
			store, err := logs.Open(filepath.Join(state, "boots"), logs.Options{KeepBoots: cfg.Logs.KeepBoots, MaxBytes: cfg.Logs.MaxBytes})
			var warn *logs.IndexWarning
			if errors.As(err, &warn) {
				fmt.Fprintf(a.stderr, "ukdev: %v\n", warn)
			} else if err != nil {
				return err
			}
			if list {
				return a.listBoots(store, asJSON)
			}
			return a.showLogs(cmd.Context(), store, boot, follow, asJSON)
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new output, across boots")
	cmd.Flags().IntVar(&boot, "boot", 0, "boot number to show (default: the newest)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON lines ({boot, line})")
	cmd.Flags().BoolVar(&list, "list", false, "list the recorded boots")
	return cmd
}

func (a *app) listBoots(store *logs.Store, asJSON bool) error {
	boots, err := store.Boots()
	var warn *logs.IndexWarning
	if err != nil && !errors.As(err, &warn) {
		return err
	}
	for _, b := range boots {
		if asJSON {
			out, err := json.Marshal(b)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, string(out))
			continue
		}
		start, end, reason := "?", "running", b.Reason
		if !b.Start.IsZero() {
			start = b.Start.Format("2006-01-02 15:04:05")
		}
		if !b.End.IsZero() {
			end = b.End.Format("15:04:05")
		}
		if b.ExitCode != nil {
			reason = fmt.Sprintf("%s %d", reason, *b.ExitCode)
		}
		fmt.Fprintf(a.stdout, "boot %-4d build %-4d %-19s → %-8s %-10s %7d bytes  %s %s\n",
			b.Boot, b.Build, start, end, reason, b.Bytes, b.Accel, b.Machine)
	}
	return nil
}

func (a *app) showLogs(ctx context.Context, store *logs.Store, boot int, follow, asJSON bool) error {
	boots, err := store.Boots()
	var warn *logs.IndexWarning
	if err != nil && !errors.As(err, &warn) {
		return err
	}
	if len(boots) == 0 && !follow {
		return errors.New("no boots recorded yet for this project")
	}
	if boot != 0 {
		found := false
		for _, b := range boots {
			found = found || b.Boot == boot
		}
		if !found {
			return fmt.Errorf("no boot %d in the log store (see ukdev logs --list)", boot)
		}
	}
	text := &printer{w: a.stdout, color: !asJSON && isTerminal(a.stdout) && colorAllowed()}
	// Lines are split per boot; the raw bytes stay in the file.
	splitters := map[int]*logs.Splitter{}
	emit := func(n int, line string) {
		if asJSON {
			out, _ := json.Marshal(struct {
				Boot int    `json:"boot"`
				Line string `json:"line"`
			}{n, logs.Sanitize(line, false)})
			fmt.Fprintln(a.stdout, string(out))
			return
		}
		_ = text.line(line)
	}
	last := 0
	out := func(n int, p []byte) {
		if n != last && last != 0 {
			if s := splitters[last]; s != nil {
				if rest := s.Flush(); rest != "" {
					emit(last, rest)
				}
			}
			if !asJSON {
				fmt.Fprintf(a.stdout, "── boot %d ──\n", n)
			}
		}
		last = n
		s := splitters[n]
		if s == nil {
			s = logs.NewSplitter(4096)
			splitters[n] = s
		}
		for _, line := range s.Write(p) {
			emit(n, line)
		}
	}
	if follow {
		err := store.Follow(ctx, boot, out)
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	}
	if boot == 0 {
		boot = boots[len(boots)-1].Boot
	}
	data, err := os.ReadFile(store.Path(boot))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("the log of boot %d was pruned", boot)
	}
	if err != nil {
		return err
	}
	out(boot, data)
	if rest := splitters[boot].Flush(); rest != "" {
		emit(boot, rest)
	}
	return nil
}

func newInitCmd(a *app) *cobra.Command {
	var force bool
	var template, flavor string
	cmd := &cobra.Command{
		Use:   "init [dir]",
		Short: "Write a commented ukdev.toml, or create a new project from a template",
		Long: `init writes a commented ukdev.toml for the project in dir (default: the current
directory), set from what its files show: a Kraftfile or a Unikraft Makefile (unikraft),
an ops config.json (nanos), a Go main package (linux, the program run as /init), else a
Makefile building an ELF kernel (elf). --flavor overrides the guess; a Go program made a
nanos project also gets a config.json for ops.

With --template, init creates a new project in dir from one of ukdev's examples
(hello-c, go-http-linux, go-http-nanos) or a minimal Unikraft application (unikraft).`,
		Example: "  ukdev init\n  ukdev init --flavor nanos\n  ukdev init --template go-http-linux web",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := a.workDir()
			if err != nil {
				return err
			}
			if len(args) == 1 {
				if filepath.IsAbs(args[0]) {
					dir = args[0]
				} else {
					dir = filepath.Join(dir, args[0])
				}
			}
			if template != "" {
				if flavor != "" {
					return errors.New("init: --flavor and --template do not go together: a template has its own flavor")
				}
				files, err := templates.Render(template, dir, templates.Options{Force: force})
				if err != nil {
					return fmt.Errorf("init: %w", err)
				}
				fmt.Fprintf(a.stderr, "ukdev: created %s from template %s (flavor %s): %s\n", dir, template, templates.Flavor(template), strings.Join(files, ", "))
				if _, err := project.Load(filepath.Join(dir, project.FileName)); err != nil {
					fmt.Fprintf(a.stderr, "ukdev: warning: this ukdev cannot load the new ukdev.toml: %v\n", err)
				}
				fmt.Fprintf(a.stderr, "ukdev: run `ukdev` in %s to build, boot and reload on every save\n", dir)
				return nil
			}
			if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
				return fmt.Errorf("init: %s is not a directory (--template creates a new project)", dir)
			}
			path := filepath.Join(dir, project.FileName)
			if _, err := os.Stat(path); err == nil && !force {
				return fmt.Errorf("%s already exists (use --force to overwrite it)", path)
			}
			d, err := project.DetectFlavor(dir, flavor)
			if err != nil {
				return fmt.Errorf("init: %w", err)
			}
			fmt.Fprintf(a.stderr, "ukdev: %s project: %s\n", d.Flavor, d.Reason)
			data := project.InitFile(d)
			// Refuse to write a file ukdev itself would reject.
			if _, err := project.Parse(path, data); err != nil {
				return fmt.Errorf("init: generated config does not load: %w", err)
			}
			// Never through a symlink at ukdev.toml (dotfile managers
			// make them): --force says to replace the file, not what
			// a link points at.
			flag := os.O_CREATE | os.O_EXCL
			if force {
				flag = os.O_CREATE | os.O_TRUNC
			}
			if err := writeNew(path, flag, data); err != nil {
				return fmt.Errorf("init: %w", err)
			}
			fmt.Fprintf(a.stderr, "ukdev: wrote %s\n", path)
			// The flavor's other files (ops' config for a Nanos
			// program), each written only when the project has none.
			for _, extra := range project.InitExtras(d) {
				extraPath := filepath.Join(dir, filepath.FromSlash(extra.Name))
				err := nofollow.Write(extraPath, os.O_CREATE|os.O_EXCL, extra.Data, 0o644)
				switch {
				case errors.Is(err, fs.ErrExist):
					continue
				case err != nil:
					return err
				}
				fmt.Fprintf(a.stderr, "ukdev: wrote %s (%s)\n", extraPath, extra.About)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "overwrite an existing ukdev.toml; with --template, write into a directory that is not empty")
	cmd.Flags().StringVar(&template, "template", "", "create a new project from a template: "+strings.Join(templates.Names(), ", "))
	cmd.Flags().StringVar(&flavor, "flavor", "", "the project's flavor instead of the detected one: "+strings.Join(project.Flavors(), ", "))
	return cmd
}

// writeNew writes data to path, opened with flag (O_EXCL for a new file,
// O_TRUNC to replace one) and never through a symlink.
func writeNew(path string, flag int, data []byte) error {
	err := nofollow.Write(path, flag, data, 0o644)
	if fi, lerr := os.Lstat(path); err != nil && lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
		// O_EXCL reports a (dangling) link as an existing file.
		return fmt.Errorf("%s is a symbolic link, and ukdev init does not write through links: remove the link, or edit its target yourself", path)
	}
	return err
}
