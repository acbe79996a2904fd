package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ukdev/ukdev/builder"
	"github.com/ukdev/ukdev/deploy"
	_ "github.com/ukdev/ukdev/deploy/all"
	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/flavor"
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/logs"
	"github.com/ukdev/ukdev/project"
)

// errNeedsYes refuses a deploy or destroy nobody can confirm.
var errNeedsYes = errors.New("standard input is not a terminal to confirm on: pass --yes to go ahead without confirmation (or --dry-run to see the plan)")

// diskFor returns the function that writes the bootable raw disk of b's
// image into b.dir with the flavor's disk writer (flavor.DiskWriter on
// the kernel that prepared the image), sized in whole GiB as clouds want
// it, and boot-tests it under QEMU: only a disk that boots goes out.
func (a *app) diskFor(b *build) deploy.DiskFunc {
	return func(ctx context.Context, report func(deploy.Step)) (string, int64, error) {
		cfg := b.setup.Config
		dw, ok := b.setup.Kernel.(flavor.DiskWriter)
		if !ok {
			return "", 0, fmt.Errorf("disk of %s build #%d: the flavor cannot write bootable disks: %w", cfg.Flavor, b.img.Build, image.ErrNoDiskBoot)
		}
		bootTest := func(ctx context.Context, d image.Disk) error { return a.bootTestDisk(ctx, cfg, d) }
		return deploy.MakeDisk(ctx, dw, b.img, filepath.Join(b.dir, cfg.Name+".raw"), bootTest, report)
	}
}

func newDeployCmd(a *app) *cobra.Command {
	var yes, dryRun, asJSON bool
	cmd := &cobra.Command{
		Use:   "deploy [name]",
		Short: "Deploy a good build of the project to a [deploy.<name>] of ukdev.toml",
		Long: `deploy builds the project, makes and boot-tests its bootable disk (when the target
needs one), shows the plan and asks for confirmation, then carries it out: the
image you test locally, on a cloud VM or wherever the target puts it. name is the
<name> of a [deploy.<name>] section; without it, deploy.default or the only one.

A failed build never goes out. ^C cancels, and the target removes what it
half-created. Progress goes to standard error; the instance, its address and
URLs to standard output.`,
		Example: "  ukdev deploy --dry-run\n  ukdev deploy prod --yes\n  ukdev deploy list\n  ukdev deploy logs -f",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !yes && !dryRun && !isTerminal(a.stdin) {
				return fmt.Errorf("deploy: %w", errNeedsYes)
			}
			return a.deploy(cmd.Context(), firstArg(args), yes, dryRun, asJSON)
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "deploy without asking for confirmation (scripts, CI)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan and change nothing")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the deploy.* events as JSON lines on standard output")
	cmd.MarkFlagsMutuallyExclusive("yes", "dry-run")
	cmd.AddCommand(newDeployListCmd(a), newDeployDestroyCmd(a), newDeployLogsCmd(a))
	return cmd
}

// firstArg returns the optional [name] argument, "" when not given.
func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

// openDeploy loads the config and opens the deploy called name (the
// default one when empty).
func (a *app) openDeploy(name string) (*project.Config, project.Deploy, deploy.Deployer, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, project.Deploy{}, nil, err
	}
	d, err := cfg.DeployNamed(name)
	if err != nil {
		return nil, project.Deploy{}, nil, err
	}
	dep, err := deploy.Open(d)
	if err != nil {
		return nil, project.Deploy{}, nil, err
	}
	return cfg, d, dep, nil
}

// deploy runs `ukdev deploy`.
func (a *app) deploy(ctx context.Context, name string, yes, dryRun, asJSON bool) error {
	cfg, d, dep, err := a.openDeploy(name)
	if err != nil {
		return err
	}
	progress := a.deployProgress(asJSON)
	b, err := a.goodBuild(ctx, cfg, d.Name)
	if err != nil {
		return err
	}
	defer b.cleanup()
	req := b.req
	s := &deploy.Session{
		Target: d.Target, Request: req, Deployer: dep,
		Disk: a.diskFor(b), TempDisk: true,
		Progress: progress,
		Confirm: func(ctx context.Context, p deploy.Plan) (bool, error) {
			if yes {
				return true, nil
			}
			return a.confirm(ctx, fmt.Sprintf("Deploy build #%d to %s?", req.Build, d.Name))
		},
	}
	defer s.Close()
	plan, err := s.Plan(ctx)
	if err != nil {
		return err
	}
	planOut := a.stdout
	if asJSON {
		planOut = a.stderr
	}
	writePlan(planOut, d.Name, plan)
	if dryRun {
		fmt.Fprintln(a.stderr, "ukdev: dry run: nothing was changed")
		return nil
	}
	res, err := s.Deploy(ctx)
	switch {
	case errors.Is(err, deploy.ErrDeclined):
		fmt.Fprintln(a.stderr, "ukdev: not deployed")
		return &exitError{code: 1}
	case err != nil:
		return err
	}
	if !asJSON {
		writeResult(a.stdout, d.Name, req.Build, res)
	}
	return nil
}

