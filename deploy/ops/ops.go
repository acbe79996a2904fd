// Package ops is the deploy target that hands the project to the user's
// ops (https://ops.city), for the clouds ops supports: ops packs the
// program into a Nanos image with the project's ops config, creates it on
// the provider and starts an instance of it, and ukdev streams its output.
//
//	[deploy.cloud]
//	target = "ops"
//	provider = "gcp"           # ops -t: gcp, aws, azure, do, vultr, upcloud, ...
//	zone = "europe-west1-b"    # ops -z
//	project_id = "my-project"  # ops -g (GCP)
//	config = "config.json"     # ops -c (default: config.json when the project has one)
//
// The image and the instance are both named
// <project>-<deploy>-b<build>-<time>;
// that prefix is how list, destroy and the next deploy find them. A
// deploy deletes the project's previous instances and images once the new
// instance is created.
package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ukdev/ukdev/deploy"
	"github.com/ukdev/ukdev/deploy/internal/lines"
	"github.com/ukdev/ukdev/project"
)

// Name is the target's value of the target key.
const Name = "ops"

// DefaultBinary is the ops binary looked up in PATH.
const DefaultBinary = "ops"

// cleanupTimeout bounds the removal of what a failed or cancelled deploy
// half-created.
const cleanupTimeout = 2 * time.Minute

func init() { deploy.Register(target{}) }

// Settings are a [deploy.<name>] section of target "ops".
type Settings struct {
	// Provider is ops' target cloud (-t).
	Provider string
	// Zone is the provider's zone (-z); empty leaves it to ops' config.
	Zone string
	// ProjectID is the provider's project (-g, GCP); empty leaves it to
	// ops' config or GOOGLE_CLOUD_PROJECT.
	ProjectID string
	// Config is the absolute path of ops' config file (-c); empty runs
	// ops without one.
	Config string
	// Binary is the ops executable.
	Binary string
	// Program is the absolute path of the program to hand to ops; empty
	// means the build's (kernel.image).
	Program string
	// Root is the project root, where ops runs.
	Root string
	// Deploy is the deploy's <name>, part of its resources' names.
	Deploy string
}

type section struct {
	Provider  any `toml:"provider"`
	Zone      any `toml:"zone"`
	ProjectID any `toml:"project_id"`
	Config    any `toml:"config"`
	Ops       any `toml:"ops"`
	Program   any `toml:"program"`
}

type target struct{}

func (target) Name() string    { return Name }
func (target) NewSection() any { return &section{} }

func (target) DecodeSettings(s *project.Section, raw any) any {
	r := raw.(*section)
	out := Settings{Root: s.Root(), Deploy: strings.TrimPrefix(s.Name(), "deploy.")}
	var ok bool
	if out.Provider, ok = s.String("provider", r.Provider, ""); ok && out.Provider == "" {
		s.Report("provider", "required: ops' target cloud (ops -t), such as \"gcp\", \"aws\", \"azure\", \"do\"")
	}
	out.Zone, _ = s.String("zone", r.Zone, "")
	out.ProjectID, _ = s.String("project_id", r.ProjectID, "")
	if out.Binary, ok = s.String("ops", r.Ops, DefaultBinary); ok && out.Binary == "" {
		s.Report("ops", "empty ops binary (the default is %q)", DefaultBinary)
	}
	out.Program, _ = s.Path("program", r.Program, false)
	if r.Config != nil {
		out.Config, _ = s.Path("config", r.Config, false)
	} else if def := filepath.Join(s.Root(), "config.json"); isFile(def) {
		out.Config = def
	}
	return out
}

// isFile reports whether path is a regular file.
func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

func (target) Open(settings any) (deploy.Deployer, error) {
	s, ok := settings.(Settings)
	if !ok {
		return nil, fmt.Errorf("ops: open: settings of type %T", settings)
	}
	return &Deployer{s: s}, nil
}

// Deployer runs ops for a configured deploy.
type Deployer struct {
	s Settings
	// names are the names given to requests' resources (name).
	names map[string]string
}

