// Package flavor is the registry of the kinds of unikernel ukdev runs. Each
// kind is a package under flavor/ that registers itself once (flavor/all
// imports them all); devloop, cmd/ukdev, project and tui reach a flavor only
// through the interfaces here, never by its name.
//
// A Flavor is the kind itself: its name, and opening a project of that kind.
// Open returns a Kernel, the per-project value the loop prepares images
// with and decodes boots with. Whatever only some flavors can do is a small
// optional interface, found with a type assertion: a Kernel may be a
// ConsoleParser, ConsoleExplainer, ConsoleFilterer, ArtifactLocator,
// SyslogShipper, DiskWriter, Debugger or WatchSuggester; a Flavor may be a BuildChooser, Describer, Announcer
// or Commander.
package flavor

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/ukdev/ukdev/crash"
	"github.com/ukdev/ukdev/guestexit"
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/project"
	"github.com/ukdev/ukdev/symbols"
)

// Flavor is one kind of unikernel, registered by its package.
type Flavor interface {
	// project.Flavor is what the flavor says about projects on disk: its
	// name (the value of ukdev.toml's flavor key and the name of its own
	// [section]), detection, its rules on the [kernel] keys, and what
	// `ukdev init` writes for it.
	project.Flavor
	// Open completes a copy of cfg with what the flavor adds (defaults,
	// the build command, watch ignores, memory, ports from its own config)
	// and returns the Kernel to prepare and decode boots with. cfg itself
	// is not modified.
	Open(cfg *project.Config) (*Setup, error)
}

// Setup is an opened project of one flavor.
type Setup struct {
	// Config is cfg completed by the flavor.
	Config *project.Config
	// Kernel prepares images and decodes boots.
	Kernel Kernel
	// Notes are lines to show the user once, before the first build: keys
	// of the flavor's own config that ukdev ignores, a build command the
	// flavor chose and why.
	Notes []string
}

// Kernel is an opened project's image preparation and exit decoding.
type Kernel interface {
	// Prepare copies the build's artifacts into store and returns the
	// image to boot, or an error saying why it cannot be booted. It stops
	// early, with ctx's error, when ctx ends.
	Prepare(ctx context.Context, store *image.Store, build int, a image.Artifacts, inUse ...int) (image.Image, error)
	// Decode turns what the backend reported into an exit reason.
	Decode(o image.Outcome) guestexit.Exit
}

// ConsoleLine is what a flavor reads from one console line of its kernel's
// log format: the severity, the printing library and the source location.
// Empty fields (and a zero Line) are not known.
type ConsoleLine struct {
	// Level is the severity in lower case, most severe first: "crit",
	// "err", "warn", "info", "debug".
	Level string
	// Library is the kernel library that printed the line ("libkvmplat").
	Library string
	// File and Line locate the print call in the kernel's sources.
	File string
	Line int
}

// ConsoleParser is a Kernel whose guest prints structured console lines,
// so that the console can colour them by level and the logs panel filter
// them by level.
type ConsoleParser interface {
	// ParseConsoleLine parses one console line; false means it is not in
	// the kernel's format (the application's own output, a banner).
	ParseConsoleLine(line string) (ConsoleLine, bool)
}

// ConsoleExplainer is a Kernel that reads a crash out of the console's
// last lines.
type ConsoleExplainer interface {
	// Explain refines e with what the console's last lines show, and
	// returns the crash they report (nil when none), symbolised against
	// the image's symbols.
	Explain(e guestexit.Exit, console []string, img image.Image) (guestexit.Exit, *crash.Crash)
}

// ConsoleFilterer is a Kernel whose boots print lines nobody wants to see
// (a firmware preamble).
type ConsoleFilterer interface {
	// ConsoleFilter returns a fresh filter for one boot: it reports
	// whether a console line is shown.
	ConsoleFilter() func(line string) bool
}

