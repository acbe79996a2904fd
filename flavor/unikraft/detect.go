package unikraft

import (
	"os"

	"github.com/ukdev/ukdev/project"
)

// DetectOrder implements project.Flavor: a Kraftfile or a Unikraft
// Makefile names the flavor whatever else the project holds (a Unikraft
// application may well have a config.json or Go files), so it goes first.
func (Flavor) DetectOrder() int { return 10 }

// Detect implements project.Flavor: a Kraftfile, or a Makefile that hands
// the build to Unikraft's (UK_ROOT, or $(MAKE) ... A=), found by the same
// rule the flavor picks its build command with. The build command and
// the image are left to the flavor at run time: kraft build or make
// depends on what is installed when the build runs, and the image's name
// on the Kraftfile or the build's configuration.
func (Flavor) Detect(dir string, asked bool) (project.Detection, bool) {
	p := InspectProject(os.DirFS(dir))
	if !p.IsUnikraft() {
		return project.Detection{Reason: "there is no Kraftfile or Unikraft Makefile: set build.command"}, false
	}
	d := project.Detection{Source: project.OneLine(p.Why()), Complete: true}
	switch {
	case p.Kraftfile != "" && p.Makefile != "":
		d.Reason = d.Source + ": a Unikraft project, built with kraft build when kraft is installed, else make"
	case p.Kraftfile != "":
		d.Reason = d.Source + ": a Unikraft project, built with kraft build"
	default:
		d.Reason = p.Makefile + " hands the build to Unikraft's (UK_ROOT, A=, L=): a Unikraft application, built with make"
	}
	d.Reason = project.OneLine(d.Reason + "; the image is the newest *_qemu-x86_64 in .unikraft/build or build")
	return d, true
}
