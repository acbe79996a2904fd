// Package command is the deploy target that runs any script: the user's
// own way to deploy (Unikraft Cloud's CLI, a private hypervisor, a
// registry push) gets the build's disk, kernel and facts in environment
// variables, and its output streams into ukdev's progress.
//
//	[deploy.mine]
//	target = "command"
//	command = "./deploy.sh"      # sh -c, in the project root
//	disk = true                  # make the bootable disk (UKDEV_DISK)
//	list = "./list.sh"           # optional: what runs, one instance a line
//	destroy = "./destroy.sh"     # optional: remove it all
package command

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/ukdev/ukdev/deploy"
	"github.com/ukdev/ukdev/deploy/internal/lines"
	"github.com/ukdev/ukdev/project"
)

// Name is the target's value of the target key.
const Name = "command"

func init() { deploy.Register(target{}) }

// Settings are a [deploy.<name>] section of target "command".
type Settings struct {
	// Command deploys: run with sh -c in the project root.
	Command string
	// Disk says the script needs the bootable disk (UKDEV_DISK); false
	// spares making and boot-testing it, for a script that sends the
	// kernel.
	Disk bool
	// List prints what the project runs on the target, one instance a
	// line: its id, then optionally its state and address, separated by
	// blanks. Empty: ukdev deploy list is not supported.
	List string
	// Destroy removes everything the project runs on the target. Empty:
	// ukdev deploy destroy is not supported.
	Destroy string
	// Root is the project root, where the scripts run.
	Root string
}

// section is the raw [deploy.<name>] section.
type section struct {
	Command any `toml:"command"`
	Disk    any `toml:"disk"`
	List    any `toml:"list"`
	Destroy any `toml:"destroy"`
}

type target struct{}

func (target) Name() string    { return Name }
func (target) NewSection() any { return &section{} }

func (target) DecodeSettings(s *project.Section, raw any) any {
	r := raw.(*section)
	out := Settings{Root: s.Root()}
	var ok bool
	if out.Command, ok = s.String("command", r.Command, ""); ok && strings.TrimSpace(out.Command) == "" {
		s.Report("command", "required: the script that deploys, run with sh -c in the project root (command = \"./deploy.sh\")")
	}
	out.Disk = true
	switch d := r.Disk.(type) {
	case nil:
	case bool:
		out.Disk = d
	default:
		s.Report("disk", "want true or false")
	}
	out.List, _ = s.String("list", r.List, "")
	out.Destroy, _ = s.String("destroy", r.Destroy, "")
	return out
}

func (target) Open(settings any) (deploy.Deployer, error) {
	s, ok := settings.(Settings)
	if !ok {
		return nil, fmt.Errorf("command: open: settings of type %T", settings)
	}
	return &Deployer{s: s}, nil
}

// Deployer runs a configured deploy's scripts.
type Deployer struct {
	s Settings
}

// NeedsDisk reports whether the script gets a disk (disk = true).
func (d *Deployer) NeedsDisk() bool { return d.s.Disk }

// Environ returns the variables the scripts get besides ukdev's own
// environment, sorted. resultFile is UKDEV_RESULT.
func Environ(r deploy.Request, resultFile string) []string {
	ports := make([]string, len(r.Ports))
	for i, p := range r.Ports {
		ports[i] = fmt.Sprintf("%d/%s", p.GuestPort, p.Proto)
	}
	env := []string{
		"UKDEV_BUILD=" + strconv.Itoa(r.Build),
		"UKDEV_CMDLINE=" + r.Cmdline,
		"UKDEV_DEPLOY=" + r.Name,
		"UKDEV_DISK=" + r.Disk,
		"UKDEV_DISK_SIZE=" + strconv.FormatInt(r.DiskSize, 10),
		"UKDEV_FLAVOR=" + r.Flavor,
		"UKDEV_INITRD=" + r.Initrd,
		"UKDEV_KERNEL=" + r.Kernel,
		"UKDEV_PORTS=" + strings.Join(ports, " "),
		"UKDEV_PROGRAM=" + r.Program,
		"UKDEV_PROJECT=" + r.Project,
		"UKDEV_RESULT=" + resultFile,
		"UKDEV_ROOT=" + r.Root,
	}
	return env
}

// Plan says what the script will be run with.
func (d *Deployer) Plan(ctx context.Context, r deploy.Request) (deploy.Plan, error) {
	rows := []deploy.Row{
		{Key: "deploy", Value: r.Name},
		{Key: "build", Value: fmt.Sprintf("#%d (%s)", r.Build, r.Flavor)},
		{Key: "command", Value: d.s.Command},
		{Key: "runs in", Value: d.s.Root},
	}
	if d.s.Disk {
		rows = append(rows, deploy.Row{Key: "disk", Value: fmt.Sprintf("%s (%s, boot-tested)", r.Disk, deploy.Size(r.DiskSize))})
	} else {
		rows = append(rows, deploy.Row{Key: "disk", Value: "none (disk = false)"})
	}
	rows = append(rows, deploy.Row{Key: "kernel", Value: r.Kernel})
	if r.Initrd != "" {
		rows = append(rows, deploy.Row{Key: "initrd", Value: r.Initrd})
	}
	if r.Cmdline != "" {
		rows = append(rows, deploy.Row{Key: "cmdline", Value: r.Cmdline})
	}
	ports := "none"
	if len(r.Ports) > 0 {
		list := make([]string, len(r.Ports))
		for i, p := range r.Ports {
			list[i] = fmt.Sprintf("%d/%s", p.GuestPort, p.Proto)
		}
		ports = strings.Join(list, ", ")
	}
	rows = append(rows,
		deploy.Row{Key: "ports", Value: ports},
		deploy.Row{Key: "environment", Value: "UKDEV_DISK, UKDEV_KERNEL, UKDEV_INITRD, UKDEV_CMDLINE, UKDEV_PROGRAM, UKDEV_PROJECT, UKDEV_DEPLOY, UKDEV_BUILD, UKDEV_FLAVOR, UKDEV_PORTS, UKDEV_ROOT, UKDEV_RESULT"},
		deploy.Row{Key: "replaces", Value: "whatever the script replaces"},
	)
	return deploy.Plan{Target: Name, Rows: rows}, nil
}

