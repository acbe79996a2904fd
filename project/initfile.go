package project

import (
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"
)

// placeholderImage is written as kernel.image when Detect found none, so
// that the new file loads and the first build says which file is missing.
const placeholderImage = "build/kernel.elf"

// placeholderProgram is written as kernel.image of a nanos project when
// Detect found no program.
const placeholderProgram = "app"

// InitFile renders a commented ukdev.toml for a detection: the detected
// values are set, and every other key appears commented out with its
// default, so the file documents itself. The result parses whenever
// d.Flavor is empty or one of Flavors(). A unikraft file leaves the build
// command and the image to the flavor; a linux one forwards the detected
// ports and has a [linux] section for the kernel.
func InitFile(d Detection) []byte {
	flavor := d.Flavor
	if flavor == "" {
		flavor = DefaultFlavor
	}
	nanos, linux, unikraft := flavor == "nanos", flavor == "linux", flavor == "unikraft"
	// program flavors run a program the build writes into the project.
	program := nanos || linux
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("# ukdev.toml: how ukdev builds, watches and boots this project.")
	line("# Paths are relative to this file's directory; commented keys show their defaults.")
	if d.Reason != "" {
		line("# Detected: %s", oneLine(d.Reason))
	}
	line("")
	line("# name = \"...\"                  # default: the name of this directory")
	line("flavor = %s                    # supported: %s", tomlQuote(flavor), strings.Join(Flavors(), ", "))
	line("")
	line("[build]")
	switch {
	case d.BuildCommand != "":
		line("command = %s                # run with sh -c in build.dir; remove for no build step", tomlQuote(d.BuildCommand))
	case unikraft:
		line("# command = \"make\"              # unset: kraft build when kraft is installed and there is a Kraftfile, else make")
	default:
		line("# command = \"make\"              # run with sh -c in build.dir; unset: no build step")
	}
	line("# dir = \".\"")
	line("# env = { CFLAGS = \"-O2\" }        # added to the build's environment")
	line("")
	line("[watch]")
	line("# paths = [\".\"]")
	switch dir := path.Dir(d.Image); {
	case unikraft:
		line("# ignore = [\"*.o\"]              # gitignore-style, in addition to .gitignore files, .unikraft/ and build/")
	case program && d.Image != "" && !path.IsAbs(d.Image) && !strings.HasPrefix(d.Image, ".."):
		// The build writes the program into the project, and go build a
		// temporary file beside it first: neither write may start
		// another build.
		program := "/" + path.Clean(d.Image)
		if strings.Contains(d.BuildCommand, "go build") {
			line("ignore = [%s, %s]  # the built program and go build's temporary file; gitignore-style, in addition to .gitignore files",
				tomlQuote(program), tomlQuote(program+"-go-tmp-*"))
		} else {
			line("ignore = [%s]  # the built program; gitignore-style, in addition to .gitignore files", tomlQuote(program))
		}
	case d.Image != "" && dir != "." && !strings.HasPrefix(dir, "..") && !path.IsAbs(dir):
		// The build writes its objects beside the image: a write there
		// must not start another build.
		line("ignore = [%s]  # the build's outputs; gitignore-style, in addition to .gitignore files", tomlQuote(dir+"/"))
	default:
		line("# ignore = [\"*.o\", \"build/\"]  # gitignore-style, in addition to .gitignore files")
	}
	line("# debounce = %s", tomlQuote(DefaultDebounce.String()))
	line("# max_wait = %s", tomlQuote(DefaultMaxWait.String()))
	line("")
	line("[kernel]")
	switch {
	case unikraft && d.Image != "":
		line("image = %s", tomlQuote(d.Image))
	case unikraft:
		line("# image = \"\"                    # default: the newest *_qemu-x86_64 in .unikraft/build or build")
	case nanos && d.Image != "":
		line("image = %s  # the program the build produces; Nanos runs it", tomlQuote(d.Image))
	case linux && d.Image != "":
		line("image = %s  # the static program the build produces; Linux runs it as /init", tomlQuote(d.Image))
	case program:
		line("image = %s     # placeholder: the path of the program your build produces", tomlQuote(placeholderProgram))
	case d.Image != "":
		line("image = %s", tomlQuote(d.Image))
	default:
		line("image = %s     # placeholder: the path of the kernel your build produces", tomlQuote(placeholderImage))
	}
	switch {
	case nanos:
		// The program is its own symbol file; its arguments are the ops
		// config's Args.
	case linux:
		line("# cmdline = \"\"                   # added to the flavor's (console=ttyS0 panic=-1 ip=...); words after -- are the program's arguments")
	case unikraft:
		line("# cmdline = \"\"                   # used when unikraft.kernel_args and unikraft.app_args are both empty")
	default:
		line("# initrd = \"\"")
		line("# symbols = \"\"                   # separate debug ELF; default: the image itself")
		line("# cmdline = \"\"")
	}
	line("")
	line("[vm]")
	line("# qemu = %s", tomlQuote(DefaultQEMU))
	switch {
	case nanos:
		line("# memory = \"512M\"               # default: %s's RunConfig.Memory, else 512M", OpsConfigName)
	case unikraft:
		line("# memory = \"64M\"                # kraft's default")
	default:
		line("# memory = \"%dM\"", DefaultMemoryMiB)
	}
	line("# cpus = %d", DefaultCPUs)
	line("# accel = %s                  # %s", tomlQuote(DefaultAccel), strings.Join(Accels(), ", "))
	line("# machine = %s                # %s", tomlQuote(DefaultMachine), strings.Join(Machines(), ", "))
	if linux && len(d.Ports) > 0 {
		specs := make([]string, len(d.Ports))
		for i, p := range d.Ports {
			specs[i] = tomlQuote(fmt.Sprintf("%d:%d", p, p))
		}
		line("ports = [%s]  # the ports the program listens on; [proto:][hostaddr:]hostport:guestport, hostaddr defaults to %s",
			strings.Join(specs, ", "), DefaultHostAddr)
	} else {
		line("# ports = [\"8080:80\"]            # [proto:][hostaddr:]hostport:guestport; hostaddr defaults to %s", DefaultHostAddr)
	}
	if nanos {
		line("#   (and %s's RunConfig.Ports, each on %s with the guest's port number)", OpsConfigName, DefaultHostAddr)
	}
	line("# args = []                      # extra QEMU arguments, appended verbatim")
	line("# network = false                # user networking; on whenever ports are forwarded")
	line("")
	line("[logs]")
	line("# keep_boots = %d", DefaultKeepBoots)
	line("# max_bytes = \"%dM\"", DefaultMaxBytes>>20)
	switch {
	case nanos:
		line("")
		line("[nanos]")
		if d.OpsConfig != "" && d.OpsConfig != OpsConfigName {
			line("config = %s", tomlQuote(d.OpsConfig))
		} else {
			line("# config = %s        # ops' config: arguments, environment, files, ports, memory", tomlQuote(OpsConfigName))
		}
		line("# kernel = \"\"                   # a kernel.img to boot instead of ops' kernel cache (~/.ops)")
		line("# version = \"\"                  # a Nanos version in the cache; default: the config's NanosVersion, else latest.txt")
		line("# boot = \"direct\"               # direct (microvm, fastest) or disk (q35, as ops boots)")
	case unikraft:
		line("")
		line("[unikraft]")
		line("# kernel_args = \"\"              # Unikraft's own parameters (vfs.fstab=..., netdev.ip=...), before -- on the command line")
		line("# app_args = \"\"                 # the application's arguments, after --")
		line("# debug = \"\"                    # the debug ELF for symbols; default: <image>.dbg")
	case linux:
		line("")
		line("[linux]")
		line("# kernel = \"\"                   # a bzImage to boot; default: vmlinuz of the Go module github.com/gokrazy/kernel.amd64")
		if d.LinuxKernelVersion != "" {
			line("kernel_version = %s  # that module's version, fetched with go mod download", tomlQuote(d.LinuxKernelVersion))
		} else {
			line("# kernel_version = \"\"           # that module's version, fetched with go mod download; default: ukdev's pinned one")
		}
		line("# files = [\"etc/motd:/etc/motd\"]  # host path:/guest/path pairs added to the initramfs beside /init")
	}
	return []byte(b.String())
}