// NeedsDisk is false: ops packs the program into its own image.
func (d *Deployer) NeedsDisk() bool { return false }

// ResourceName is the name of the image and the instance of build of
// deploy name of project, made at t: <project>-<name>-b<build>-<MMDDhhmmss>
// in lower case letters, digits and dashes, as the clouds accept. The
// time keeps two deploys of one build apart (ukdev deploy outside a loop
// numbers its build after the last one a loop recorded).
func ResourceName(projectName, name string, build int, t time.Time) string {
	return prefix(projectName, name) + strconv.Itoa(build) + "-" + t.UTC().Format("0102150405")
}

// name returns the name of r's image and instance, the same for a Plan
// and the Deploy that follows it.
func (d *Deployer) name(r deploy.Request) string {
	key := fmt.Sprintf("%s\x00%s\x00%d", r.Project, r.Name, r.Build)
	if n, ok := d.names[key]; ok {
		return n
	}
	if d.names == nil {
		d.names = map[string]string{}
	}
	n := ResourceName(r.Project, r.Name, r.Build, time.Now())
	d.names[key] = n
	return n
}

// prefix is what the names of a deploy's resources start with.
func prefix(projectName, name string) string {
	return safeName(projectName) + "-" + safeName(name) + "-b"
}

// safeName lowers s and turns what clouds refuse in names into dashes.
func safeName(s string) string {
	b := []byte(strings.ToLower(s))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			b[i] = '-'
		}
	}
	return string(b)
}

// ours returns the build of the resource called name when it is one of
// a deploy's, whose names start with p.
func ours(name, p string) (build int, ok bool) {
	rest, ok := strings.CutPrefix(name, p)
	if !ok {
		return 0, false
	}
	num, stamp, _ := strings.Cut(rest, "-")
	build, err := strconv.Atoi(num)
	if err != nil || strings.Trim(stamp, "0123456789") != "" {
		return 0, false
	}
	return build, true
}

// flags are the provider and config flags every ops command here takes.
func (d *Deployer) flags() []string {
	f := []string{"-t", d.s.Provider}
	if d.s.Zone != "" {
		f = append(f, "-z", d.s.Zone)
	}
	if d.s.ProjectID != "" {
		f = append(f, "-g", d.s.ProjectID)
	}
	if d.s.Config != "" {
		f = append(f, "-c", d.s.Config)
	}
	return f
}

// program is the file handed to ops.
func (d *Deployer) program(r deploy.Request) string {
	if d.s.Program != "" {
		return d.s.Program
	}
	return r.Program
}

// ImageCreate returns the argv that creates the image of r.
func (d *Deployer) ImageCreate(r deploy.Request) []string {
	argv := []string{d.s.Binary, "image", "create", d.program(r)}
	argv = append(argv, d.flags()...)
	return append(argv, "-i", d.name(r))
}

// InstanceCreate returns the argv that starts an instance of r's image,
// with its guest ports open.
func (d *Deployer) InstanceCreate(r deploy.Request) []string {
	name := d.name(r)
	argv := []string{d.s.Binary, "instance", "create", name}
	argv = append(argv, d.flags()...)
	argv = append(argv, "-i", name)
	for _, p := range r.Ports {
		if p.Proto == "udp" {
			argv = append(argv, "--udp", strconv.Itoa(p.GuestPort))
		} else {
			argv = append(argv, "-p", strconv.Itoa(p.GuestPort))
		}
	}
	return argv
}

