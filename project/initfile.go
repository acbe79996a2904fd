package project

import (
	"cmp"
	"fmt"
	"path"
	"strings"
)

// placeholderImage is written as kernel.image when Detect found none, so
// that the new file loads and the first build says which file is missing.
const placeholderImage = "build/kernel.elf"

// InitFile renders a commented ukdev.toml for a detection: the detected
// values are set, and every other key appears commented out with its
// default, so the file documents itself. The result parses whenever
// d.Flavor is empty or one of Flavors(). The detection's flavor changes
// what it needs to (InitParts): a flavor that finds its image itself
// leaves kernel.image unset, one that runs a Go program forwards the
// ports it listens on, and one with a section of its own gets it,
// commented.
func InitFile(d Detection) []byte {
	flavor := cmp.Or(d.Flavor, DefaultFlavor)
	var parts InitParts
	if f, ok := LookupFlavor(flavor); ok {
		parts = f.InitParts(d)
	}
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("# ukdev.toml: how ukdev builds, watches and boots this project.")
	line("# Paths are relative to this file's directory; commented keys show their defaults.")
	if d.Reason != "" {
		line("# Detected: %s", OneLine(d.Reason))
	}
	line("")
	line("# name = \"...\"                  # default: the name of this directory")
	line("flavor = %s                    # supported: %s", TOMLString(flavor), strings.Join(Flavors(), ", "))
	line("")
	line("[build]")
	switch {
	case d.BuildCommand != "":
		line("command = %s                # run with sh -c in build.dir; remove for no build step", TOMLString(d.BuildCommand))
	case parts.BuildCommand != "":
		line("%s", parts.BuildCommand)
	default:
		line("# command = \"make\"              # run with sh -c in build.dir; unset: no build step")
	}
	line("# dir = \".\"")
	line("# env = { CFLAGS = \"-O2\" }        # added to the build's environment")
	line("")
	line("[watch]")
	line("# paths = [\".\"]")
	switch dir := path.Dir(d.Image); {
	case parts.WatchIgnore != "":
		line("%s", parts.WatchIgnore)
	case parts.IgnoreProgram && d.Image != "" && !path.IsAbs(d.Image) && !strings.HasPrefix(d.Image, ".."):
		// The build writes the program into the project, and go build a
		// temporary file beside it first: neither write may start
		// another build.
		program := "/" + path.Clean(d.Image)
		if strings.Contains(d.BuildCommand, "go build") {
			line("ignore = [%s, %s]  # the built program and go build's temporary file; gitignore-style, in addition to .gitignore files",
				TOMLString(program), TOMLString(program+"-go-tmp-*"))
		} else {
			line("ignore = [%s]  # the built program; gitignore-style, in addition to .gitignore files", TOMLString(program))
		}
	case d.Image != "" && dir != "." && !strings.HasPrefix(dir, "..") && !path.IsAbs(dir):
		// The build writes its objects beside the image: a write there
		// must not start another build.
		line("ignore = [%s]  # the build's outputs; gitignore-style, in addition to .gitignore files", TOMLString(dir+"/"))
	default:
		line("# ignore = [\"*.o\", \"build/\"]  # gitignore-style, in addition to .gitignore files")
	}
	line("# debounce = %s", TOMLString(DefaultDebounce.String()))
	line("# max_wait = %s", TOMLString(DefaultMaxWait.String()))
	line("# settle = %s  # quiet time that ends a save (a few files); the rest waits the debounce", TOMLString(DefaultSettle.String()))
	line("")
	line("[kernel]")
	switch {
	case parts.Kernel != nil:
		for _, l := range parts.Kernel {
			line("%s", l)
		}
	default:
		if d.Image != "" {
			line("image = %s", TOMLString(d.Image))
		} else {
			line("image = %s     # placeholder: the path of the kernel your build produces", TOMLString(placeholderImage))
		}
		line("# initrd = \"\"")
		line("# symbols = \"\"                   # separate debug ELF; default: the image itself")
		line("# cmdline = \"\"")
	}
	line("")
	line("[vm]")
	line("# qemu = %s", TOMLString(DefaultQEMU))
	if parts.Memory != "" {
		line("%s", parts.Memory)
	} else {
		line("# memory = \"%dM\"", DefaultMemoryMiB)
	}
	line("# cpus = %d", DefaultCPUs)
	line("# accel = %s                  # %s", TOMLString(DefaultAccel), strings.Join(Accels(), ", "))
	line("# machine = %s                # %s", TOMLString(DefaultMachine), strings.Join(Machines(), ", "))
	if parts.ForwardPorts && len(d.Ports) > 0 {
		specs := make([]string, len(d.Ports))
		for i, p := range d.Ports {
			specs[i] = TOMLString(fmt.Sprintf("%d:%d", p, p))
		}
		line("ports = [%s]  # the ports the program listens on; [proto:][hostaddr:]hostport:guestport, hostaddr defaults to %s",
			strings.Join(specs, ", "), DefaultHostAddr)
	} else {
		line("# ports = [\"8080:80\"]            # [proto:][hostaddr:]hostport:guestport; hostaddr defaults to %s", DefaultHostAddr)
	}
	if parts.PortsNote != "" {
		line("%s", parts.PortsNote)
	}
	line("# args = []                      # extra QEMU arguments, appended verbatim")
	line("# network = false                # user networking; on whenever ports are forwarded")
	line("# backend = %s                # %s (this machine), %s (a libvirt host, local or over ssh)", TOMLString(BackendQEMU), BackendQEMU, BackendLibvirt)
	line("#                                # with libvirt: libvirt_uri (default LIBVIRT_DEFAULT_URI, else qemu:///system),")
	line("#                                # libvirt_pool (default %s), libvirt_network; see the README", TOMLString(DefaultLibvirtPool))
	line("")
	line("[logs]")
	line("# keep_boots = %d", DefaultKeepBoots)
	line("# max_bytes = \"%dM\"", DefaultMaxBytes>>20)
	line("")
	line("[metrics]")
	line("# url = \"/metrics\"               # the app's Prometheus text or Go expvar JSON: a path on the first forwarded port, \":8080/metrics\" or \"http://127.0.0.1:8080/metrics\"")
	line("# series = [\"go_goroutines\"]     # the series to graph; default: a few the app has")
	line("# interval = %s                # time between two scrapes, and between two health checks", TOMLString(DefaultMetricsInterval.String()))
	line("")
	line("[health]")
	line("# url = \"/healthz\"               # answers 2xx once the app is ready: \"ready in N ms\" after each boot, then a status")
	if len(parts.Section) > 0 {
		line("")
		for _, l := range parts.Section {
			line("%s", l)
		}
	}
	line("")
	for _, l := range DeployExample() {
		line("%s", l)
	}
	return []byte(b.String())
}

// InitExtras returns the files `ukdev init` writes beside ukdev.toml for
// a detection (InitParts.Files), when the project has none of their
// names; nil for most flavors. An empty d.Flavor is DefaultFlavor, as for
// InitFile.
func InitExtras(d Detection) []ExtraFile {
	flavor := cmp.Or(d.Flavor, DefaultFlavor)
	f, ok := LookupFlavor(flavor)
	if !ok {
		return nil
	}
	return f.InitParts(d).Files
}

// DeployExample returns the commented [deploy.<name>] section `ukdev init`
// writes last. Its lines start with "#" and no space, so that removing
// that one character makes them TOML, and tests (and Uncomment) that
// uncomment "# key = value" lines of the section before leave them be.
func DeployExample() []string {
	targets := "see the README's Deploy section"
	if names := DeployTargets(); len(names) > 0 {
		targets = "one of " + strings.Join(names, ", ") + "; see the README's Deploy section"
	}
	return []string{
		"#[deploy.prod]                    # `ukdev deploy` (d in the dashboard) sends the build you tested here",
		"#target = \"command\"               # " + targets,
		"#command = \"./deploy.sh\"          # run with sh -c in the project root; UKDEV_DISK, UKDEV_KERNEL, ... set",
	}
}