// opsConfig is the part of an ops config OpsConfigFile writes, in the
// order ops' documentation lists the keys.
type opsConfig struct {
	Program   string            `json:"Program"`
	Args      []string          `json:"Args"`
	Env       map[string]string `json:"Env"`
	RunConfig *opsRunConfig     `json:"RunConfig,omitempty"`
}

type opsRunConfig struct {
	Ports []string `json:"Ports"`
}

// OpsConfigFile renders a minimal ops config (config.json) for a nanos
// detection: the program, empty arguments (after argv[0], which is the
// program's name) and environment to fill in, and the detected ports
// forwarded. The same file drives `ops run -c config.json`. It returns nil
// for any other flavor.
func OpsConfigFile(d Detection) []byte {
	if d.Flavor != "nanos" {
		return nil
	}
	c := opsConfig{Program: d.Image, Args: []string{}, Env: map[string]string{}}
	if c.Program == "" {
		c.Program = placeholderProgram
	}
	if len(d.Ports) > 0 {
		c.RunConfig = &opsRunConfig{}
		for _, p := range d.Ports {
			c.RunConfig.Ports = append(c.RunConfig.Ports, strconv.Itoa(p))
		}
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		// Strings, slices and maps of strings always encode.
		return nil
	}
	return append(data, '\n')
}
