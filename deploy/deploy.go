// Package deploy puts the image a developer just tested on a cloud VM.
// Each place a deploy can go is a Target in its own package under deploy/
// (gcp, aws, ops, command), registered once (deploy/all imports them all);
// the rest of ukdev reaches a target only through the interfaces here.
//
// A deploy runs in three stages: the caller makes the bootable raw disk of
// the build and boot-tests it locally (only a good build goes out), the
// target shows its Plan, and after confirmation Deploy carries it out,
// reporting every step and the upload's bytes, and removing what it
// half-created when it fails or is cancelled.
package deploy

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ukdev/ukdev/project"
)

// Target is one kind of place a deploy goes: its name (the value of a
// [deploy.<name>] section's target key) and opening a configured deploy.
type Target interface {
	// Name is the target's config name ("gcp", "aws").
	Name() string
	// SettingsDecoder decodes the target's own keys of a [deploy.<name>]
	// section (every key but target), with their positions, in the same
	// pass as the rest of ukdev.toml; the settings it returns reach Open.
	project.SettingsDecoder
	// Open returns the Deployer for one configured deploy: settings are
	// what the target decoded from its [deploy.<name>] section. Open does
	// not reach the network; clients are made, credentials are looked up
	// lazily by the Deployer's methods.
	Open(settings any) (Deployer, error)
}

// Request is one deploy of one build.
type Request struct {
	// Project names the project (project.Config.Name): it labels or tags
	// every resource the deploy creates, so that List and Destroy find
	// them and nothing else.
	Project string
	// Name is the deploy's name, the <name> of [deploy.<name>].
	Name string
	// Build is the number of the build being deployed, and Flavor its
	// flavor's name.
	Build  int
	Flavor string
	// BuildOK says build Build succeeded (it is the running boot's build,
	// or the last good one): Run refuses a request without it, so that a
	// failed build never goes out.
	BuildOK bool
	// Disk is the absolute path of the bootable raw disk, already
	// boot-tested locally; DiskSize is its size in bytes.
	Disk     string
	DiskSize int64
	// Kernel, Initrd and Cmdline are the local image's parts, for targets
	// that boot a kernel rather than a disk (command, ops).
	Kernel, Initrd, Cmdline string
	// Ports are the ports the VM forwards locally: a target opens the same
	// guest ports to the outside.
	Ports []project.Port
	// Root is the project root (the command target runs its script there).
	Root string
	// Program is the file the build produced as the project names it
	// (kernel.image), for targets that hand the build to another tool
	// that packs it itself (ops).
	Program string
}

// Plan is what a deploy will do, shown before anything is touched.
type Plan struct {
	// Target is the target's name.
	Target string
	// Rows are the plan's facts in the order to show them, such as
	// {"image", "hello-b12"}, {"zone", "europe-west1-b"},
	// {"replaces", "instance hello-b11"}.
	Rows []Row
}

// Row is one fact of a Plan.
type Row struct {
	Key, Value string
}

// Step is one report of a running deploy.
type Step struct {
	// Name says what is being done, in a few words ("upload disk",
	// "create image").
	Name string
	// Done and Total count bytes while a step moves data (Total 0: not a
	// byte count).
	Done, Total int64
	// Finished marks the step's end.
	Finished bool
	// Message is a human line (ops' or a script's output line).
	Message string
}

// Result is what a finished deploy made.
type Result struct {
	// Instance is the target's id of the running instance.
	Instance string
	// ExternalIP is its public address, empty when it has none.
	ExternalIP string
	// URLs are the forwarded ports as the outside reaches them.
	URLs []string
	// Elapsed is the deploy's duration.
	Elapsed time.Duration
}

// Instance is something a target runs for this project.
type Instance struct {
	// ID and Name identify it on the target.
	ID, Name string
	// Build is the build it runs, 0 when unknown.
	Build int
	// State is the target's word for it ("RUNNING", "running").
	State string
	// ExternalIP is its public address, if any.
	ExternalIP string
	// Created is when it was created.
	Created time.Time
}

// Deployer carries out deploys of one configured [deploy.<name>].
type Deployer interface {
	// Plan says what Deploy would do for r, reading the target's state
	// (to say what is replaced) but changing nothing.
	Plan(ctx context.Context, r Request) (Plan, error)
	// Deploy carries out r, calling report for each step and for upload
	// progress. When it fails or ctx is cancelled it removes what it
	// created before returning the error; the previous instance is only
	// removed once the new one runs.
	Deploy(ctx context.Context, r Request, report func(Step)) (Result, error)
	// List returns what the project runs on the target.
	List(ctx context.Context, project string) ([]Instance, error)
	// Destroy removes everything ukdev created on the target for project
	// (instances, images, firewall rules or security groups).
	Destroy(ctx context.Context, project string, report func(Step)) error
}

// ConsoleReader is a Deployer that can read an instance's serial console.
type ConsoleReader interface {
	// Console returns the console output of instance from offset on, and
	// the offset to ask from next time.
	Console(ctx context.Context, instance string, offset int64) (data []byte, next int64, err error)
}

var (
	mu      sync.RWMutex
	targets = map[string]Target{}
)

// Register makes t available under t.Name(), here and to project (the
// decoding of its [deploy.<name>] sections). A target's package calls it
// from init; registering a name twice panics, as it is a programming error.
func Register(t Target) {
	mu.Lock()
	defer mu.Unlock()
	name := t.Name()
	if _, dup := targets[name]; dup {
		panic("deploy: Register called twice for " + name)
	}
	project.RegisterDeployTarget(t)
	targets[name] = t
}

// Open returns the Deployer of a configured deploy (project.Config's
// DeployNamed).
func Open(d project.Deploy) (Deployer, error) {
	t, err := Lookup(d.Target)
	if err != nil {
		return nil, err
	}
	dep, err := t.Open(d.Settings)
	if err != nil {
		return nil, fmt.Errorf("deploy: open %s: %w", d.Name, err)
	}
	return dep, nil
}

// Lookup returns the target registered under name.
func Lookup(name string) (Target, error) {
	mu.RLock()
	t, ok := targets[name]
	mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("deploy: unknown target %q (supported: %s)", name, strings.Join(Names(), ", "))
	}
	return t, nil
}

// Names lists the registered target names, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	names := make([]string, 0, len(targets))
	for n := range targets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
