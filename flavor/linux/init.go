package linux

import (
	"fmt"

	"github.com/ukdev/ukdev/project"
)

// InitParts implements project.Flavor: the program is the image, the
// ports it listens on are forwarded, and the kernel module's version is
// pinned to the one this ukdev boots by default, so that a later ukdev
// does not change the kernel under the project.
func (Flavor) InitParts(d project.Detection) project.InitParts {
	p := project.InitParts{
		IgnoreProgram: true,
		ForwardPorts:  true,
		Section: []string{
			"[linux]",
			"# kernel = \"\"                   # a bzImage to boot; default: vmlinuz of the Go module github.com/gokrazy/kernel.amd64",
			fmt.Sprintf("kernel_version = %s  # that module's version, fetched with go mod download", project.TOMLString(DefaultKernelVersion)),
			"# files = [\"etc/motd:/etc/motd\"]  # host path:/guest/path pairs added to the initramfs beside /init",
		},
	}
	if d.Image != "" {
		p.Kernel = []string{fmt.Sprintf("image = %s  # the static program the build produces; Linux runs it as /init", project.TOMLString(d.Image))}
	} else {
		p.Kernel = []string{fmt.Sprintf("image = %s     # placeholder: the path of the program your build produces", project.TOMLString(program))}
	}
	p.Kernel = append(p.Kernel, "# cmdline = \"\"                   # added to the flavor's (console=ttyS0 panic=-1 ip=...); words after -- are the program's arguments")
	return p
}