// build is a good build of the project, prepared for a deploy.
type build struct {
	// req is the deploy's request for it (Disk not yet made).
	req deploy.Request
	// setup is the opened flavor; setup.Config the completed config.
	setup *flavor.Setup
	// img is the prepared image, private copies in dir.
	img image.Image
	// dir is a private temporary directory, removed by cleanup.
	dir string
}

// cleanup removes the build's private files.
func (b *build) cleanup() { os.RemoveAll(b.dir) }

// goodBuild builds the project once and prepares its image, as a loop
// would: only a successful build comes back. Call its cleanup.
func (a *app) goodBuild(ctx context.Context, cfg *project.Config, name string) (*build, error) {
	f, err := flavor.Lookup(cfg.Flavor)
	if err != nil {
		return nil, err
	}
	if an, ok := f.(flavor.Announcer); ok {
		if line := an.Announce(cfg); line != "" {
			fmt.Fprintf(a.stderr, "ukdev: %s\n", line)
		}
	}
	setup, err := f.Open(cfg)
	if err != nil {
		return nil, err
	}
	cfg = setup.Config
	lock, err := lockBuild(cfg)
	switch {
	case errors.Is(err, devloop.ErrLocked):
		return nil, fmt.Errorf("deploy: %w: press d in its dashboard to deploy the build it runs", err)
	case err != nil:
		return nil, fmt.Errorf("deploy: %w", err)
	}
	defer lock.Release()
	n := nextBuild(cfg)
	if cfg.Build.Command != "" {
		fmt.Fprintf(a.stderr, "ukdev: building #%d: %s\n", n, cfg.Build.Command)
		out := &printer{w: a.stderr, color: isTerminal(a.stderr) && colorAllowed()}
		b := &builder.Builder{Command: cfg.Build.Command, Dir: cfg.Build.Dir, Env: cfg.Build.Environ(), Supervisor: builder.SelfExe}
		res := b.Run(ctx, func(l builder.Line) { _ = out.line(l.Text) })
		switch {
		case res.Err != nil:
			return nil, fmt.Errorf("deploy: build: %w", res.Err)
		case !res.OK():
			return nil, fmt.Errorf("deploy: %w: build #%d failed (exit %d)", deploy.ErrBadBuild, n, res.ExitCode)
		}
	}
	dir, err := os.MkdirTemp("", "ukdev-deploy-")
	if err != nil {
		return nil, fmt.Errorf("deploy: %w", err)
	}
	b := &build{setup: setup, dir: dir}
	k := cfg.Kernel
	arts := image.Artifacts{Kernel: k.Image, Initrd: k.Initrd, Symbols: k.Symbols, Cmdline: k.Cmdline}
	if loc, ok := setup.Kernel.(flavor.ArtifactLocator); ok {
		arts = loc.Locate(cfg, arts)
	}
	b.img, err = setup.Kernel.Prepare(ctx, &image.Store{Dir: filepath.Join(dir, "images"), Keep: 1}, n, arts)
	if err != nil {
		b.cleanup()
		return nil, fmt.Errorf("deploy: build #%d cannot be booted: %w", n, err)
	}
	b.req = deploy.Request{
		Project: cfg.Name, Name: name, Build: n, BuildOK: true, Flavor: cfg.Flavor,
		Kernel: b.img.Kernel, Initrd: b.img.Initrd, Cmdline: b.img.Cmdline,
		Ports: cfg.VM.Ports, Root: cfg.Root, Program: arts.Kernel,
	}
	return b, nil
}

// nextBuild is the number the project's next build gets, as the log
// store counts builds; 1 when it cannot tell.
func nextBuild(cfg *project.Config) int {
	state, err := project.StateDir(cfg)
	if err != nil {
		return 1
	}
	store, err := logs.Open(filepath.Join(state, "boots"), logs.Options{KeepBoots: cfg.Logs.KeepBoots, MaxBytes: cfg.Logs.MaxBytes})
	var warn *logs.IndexWarning
	if err != nil && !errors.As(err, &warn) {
		return 1
	}
	_, build, err := store.NextNumbers()
	if err != nil {
		return 1
	}
	return max(build, 1)
}