// Plan says which ops commands Deploy runs and what they replace; it
// lists the instances through ops, which changes nothing.
func (d *Deployer) Plan(ctx context.Context, r deploy.Request) (deploy.Plan, error) {
	old, err := d.instances(ctx, prefix(r.Project, r.Name))
	if err != nil {
		return deploy.Plan{}, err
	}
	name := d.name(r)
	replaces := "nothing"
	if len(old) > 0 {
		names := make([]string, len(old))
		for i, in := range old {
			names[i] = in.Name
		}
		replaces = "instances and images " + strings.Join(names, ", ") + " (deleted once the new instance is created)"
	}
	ports := make([]string, len(r.Ports))
	for i, p := range r.Ports {
		ports[i] = fmt.Sprintf("%d/%s", p.GuestPort, p.Proto)
	}
	rows := []deploy.Row{
		{Key: "deploy", Value: r.Name},
		{Key: "build", Value: fmt.Sprintf("#%d (%s)", r.Build, r.Flavor)},
		{Key: "provider", Value: d.s.Provider},
		{Key: "zone", Value: or(d.s.Zone, "ops' default")},
		{Key: "project", Value: or(d.s.ProjectID, "ops' default")},
		{Key: "ops config", Value: or(d.s.Config, "none")},
		{Key: "program", Value: d.program(r)},
		{Key: "image", Value: name},
		{Key: "instance", Value: name},
		{Key: "ports", Value: or(strings.Join(ports, ", "), "none")},
		{Key: "replaces", Value: replaces},
		{Key: "runs", Value: strings.Join(d.ImageCreate(r), " ")},
		{Key: "then", Value: strings.Join(d.InstanceCreate(r), " ")},
	}
	return deploy.Plan{Target: Name, Rows: rows}, nil
}

// Deploy creates the image and the instance through ops, then deletes
// the deploy's previous instances and images. When it fails or ctx is
// cancelled before the instance is created, it deletes the instance and
// image it was creating; once it is, the deploy has succeeded, and a
// previous instance that cannot be deleted is reported as a step.
func (d *Deployer) Deploy(ctx context.Context, r deploy.Request, report func(deploy.Step)) (deploy.Result, error) {
	if d.program(r) == "" {
		return deploy.Result{}, errors.New("ops: deploy: no program to hand to ops (set program in the deploy's section)")
	}
	p := prefix(r.Project, r.Name)
	old, err := d.instances(ctx, p)
	if err != nil {
		return deploy.Result{}, err
	}
	name := d.name(r)
	if err := d.stream(ctx, "create image", d.ImageCreate(r), report); err != nil {
		d.cleanup(ctx, name, false, report)
		return deploy.Result{}, err
	}
	if err := d.stream(ctx, "create instance", d.InstanceCreate(r), report); err != nil {
		d.cleanup(ctx, name, true, report)
		return deploy.Result{}, err
	}
	// The new instance runs: what follows cannot undo the deploy, and
	// its failures are reported as steps.
	res := deploy.Result{Instance: name}
	if now, err := d.instances(ctx, p); err != nil {
		report(deploy.Step{Name: "read address", Message: fmt.Sprintf("the new instance's address is unknown: %v", err)})
	} else {
		for _, in := range now {
			if in.Name == name {
				res.Instance = or(in.ID, name)
				res.ExternalIP = in.ExternalIP
			}
		}
	}
	res.URLs = urls(res.ExternalIP, r.Ports)
	// The older instances go, and their images.
	for _, in := range old {
		if err := d.remove(ctx, in.Name, true, report); err != nil {
			report(deploy.Step{Name: "delete " + in.Name, Message: fmt.Sprintf("%s is left running: %v (ukdev deploy destroy removes it)", in.Name, err)})
		}
	}
	return res, nil
}

// or returns s, or def when s is empty.
func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// urls are the addresses of the forwarded guest ports at ip.
func urls(ip string, ports []project.Port) []string {
	if ip == "" {
		return nil
	}
	var out []string
	for _, p := range ports {
		switch {
		case p.Proto == "udp":
			out = append(out, fmt.Sprintf("udp://%s:%d", ip, p.GuestPort))
		case p.GuestPort == 80:
			out = append(out, "http://"+ip)
		case p.GuestPort == 443:
			out = append(out, "https://"+ip)
		default:
			out = append(out, fmt.Sprintf("http://%s:%d", ip, p.GuestPort))
		}
	}
	return out
}

// cleanup removes what a failed deploy was creating, even after ctx was
// cancelled: the instance (when it got that far) and the image.
func (d *Deployer) cleanup(ctx context.Context, name string, instance bool, report func(deploy.Step)) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	_ = d.remove(ctx, name, instance, report)
}

