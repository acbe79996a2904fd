package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/manager"
	"github.com/ukdev/ukdev/tui/panel"
)

// psGap is the time between ukdev ps's two status rounds, over which it
// measures each QEMU's CPU use.
const psGap = 300 * time.Millisecond

// downWait bounds how long ukdev down waits for a detached ukdev to end.
const downWait = 30 * time.Second

func newPsCmd(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ps",
		Short: "List the VMs ukdev runs on this machine, all projects",
		Long: `ps lists every running ukdev loop of yours on this machine, whatever its project
and however it runs (ukdev dev or run in a terminal, or detached by ukdev up): its
project, flavor, the VM's state (running, paused, crashed = frozen for inspection,
exited, stopped, building, starting, none), boot, uptime, accelerator, QEMU's CPU
use and memory, forwarded ports, ukdev's pid, and how it runs. Entries of a ukdev
that died are cleaned up, never shown. --json prints a JSON array.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			vms, err := manager.ListSampled(cmd.Context(), psGap)
			if err != nil {
				return err
			}
			if asJSON {
				if vms == nil {
					vms = []manager.VM{}
				}
				out, err := json.MarshalIndent(vms, "", "  ")
				if err != nil {
					return err
				}
				_, err = fmt.Fprintln(a.stdout, string(out))
				return err
			}
			return writePs(a.stdout, vms, time.Now())
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the list as JSON")
	return cmd
}

// writePs prints vms as ukdev ps's table.
func writePs(w io.Writer, vms []manager.VM, now time.Time) error {
	if len(vms) == 0 {
		_, err := fmt.Fprintln(w, "no ukdev is running (ukdev up starts one detached)")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROJECT\tFLAVOR\tSTATE\tBOOT\tUPTIME\tACCEL\tCPU%\tRSS\tPORTS\tPID\tMODE")
	for _, v := range vms {
		state := v.State
		if v.Error != "" {
			state = "unreachable"
		}
		boot, up, cpu, rss := "-", "-", "-", "-"
		if v.Boot > 0 {
			boot = fmt.Sprintf("#%d", v.Boot)
		}
		if v.Uptime > 0 {
			up = panel.FormatUptime(v.Uptime)
		}
		if v.QEMUPID != 0 {
			cpu = fmt.Sprintf("%.1f", v.CPUPercent)
			rss = formatBytes(v.RSS)
		}
		ports := strings.Join(v.Ports, ", ")
		if ports == "" {
			ports = "-"
		}
		accel := v.Accel
		if accel == "" {
			accel = "-"
		}
		mode := "terminal"
		if v.Detached {
			mode = "detached"
		}
		if v.Attached {
			mode += ", dashboard"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n",
			v.Project, v.Flavor, state, boot, up, strings.ToUpper(accel), cpu, rss, ports, v.PID, mode)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, v := range vms {
		if v.Error != "" {
			fmt.Fprintf(w, "%s: %s\n", v.Project, v.Error)
		}
	}
	return nil
}

// formatBytes renders a size in MiB (GiB past 10 GiB).
func formatBytes(n int64) string {
	if n >= 10<<30 {
		return fmt.Sprintf("%.1fG", float64(n)/(1<<30))
	}
	return fmt.Sprintf("%.1fM", float64(n)/(1<<20))
}

// findTarget returns the running loop a command acts on: the project
// named by args[0] (a name or a directory), else the one of the work
// directory (-C) or of the config given (-c).
func (a *app) findTarget(ctx context.Context, args []string) (manager.VM, error) {
	if len(args) == 1 {
		return manager.Find(ctx, args[0])
	}
	dir, err := a.workDir()
	if err != nil {
		return manager.VM{}, err
	}
	if a.configPath != "" {
		cfg, err := a.loadConfig()
		if err != nil {
			return manager.VM{}, err
		}
		dir = cfg.Root
	}
	return manager.Find(ctx, dir)
}

// dialTarget finds the loop args name and connects to it.
func (a *app) dialTarget(ctx context.Context, args []string) (manager.VM, *manager.Client, error) {
	v, err := a.findTarget(ctx, args)
	if err != nil {
		return v, nil, err
	}
	c, err := manager.Dial(ctx, v.Entry)
	return v, c, err
}

// newActionCmd makes ukdev stop, pause, resume or reboot.
func newActionCmd(a *app, act devloop.Action, short string) *cobra.Command {
	return &cobra.Command{
		Use:   string(act) + " [project]",
		Short: short,
		Long: short + `. The project is a running project's name or a directory in it
(default: the current directory, or -C); ukdev ps lists them.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			v, c, err := a.dialTarget(ctx, args)
			if err != nil {
				return err
			}
			defer c.Close()
			var after manager.VM
			if err := c.Call(ctx, string(act), nil, &after); err != nil {
				if errors.Is(err, devloop.ErrNoVM) {
					return fmt.Errorf("%s: %s has no VM running (state %s)", act, v.Project, v.State)
				}
				return fmt.Errorf("%s %s: %w", act, v.Project, err)
			}
			msg := after.State
			if after.Boot > 0 {
				msg = fmt.Sprintf("%s (boot #%d)", after.State, after.Boot)
			}
			fmt.Fprintf(a.stdout, "%s: %s\n", v.Project, msg)
			return nil
		},
	}
}

func newDownCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "down [project]",
		Short: "Stop a detached VM and its ukdev (or a foreground ukdev's VM)",
		Long: `down ends a ukdev started with ukdev up: its VM is stopped and the ukdev exits,
leaving no QEMU behind. On a ukdev running in a terminal (ukdev dev) it stops the VM
and leaves the loop to its terminal. The project is a name or a directory in it
(default: the current directory, or -C).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			v, c, err := a.dialTarget(ctx, args)
			if err != nil {
				return err
			}
			defer c.Close()
			if !v.Detached {
				if err := c.Stop(ctx); err != nil && !errors.Is(err, devloop.ErrNoVM) {
					return fmt.Errorf("down %s: %w", v.Project, err)
				}
				fmt.Fprintf(a.stdout, "%s: VM stopped; its ukdev (pid %d) runs in a terminal: quit it there\n", v.Project, v.PID)
				return nil
			}
			if err := c.Quit(ctx); err != nil {
				return fmt.Errorf("down %s: %w", v.Project, err)
			}
			if err := waitGone(ctx, v.Entry, downWait); err != nil {
				return fmt.Errorf("down %s: %w", v.Project, err)
			}
			fmt.Fprintf(a.stdout, "%s: down (ukdev pid %d ended, no VM left)\n", v.Project, v.PID)
			return nil
		},
	}
}

// waitGone waits until e's ukdev has ended: its registry entry is gone,
// which happens once it has stopped its VM (the entry's lock is released
// when the process ends, however it ends).
func waitGone(ctx context.Context, e manager.Entry, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		vms, err := manager.List(ctx)
		if err != nil {
			return err
		}
		alive := false
		for _, v := range vms {
			alive = alive || (v.PID == e.PID && v.Root == e.Root)
		}
		if !alive {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ukdev (pid %d) still runs after %s", e.PID, within)
		}
		// Polling: the registry has no event to wait on.
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func newAttachCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "attach [project]",
		Short: "Open the dashboard of a detached VM (q detaches, the VM runs on)",
		Long: `attach shows the dashboard of a VM started with ukdev up in this terminal, console
input included. q (or ctrl+c outside console input) detaches: the dashboard ends and
the VM keeps running. The project is a name or a directory in it (default: the
current directory, or -C).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, inOK := a.stdin.(*os.File)
			out, outOK := a.stdout.(*os.File)
			if !inOK || !outOK || !isTerminal(in) || !isTerminal(out) {
				return errors.New("attach: standard input and output must be a terminal")
			}
			ctx := cmd.Context()
			v, c, err := a.dialTarget(ctx, args)
			if err != nil {
				return err
			}
			defer c.Close()
			if err := c.Attach(ctx, in, out, os.Environ()); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("attach %s: %w", v.Project, err)
			}
			return nil
		},
	}
}

// serveControl registers the session's loop and serves its control socket.
// A registry that cannot be used is reported (in the log, and on stderr
// when no dashboard owns the terminal); the loop runs anyway.
func (a *app) serveControl(ctx context.Context, s *devSession, detached, dashboard bool) *manager.Server {
	e, err := manager.NewEntry(s.cfg, detached)
	var srv *manager.Server
	if err == nil {
		// Served until Close, after the loop has ended: ukdev ps sees a
		// stopping loop stop its VM.
		srv, err = manager.Serve(context.WithoutCancel(ctx), e, s.loop)
	}
	if err != nil {
		s.log.Warn("control socket", "err", err)
		if !dashboard {
			fmt.Fprintf(a.stderr, "ukdev: warning: ukdev ps will not list this loop: %v\n", err)
		}
		return nil
	}
	srv.SetDashboard(dashboard)
	handleRemote(srv, s.loop)
	return srv
}