// deployProgress prints a session's progress: on standard error as text
// lines with the elapsed time (but for the end, which the command prints),
// or as deploy.* events on standard output.
// Byte counts are printed every tenth of the way.
func (a *app) deployProgress(asJSON bool) func(deploy.Progress) {
	events := &printer{w: a.stdout, json: true}
	lastTenth := map[string]int64{}
	return func(pr deploy.Progress) {
		if pr.Kind == deploy.KindProgress {
			tenth := pr.Step.Done * 10 / max(pr.Step.Total, 1)
			if last, ok := lastTenth[pr.Step.Name]; ok && tenth == last && pr.Step.Done < pr.Step.Total {
				return
			}
			lastTenth[pr.Step.Name] = tenth
		}
		e := devloop.DeployEvent(pr, time.Now())
		switch {
		case asJSON:
			_ = events.print(e)
			return
		case pr.Kind == deploy.KindDone || pr.Kind == deploy.KindError:
			// The command prints the result, or its error, itself.
			return
		}
		fmt.Fprintf(a.stderr, "ukdev: deploy [%7s] %s\n", elapsedShort(pr.Elapsed), logs.Sanitize(progressText(pr, e.Message), false))
	}
}

// progressText is the text of a progress line: the event's message, with
// the step's name before a step's own message ("create image: hello-b12"),
// which alone would not say what it is about.
func progressText(pr deploy.Progress, message string) string {
	if pr.Kind != deploy.KindStep || pr.Step.Message == "" || pr.Step.Name == "" {
		return message
	}
	text := pr.Step.Name + ": " + pr.Step.Message
	if !pr.Step.Finished {
		text += "…"
	}
	return text
}

// elapsedShort renders a session's time in a fixed short form: "0.0s",
// "12.3s", "2m05s".
func elapsedShort(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}

// writePlan prints a deploy's plan, a fact a line.
func writePlan(w io.Writer, name string, p deploy.Plan) {
	fmt.Fprintf(w, "Plan of deploy %s (target %s):\n", name, p.Target)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range p.Rows {
		fmt.Fprintf(tw, "  %s\t%s\n", r.Key, logs.Sanitize(r.Value, false))
	}
	tw.Flush()
}

// writeResult prints what a deploy made.
func writeResult(w io.Writer, name string, build int, r deploy.Result) {
	fmt.Fprintf(w, "Deployed build #%d to %s in %s\n", build, name, deploy.RoundElapsed(r.Elapsed))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if r.Instance != "" {
		fmt.Fprintf(tw, "  instance\t%s\n", r.Instance)
	}
	if r.ExternalIP != "" {
		fmt.Fprintf(tw, "  ip\t%s\n", r.ExternalIP)
	}
	for _, u := range r.URLs {
		fmt.Fprintf(tw, "  url\t%s\n", u)
	}
	tw.Flush()
}

// confirm asks question on standard error and reads the answer from
// standard input: only y or yes goes ahead. A cancel ends the wait.
func (a *app) confirm(ctx context.Context, question string) (bool, error) {
	if !isTerminal(a.stdin) {
		return false, errNeedsYes
	}
	fmt.Fprintf(a.stderr, "%s [y/N] ", question)
	answer := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(a.stdin).ReadString('\n')
		answer <- line
	}()
	select {
	case <-ctx.Done():
		fmt.Fprintln(a.stderr)
		return false, ctx.Err()
	case line := <-answer:
		switch strings.ToLower(strings.TrimSpace(line)) {
		case "y", "yes":
			return true, nil
		}
		return false, nil
	}
}

func newDeployListCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "list [name]",
		Short: "List what the project runs on a deploy's target",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, d, dep, err := a.openDeploy(firstArg(args))
			if err != nil {
				return err
			}
			list, err := dep.List(cmd.Context(), cfg.Name)
			if err != nil {
				return fmt.Errorf("deploy list: %w", err)
			}
			if len(list) == 0 {
				fmt.Fprintf(a.stderr, "ukdev: %s runs nothing on %s (%s)\n", cfg.Name, d.Name, d.Target)
				return nil
			}
			writeInstances(a.stdout, list)
			return nil
		},
	}
}

// writeInstances prints instances as a table.
func writeInstances(w io.Writer, list []deploy.Instance) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tID\tBUILD\tSTATE\tIP\tCREATED")
	for _, in := range list {
		build, created, ip := "-", "-", in.ExternalIP
		if in.Build > 0 {
			build = fmt.Sprint(in.Build)
		}
		if !in.Created.IsZero() {
			created = in.Created.Local().Format("2006-01-02 15:04")
		}
		if ip == "" {
			ip = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", logs.Sanitize(in.Name, false), logs.Sanitize(in.ID, false), build, logs.Sanitize(in.State, false), ip, created)
	}
	tw.Flush()
}

