package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/manager"
	"github.com/ukdev/ukdev/project"
	"github.com/ukdev/ukdev/tui/panel"
	"github.com/ukdev/ukdev/vm/libvirt"
)

// psGap is the time between ukdev ps's two status rounds, over which it
// measures each QEMU's CPU use.
const psGap = 300 * time.Millisecond

// downWait bounds how long ukdev down waits for a detached ukdev to end.
const downWait = 30 * time.Second

func newPsCmd(a *app) *cobra.Command {
	var asJSON bool
	var on []string
	cmd := &cobra.Command{
		Use:   "ps",
		Short: "List the VMs ukdev runs, all projects, here and on libvirt hosts",
		Long: `ps lists every running ukdev loop of yours on this machine, whatever its project
and however it runs (ukdev dev or run in a terminal, or detached by ukdev up): its
project, flavor, the VM's state (running, paused, crashed = frozen for inspection,
exited, stopped, building, starting, none), boot, uptime, accelerator, QEMU's CPU
use and memory, forwarded ports, ukdev's pid, and how it runs. Entries of a ukdev
that died are cleaned up, never shown. --json prints a JSON array.

It also lists the domains ukdev created on each known libvirt host: the hosts of
the running loops, the current project's (vm.libvirt_uri), each --on URI and
LIBVIRT_DEFAULT_URI. A loop's own domain shows in its row (HOST: the URI's host, or
local); any other ukdev domain gets a row of its own, its mode "orphan" (its ukdev
on this machine is gone: the next ukdev of that project on that host removes it)
or "ukdev on HOST pid N". A host that does not answer is reported after the table.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOn(on); err != nil {
				return err
			}
			ctx := cmd.Context()
			vms, err := manager.ListSampled(ctx, psGap)
			if err != nil {
				return err
			}
			hosts := manager.ListDomains(ctx, a.knownHosts(vms, on))
			vms = manager.Merge(vms, hosts, localOwners())
			if asJSON {
				for _, h := range hosts {
					if h.Err != nil {
						fmt.Fprintf(a.stderr, "ukdev: %s: unreachable: %v\n", libvirt.Redact(h.URI), h.Err)
					}
				}
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
			return writePs(a.stdout, vms, hosts, time.Now())
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the list as JSON")
	cmd.Flags().StringArrayVar(&on, "on", nil, "also list ukdev's domains on the libvirt host at `URI` (repeatable)")
	return cmd
}

// checkOn checks the --on URIs.
func checkOn(on []string) error {
	for _, uri := range on {
		if err := project.CheckLibvirtURI(uri); err != nil {
			return fmt.Errorf("--on %s: %w", uri, err)
		}
	}
	return nil
}

// knownHosts returns the libvirt hosts ukdev ps looks at: those of the
// running loops vms, the current project's, the --on URIs and
// LIBVIRT_DEFAULT_URI.
func (a *app) knownHosts(vms []manager.VM, on []string) []string {
	extra := append([]string{a.projectLibvirtURI()}, on...)
	return manager.Hosts(vms, append(extra, os.Getenv("LIBVIRT_DEFAULT_URI"))...)
}

// projectLibvirtURI returns the libvirt URI of the current project (-C,
// -c) when its ukdev.toml loads and runs its VMs through libvirt, else
// "". A directory without a ukdev.toml has none: ps says nothing about
// what detection would guess.
func (a *app) projectLibvirtURI() string {
	path := a.configPath
	if path == "" {
		dir, err := a.workDir()
		if err != nil {
			return ""
		}
		if path, err = project.Find(dir); err != nil {
			return ""
		}
	}
	cfg, err := project.Load(path)
	if err != nil || cfg.VM.Backend != project.BackendLibvirt {
		return ""
	}
	return libvirt.ResolveURI(cfg.VM.LibvirtURI)
}

// localOwners is this machine as domains' owners record it.
func localOwners() manager.Owners {
	host, _ := os.Hostname()
	return manager.Owners{Hostname: host, Alive: processAlive}
}

// processAlive reports whether a process with pid exists here.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// psHost is ukdev ps's HOST for a libvirt URI: its host, or "local"
// for a URI without one (qemu:///system); "-" when QEMU runs the VM here.
func psHost(uri string) string {
	if uri == "" {
		return "-"
	}
	u, err := url.Parse(uri)
	if err != nil {
		return uri
	}
	if u.Host == "" {
		return "local"
	}
	return u.Host
}

// writePs prints vms as ukdev ps's table, then the hosts that did not
// answer. The HOST column shows only when a VM runs on a libvirt host.
func writePs(w io.Writer, vms []manager.VM, hosts []manager.HostDomains, now time.Time) error {
	if len(vms) == 0 {
		_, err := fmt.Fprintln(w, "no ukdev is running (ukdev up starts one detached)")
		if err != nil {
			return err
		}
		return writeUnreachable(w, hosts)
	}
	withHost := slices.ContainsFunc(vms, func(v manager.VM) bool { return v.Host != "" })
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	hostCol := func(v manager.VM) string {
		if !withHost {
			return ""
		}
		return psHost(v.Host) + "\t"
	}
	if withHost {
		fmt.Fprintln(tw, "PROJECT\tFLAVOR\tHOST\tSTATE\tBOOT\tUPTIME\tACCEL\tCPU%\tRSS\tPORTS\tPID\tMODE")
	} else {
		fmt.Fprintln(tw, "PROJECT\tFLAVOR\tSTATE\tBOOT\tUPTIME\tACCEL\tCPU%\tRSS\tPORTS\tPID\tMODE")
	}
	for _, v := range vms {
		if v.Domain != "" && v.PID == 0 {
			// A domain no running loop of ours owns.
			mode := "orphan"
			if !v.Orphan {
				mode = fmt.Sprintf("ukdev on %s pid %d", v.OwnerHost, v.OwnerPID)
			}
			fmt.Fprintf(tw, "%s\t-\t%s%s\t-\t-\t-\t-\t-\t-\t-\t%s\n", v.Project, hostCol(v), v.State, mode)
			continue
		}
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
		fmt.Fprintf(tw, "%s\t%s\t%s%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n",
			v.Project, v.Flavor, hostCol(v), state, boot, up, strings.ToUpper(accel), cpu, rss, ports, v.PID, mode)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, v := range vms {
		if v.Error != "" {
			fmt.Fprintf(w, "%s: %s\n", v.Project, v.Error)
		}
	}
	return writeUnreachable(w, hosts)
}

// writeUnreachable prints a line for each host that did not answer.
func writeUnreachable(w io.Writer, hosts []manager.HostDomains) error {
	for _, h := range hosts {
		if h.Err != nil {
			if _, err := fmt.Fprintf(w, "%s: unreachable: %v\n", libvirt.Redact(h.URI), h.Err); err != nil {
				return err
			}
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

// domainActions are the actions ukdev takes on a ukdev domain of a
// libvirt host that no running loop of this machine owns.
var domainActions = map[devloop.Action]string{
	devloop.ActionStop:   libvirt.ActionStop,
	devloop.ActionPause:  libvirt.ActionPause,
	devloop.ActionResume: libvirt.ActionResume,
}

// newActionCmd makes ukdev stop, pause, resume or reboot.
func newActionCmd(a *app, act devloop.Action, short string) *cobra.Command {
	var on []string
	_, onDomains := domainActions[act]
	use, long := string(act)+" [project]", short+`. The project is a running project's name or a directory in it
(default: the current directory, or -C); ukdev ps lists them.`
	if onDomains {
		use = string(act) + " [project|domain]"
		long += `

A name that is no running project but a ukdev domain on a known libvirt host (ukdev ps
lists them: the hosts of the running loops, the current project's, LIBVIRT_DEFAULT_URI;
with --on, only the hosts given) is acted on through libvirt: stop destroys it, pause
suspends it, resume resumes it. The name is a domain's name, or the project of exactly
one domain. A domain of a running ukdev of this machine goes through that ukdev.`
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := checkOn(on); err != nil {
				return err
			}
			v, err := a.findTarget(ctx, args)
			if err != nil {
				if !onDomains || len(args) == 0 || !errors.Is(err, manager.ErrNotFound) {
					return err
				}
				return a.actOnDomain(ctx, act, args[0], on, err)
			}
			return a.actOnLoop(ctx, act, v)
		},
	}
	if onDomains {
		cmd.Flags().StringArrayVar(&on, "on", nil, "look for the domain on the libvirt host at `URI` only (repeatable)")
	}
	return cmd
}

// actOnLoop has the running loop v take act.
func (a *app) actOnLoop(ctx context.Context, act devloop.Action, v manager.VM) error {
	c, err := manager.Dial(ctx, v.Entry)
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
}

// actOnDomain takes act on the ukdev domain name names on the known
// libvirt hosts (only those of on when given): through its loop when a
// running ukdev of this machine owns it, else through libvirt. notLoop
// is why name is no running loop, said when it is no domain either.
func (a *app) actOnDomain(ctx context.Context, act devloop.Action, name string, on []string, notLoop error) error {
	vms, err := manager.List(ctx)
	if err != nil {
		return err
	}
	uris := on
	if len(uris) == 0 {
		uris = a.knownHosts(vms, nil)
	}
	if len(uris) == 0 {
		return notLoop
	}
	hosts := manager.ListDomains(ctx, uris)
	ref, err := manager.FindDomain(hosts, name)
	if err != nil {
		for _, h := range hosts {
			if h.Err != nil {
				fmt.Fprintf(a.stderr, "ukdev: %s: unreachable: %v\n", libvirt.Redact(h.URI), h.Err)
			}
		}
		if errors.Is(err, manager.ErrNotFound) {
			return fmt.Errorf("%w; nor is it a ukdev domain on %s", notLoop, strings.Join(uris, ", "))
		}
		return err
	}
	if v, ok := manager.OwnerLoop(vms, ref.Domain, localOwners().Hostname); ok {
		return a.actOnLoop(ctx, act, v)
	}
	d, err := libvirt.Act(ctx, ref.URI, ref.Domain.Name, domainActions[act])
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "%s (%s on %s): %s\n", d.Name, filepath.Base(d.Owner.Project), psHost(ref.URI), d.State)
	return nil
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