// Deploy runs the command, streaming its output lines as steps. The
// script may write what it made to the file named by UKDEV_RESULT, one
// key=value a line: instance=, ip=, url= (several). A cancel kills its
// process group; cleaning up after itself is the script's own business.
func (d *Deployer) Deploy(ctx context.Context, r deploy.Request, report func(deploy.Step)) (deploy.Result, error) {
	f, err := os.CreateTemp("", "ukdev-deploy-result-*")
	if err != nil {
		return deploy.Result{}, fmt.Errorf("command: %w", err)
	}
	result := f.Name()
	f.Close()
	defer os.Remove(result)
	if err := d.run(ctx, r, d.s.Command, result, report); err != nil {
		return deploy.Result{}, err
	}
	res, err := readResult(result)
	if err != nil {
		return deploy.Result{}, fmt.Errorf("command: UKDEV_RESULT: %w", err)
	}
	return res, nil
}

// run runs script with the request's environment, reporting its lines.
func (d *Deployer) run(ctx context.Context, r deploy.Request, script, result string, report func(deploy.Step)) error {
	c := lines.Cmd{Argv: []string{"sh", "-c", script}, Dir: d.s.Root, Env: append(os.Environ(), Environ(r, result)...)}
	return d.stream(ctx, c, script, report)
}

// stream runs c as the step named step, reporting its output lines.
func (d *Deployer) stream(ctx context.Context, c lines.Cmd, step string, report func(deploy.Step)) error {
	report(deploy.Step{Name: step})
	err := lines.Run(ctx, c, func(_ lines.Stream, text string) {
		report(deploy.Step{Name: step, Message: text})
	})
	if err != nil {
		return fmt.Errorf("command: %s: %w", step, err)
	}
	report(deploy.Step{Name: step, Finished: true})
	return nil
}

// readResult reads the UKDEV_RESULT file.
func readResult(path string) (deploy.Result, error) {
	var res deploy.Result
	f, err := os.Open(path)
	if err != nil {
		return res, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		switch k = strings.TrimSpace(k); {
		case !ok:
			return res, fmt.Errorf("line %d: want key=value, got %q", n, line)
		case k == "instance":
			res.Instance = strings.TrimSpace(v)
		case k == "ip":
			res.ExternalIP = strings.TrimSpace(v)
		case k == "url":
			res.URLs = append(res.URLs, strings.TrimSpace(v))
		default:
			return res, fmt.Errorf("line %d: unknown key %q (instance, ip, url)", n, k)
		}
	}
	return res, sc.Err()
}

// List runs the list script and reads one instance a line: its id, then
// optionally its state and external address.
func (d *Deployer) List(ctx context.Context, projectName string) ([]deploy.Instance, error) {
	if d.s.List == "" {
		return nil, fmt.Errorf("command: list: %w: set list = \"...\" in the deploy's section", errors.ErrUnsupported)
	}
	var out []deploy.Instance
	var stderr []string
	c := lines.Cmd{Argv: []string{"sh", "-c", d.s.List}, Dir: d.s.Root, Env: append(os.Environ(), "UKDEV_PROJECT="+projectName)}
	err := lines.Run(ctx, c, func(s lines.Stream, text string) {
		if s == lines.Stderr {
			stderr = append(stderr, text)
			return
		}
		f := strings.Fields(text)
		if len(f) == 0 {
			return
		}
		in := deploy.Instance{ID: f[0], Name: f[0]}
		if len(f) > 1 {
			in.State = f[1]
		}
		if len(f) > 2 {
			in.ExternalIP = f[2]
		}
		out = append(out, in)
	})
	if err != nil {
		if len(stderr) > 0 {
			return nil, fmt.Errorf("command: list: %w: %s", err, strings.Join(stderr, "; "))
		}
		return nil, fmt.Errorf("command: list: %w", err)
	}
	return out, nil
}

// Destroy runs the destroy script, reporting its lines.
func (d *Deployer) Destroy(ctx context.Context, projectName string, report func(deploy.Step)) error {
	if d.s.Destroy == "" {
		return fmt.Errorf("command: destroy: %w: set destroy = \"...\" in the deploy's section", errors.ErrUnsupported)
	}
	c := lines.Cmd{Argv: []string{"sh", "-c", d.s.Destroy}, Dir: d.s.Root, Env: append(os.Environ(), "UKDEV_PROJECT="+projectName)}
	return d.stream(ctx, c, d.s.Destroy, report)
}