func newDeployDestroyCmd(a *app) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "destroy [name]",
		Short: "Remove everything ukdev created for the project on a deploy's target",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !yes && !isTerminal(a.stdin) {
				return fmt.Errorf("deploy destroy: %w", errNeedsYes)
			}
			cfg, d, dep, err := a.openDeploy(firstArg(args))
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			list, err := dep.List(ctx, cfg.Name)
			switch {
			case errors.Is(err, errors.ErrUnsupported):
				fmt.Fprintf(a.stderr, "ukdev: %s cannot list what it runs; destroy removes whatever it finds\n", d.Name)
			case err != nil:
				return fmt.Errorf("deploy destroy: %w", err)
			case len(list) == 0:
				fmt.Fprintf(a.stderr, "ukdev: %s runs nothing on %s (%s); destroying to remove what is left\n", cfg.Name, d.Name, d.Target)
			default:
				fmt.Fprintf(a.stdout, "Destroy on %s (%s):\n", d.Name, d.Target)
				writeInstances(a.stdout, list)
			}
			if !yes {
				ok, err := a.confirm(ctx, "Destroy everything "+cfg.Name+" runs on "+d.Name+"?")
				if err != nil {
					return fmt.Errorf("deploy destroy: %w", err)
				}
				if !ok {
					fmt.Fprintln(a.stderr, "ukdev: nothing destroyed")
					return &exitError{code: 1}
				}
			}
			progress := a.deployProgress(false)
			start := time.Now()
			err = dep.Destroy(ctx, cfg.Name, func(s deploy.Step) {
				kind := deploy.KindStep
				if s.Total > 0 {
					kind = deploy.KindProgress
				}
				progress(deploy.Progress{Kind: kind, Target: d.Target, Name: d.Name, Step: s, Elapsed: time.Since(start)})
			})
			if err != nil {
				return fmt.Errorf("deploy destroy: %w", err)
			}
			fmt.Fprintf(a.stderr, "ukdev: destroyed what %s ran on %s in %s\n", cfg.Name, d.Name, deploy.RoundElapsed(time.Since(start)))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "destroy without asking for confirmation")
	return cmd
}

// consolePoll is how often deploy logs -f asks for new console output.
const consolePoll = 2 * time.Second

func newDeployLogsCmd(a *app) *cobra.Command {
	var follow bool
	var instance string
	cmd := &cobra.Command{
		Use:   "logs [name]",
		Short: "Print or follow the serial console of a deployed instance",
		Long: `logs prints the serial console of the project's newest instance on a deploy's
target (--instance names another), through the target's console API; with -f it
keeps printing new output until ^C.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, d, dep, err := a.openDeploy(firstArg(args))
			if err != nil {
				return err
			}
			cr, ok := dep.(deploy.ConsoleReader)
			if !ok {
				return fmt.Errorf("deploy logs: target %s of %s cannot read an instance's console (gcp and aws can)", d.Target, d.Name)
			}
			ctx := cmd.Context()
			if instance == "" {
				list, err := dep.List(ctx, cfg.Name)
				if err != nil {
					return fmt.Errorf("deploy logs: %w", err)
				}
				if len(list) == 0 {
					return fmt.Errorf("deploy logs: %s runs nothing on %s", cfg.Name, d.Name)
				}
				instance = newest(list).ID
			}
			return a.followConsole(ctx, cr, instance, follow, consolePoll)
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new output")
	cmd.Flags().StringVar(&instance, "instance", "", "the instance's id (default: the newest)")
	return cmd
}

// newest returns the instance of the highest build, the latest created
// among equals.
func newest(list []deploy.Instance) deploy.Instance {
	best := list[0]
	for _, in := range list[1:] {
		if in.Build > best.Build || in.Build == best.Build && in.Created.After(best.Created) {
			best = in
		}
	}
	return best
}

// followConsole prints an instance's console from the start, and with
// follow keeps asking for more every poll until ctx ends.
func (a *app) followConsole(ctx context.Context, cr deploy.ConsoleReader, instance string, follow bool, poll time.Duration) error {
	out := &printer{w: a.stdout, color: isTerminal(a.stdout) && colorAllowed()}
	split := logs.NewSplitter(4096)
	flush := func() {
		if rest := split.Flush(); rest != "" {
			_ = out.line(rest)
		}
	}
	var offset int64
	for {
		data, next, err := cr.Console(ctx, instance, offset)
		if err != nil {
			flush()
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("deploy logs: %w", err)
		}
		offset = next
		for _, line := range split.Write(data) {
			_ = out.line(line)
		}
		if !follow {
			flush()
			return nil
		}
		select {
		case <-ctx.Done():
			flush()
			return nil
		case <-time.After(poll):
		}
	}
}