// ArtifactLocator is a Kernel that decides which of the build's files to
// boot where the config leaves it open (Unikraft's newest
// <app>_qemu-x86_64, and its .dbg for symbols).
type ArtifactLocator interface {
	// Locate returns a, the artifacts named by cfg, completed with what
	// the build made.
	Locate(cfg *project.Config, a image.Artifacts) image.Artifacts
}

// SyslogShipper is a Kernel whose guest can ship its log over syslog (RFC
// 5424 over UDP) to the host, beside the serial console.
type SyslogShipper interface {
	// WantsSyslog reports whether this project's guest ships syslog.
	WantsSyslog() bool
	// SyslogTo points the guest at the host's loopback UDP port, before
	// the first Prepare.
	SyslogTo(port int)
}

// DiskWriter is a Kernel that writes its prepared images as bootable raw
// disks: disks a machine's firmware boots alone, with no -kernel, as a
// cloud or the user's own hypervisor does (`ukdev disk`, deploy).
type DiskWriter interface {
	// WriteDisk writes the disk of img, an image this Kernel prepared, to
	// path, replacing it only once the disk is whole: a failed or
	// cancelled (ctx) write leaves nothing at path. It reports progress
	// through opts.Progress, and returns the disk with what a boot test
	// needs (vm.BootTest). A kernel that cannot boot from a disk is an
	// error wrapping image.ErrNoDiskBoot that says why.
	WriteDisk(ctx context.Context, img image.Image, path string, opts image.DiskOptions) (image.Disk, error)
}

// WatchSuggester is a Kernel that knows which of its guest's variables are
// worth watching first in the memory panel (the allocator's statistics,
// the Go runtime's), before the program's other globals.
type WatchSuggester interface {
	// SuggestWatches returns names of variables t holds, most useful
	// first; none when t has nothing the flavor knows of.
	SuggestWatches(t *symbols.Table) []string
}

// BuildChooser is a Flavor that picks the build command itself when the
// config names none (Unikraft: kraft build, or make without kraft).
type BuildChooser interface {
	// ChooseBuild returns the command that builds the project in dir and
	// why it was chosen; cmd is "" when the project has no build step.
	ChooseBuild(dir string) (cmd, why string)
}

// Describer is a Flavor that says in a few words what ukdev boots of a
// project, for the line ukdev prints when it runs a project without a
// ukdev.toml.
type Describer interface {
	// Describe returns what ukdev boots given the build output the
	// project was detected with, as a phrase: "booting build/k.elf",
	// "running app as /init on Linux".
	Describe(image string) string
}

// Announcer is a Flavor whose Open may be slow the first time (it
// downloads something), and says so before it starts, so that the wait
// does not look like a hang.
type Announcer interface {
	// Announce returns the line to show before Open(cfg), "" when Open
	// fetches nothing.
	Announce(cfg *project.Config) string
}

// Commander is a Flavor with subcommands of its own under ukdev (Nanos'
// `ukdev kernel`, which manages ops' kernel cache).
type Commander interface {
	// Commands returns new commands to add to ukdev's root command. They
	// write to their command's OutOrStdout and ErrOrStderr.
	Commands() []*cobra.Command
}

var (
	mu      sync.RWMutex
	flavors = map[string]Flavor{}
)

// Register makes f available under f.Name(), here and to project (its
// section of ukdev.toml, detection, init). A flavor's package calls it from
// init; registering a name twice panics, as it is a programming error.
func Register(f Flavor) {
	mu.Lock()
	defer mu.Unlock()
	name := f.Name()
	if _, dup := flavors[name]; dup {
		panic("flavor: Register called twice for " + name)
	}
	project.RegisterFlavor(f)
	flavors[name] = f
}

// Lookup returns the flavor registered under name.
func Lookup(name string) (Flavor, error) {
	mu.RLock()
	f, ok := flavors[name]
	mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("flavor: unknown flavor %q (supported: %s)", name, strings.Join(Names(), ", "))
	}
	return f, nil
}

// Names lists the registered flavor names, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	names := make([]string, 0, len(flavors))
	for n := range flavors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
