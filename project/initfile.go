package project

import (
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
// d.Flavor is empty or one of Flavors().
func InitFile(d Detection) []byte {
	flavor := d.Flavor
	if flavor == "" {
		flavor = DefaultFlavor
	}
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
	if d.BuildCommand != "" {
		line("command = %s                # run with sh -c in build.dir; remove for no build step", tomlQuote(d.BuildCommand))
	} else {
		line("# command = \"make\"              # run with sh -c in build.dir; unset: no build step")
	}
	line("# dir = \".\"")
	line("# env = { CFLAGS = \"-O2\" }        # added to the build's environment")
	line("")
	line("[watch]")
	line("# paths = [\".\"]")
	if dir := path.Dir(d.Image); d.Image != "" && dir != "." && !strings.HasPrefix(dir, "..") && !path.IsAbs(dir) {
		// The build writes its objects beside the image: a write there
		// must not start another build.
		line("ignore = [%s]  # the build's outputs; gitignore-style, in addition to .gitignore files", tomlQuote(dir+"/"))
	} else {
		line("# ignore = [\"*.o\", \"build/\"]  # gitignore-style, in addition to .gitignore files")
	}
	line("# debounce = %s", tomlQuote(DefaultDebounce.String()))
	line("# max_wait = %s", tomlQuote(DefaultMaxWait.String()))
	line("")
	line("[kernel]")
	if d.Image != "" {
		line("image = %s", tomlQuote(d.Image))
	} else {
		line("image = %s     # placeholder: the path of the kernel your build produces", tomlQuote(placeholderImage))
	}
	line("# initrd = \"\"")
	line("# symbols = \"\"                   # separate debug ELF; default: the image itself")
	line("# cmdline = \"\"")
	line("")
	line("[vm]")
	line("# qemu = %s", tomlQuote(DefaultQEMU))
	line("# memory = \"%dM\"", DefaultMemoryMiB)
	line("# cpus = %d", DefaultCPUs)
	line("# accel = %s                  # %s", tomlQuote(DefaultAccel), strings.Join(Accels(), ", "))
	line("# machine = %s                # %s", tomlQuote(DefaultMachine), strings.Join(Machines(), ", "))
	line("# ports = [\"8080:80\"]            # [proto:][hostaddr:]hostport:guestport; hostaddr defaults to %s", DefaultHostAddr)
	line("# args = []                      # extra QEMU arguments, appended verbatim")
	line("# network = false                # user networking; on whenever ports are forwarded")
	line("")
	line("[logs]")
	line("# keep_boots = %d", DefaultKeepBoots)
	line("# max_bytes = \"%dM\"", DefaultMaxBytes>>20)
	return []byte(b.String())
}