// remove deletes the instance (when instance is set) and the image called
// name.
func (d *Deployer) remove(ctx context.Context, name string, instance bool, report func(deploy.Step)) error {
	if instance {
		argv := append([]string{d.s.Binary, "instance", "delete", name}, d.flags()...)
		if err := d.stream(ctx, "delete instance "+name, argv, report); err != nil {
			return err
		}
	}
	argv := append([]string{d.s.Binary, "image", "delete", name}, d.flags()...)
	return d.stream(ctx, "delete image "+name, append(argv, "--assume-yes"), report)
}

// stream runs argv in the project root as the step named step, reporting
// ops' output lines.
func (d *Deployer) stream(ctx context.Context, step string, argv []string, report func(deploy.Step)) error {
	report(deploy.Step{Name: step})
	err := lines.Run(ctx, lines.Cmd{Argv: argv, Dir: d.s.Root, Env: os.Environ()}, func(_ lines.Stream, text string) {
		report(deploy.Step{Name: step, Message: text})
	})
	if err != nil {
		return d.explain(step, err)
	}
	report(deploy.Step{Name: step, Finished: true})
	return nil
}

// explain wraps an error of running ops, saying how to install it when it
// is missing.
func (d *Deployer) explain(step string, err error) error {
	if errors.Is(err, exec.ErrNotFound) {
		return fmt.Errorf("ops: %s: %w (install ops from https://ops.city, or set ops = \"/path/to/ops\" in the deploy's section)", step, err)
	}
	return fmt.Errorf("ops: %s: %w", step, err)
}

// instance is one element of `ops instance list --json`.
type instance struct {
	ID        string
	Name      string
	Status    string
	Created   string
	PublicIps []string
}

// instances lists the instances whose names start with p (and go on with
// a build number).
func (d *Deployer) instances(ctx context.Context, p string) ([]deploy.Instance, error) {
	argv := append([]string{d.s.Binary, "instance", "list"}, d.flags()...)
	argv = append(argv, "--json")
	var out, stderr []string
	err := lines.Run(ctx, lines.Cmd{Argv: argv, Dir: d.s.Root, Env: os.Environ()}, func(s lines.Stream, text string) {
		if s == lines.Stdout {
			out = append(out, text)
		} else {
			stderr = append(stderr, text)
		}
	})
	if err != nil {
		if len(stderr) > 0 {
			err = fmt.Errorf("%w: %s", err, strings.Join(stderr, "; "))
		}
		return nil, d.explain("list instances", err)
	}
	var list []instance
	text := strings.TrimSpace(strings.Join(out, "\n"))
	if text != "" && text != "null" {
		if err := json.Unmarshal([]byte(text), &list); err != nil {
			return nil, fmt.Errorf("ops: list instances: ops printed no JSON list: %w", err)
		}
	}
	var found []deploy.Instance
	for _, in := range list {
		build, ok := ours(in.Name, p)
		if !ok {
			continue
		}
		di := deploy.Instance{ID: or(in.ID, in.Name), Name: in.Name, Build: build, State: in.Status}
		if len(in.PublicIps) > 0 {
			di.ExternalIP = in.PublicIps[0]
		}
		di.Created, _ = time.Parse(time.RFC3339, in.Created)
		found = append(found, di)
	}
	slices.SortFunc(found, func(a, b deploy.Instance) int { return a.Build - b.Build })
	return found, nil
}

// List returns the deploy's instances on the provider.
func (d *Deployer) List(ctx context.Context, projectName string) ([]deploy.Instance, error) {
	return d.instances(ctx, prefix(projectName, d.s.Deploy))
}

// Destroy deletes the deploy's instances and their images.
func (d *Deployer) Destroy(ctx context.Context, projectName string, report func(deploy.Step)) error {
	list, err := d.List(ctx, projectName)
	if err != nil {
		return err
	}
	for _, in := range list {
		if err := d.remove(ctx, in.Name, true, report); err != nil {
			return err
		}
	}
	return nil
}
