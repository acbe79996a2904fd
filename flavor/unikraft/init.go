package unikraft

import (
	"fmt"

	"github.com/ukdev/ukdev/project"
)

// InitParts implements project.Flavor: the flavor picks the build
// command, the image and kraft's memory default, and ignores its build
// trees itself; the file leaves all of them commented.
func (Flavor) InitParts(d project.Detection) project.InitParts {
	p := project.InitParts{
		BuildCommand: "# command = \"make\"              # unset: kraft build when kraft is installed and there is a Kraftfile, else make",
		WatchIgnore:  "# ignore = [\"*.o\"]              # gitignore-style, in addition to .gitignore files, .unikraft/ and build/",
		Memory:       "# memory = \"64M\"                # kraft's default",
		Section: []string{
			"[unikraft]",
			"# kernel_args = \"\"              # Unikraft's own parameters (vfs.fstab=..., netdev.ip=...), before -- on the command line",
			"# app_args = \"\"                 # the application's arguments, after --",
			"# debug = \"\"                    # the debug ELF for symbols; default: <image>.dbg",
		},
	}
	if d.Image != "" {
		p.Kernel = []string{fmt.Sprintf("image = %s", project.TOMLString(d.Image))}
	} else {
		p.Kernel = []string{"# image = \"\"                    # default: the newest *_qemu-x86_64 in .unikraft/build or build"}
	}
	p.Kernel = append(p.Kernel, "# cmdline = \"\"                   # used when unikraft.kernel_args and unikraft.app_args are both empty")
	return p
}
