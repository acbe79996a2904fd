package unikraft

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/ukdev/ukdev/project"
)

// kraftfileNames are the names kraft reads a project's Kraftfile from (the
// flavor's runtime list, kept in step).
var kraftfileNames = []string{"Kraftfile", "kraftfile", "Kraftfile.yaml", "Kraftfile.yml", "kraft.yaml", "kraft.yml"}

// ukMakefile recognises a Unikraft application Makefile: it names
// UK_ROOT, or hands the build to Unikraft's with A= (the app) and L= (its
// libraries). The flavor's runtime uses the same rule.
var ukMakefile = regexp.MustCompile(`\bUK_ROOT\b|\$\(MAKE\)\s.*\bA=`)

// DetectOrder implements project.Flavor: a Kraftfile or a Unikraft
// Makefile names the flavor whatever else the project holds (a Unikraft
// application may well have a config.json or Go files), so it goes first.
func (Flavor) DetectOrder() int { return 10 }

// Detect implements project.Flavor: a Kraftfile, or a Makefile that hands
// the build to Unikraft's (UK_ROOT, or $(MAKE) ... A=). The build command
// and the image are left to the flavor at run time: kraft build or make
// depends on what is installed when the build runs, and the image's name
// on the Kraftfile or the build's configuration.
func (Flavor) Detect(dir string, asked bool) (project.Detection, bool) {
	kraftfile := ""
	for _, n := range kraftfileNames {
		if project.FileExists(filepath.Join(dir, n)) {
			kraftfile = n
			break
		}
	}
	makefile, data := project.ReadMakefile(dir)
	if makefile != "" && !slices.ContainsFunc(strings.Split(string(data), "\n"), ukMakefile.MatchString) {
		makefile = ""
	}
	d := project.Detection{Complete: true}
	switch {
	case kraftfile != "" && makefile != "":
		d.Source = kraftfile + " and a Unikraft " + makefile + " (UK_ROOT)"
		d.Reason = d.Source + ": a Unikraft project, built with kraft build when kraft is installed, else make"
	case kraftfile != "":
		d.Source = kraftfile
		d.Reason = kraftfile + ": a Unikraft project, built with kraft build"
	case makefile != "":
		d.Source = "a Unikraft " + makefile + " (UK_ROOT)"
		d.Reason = makefile + " hands the build to Unikraft's (UK_ROOT, A=, L=): a Unikraft application, built with make"
	default:
		return project.Detection{Reason: "there is no Kraftfile or Unikraft Makefile: set build.command"}, false
	}
	d.Reason = project.OneLine(d.Reason + "; the image is the newest *_qemu-x86_64 in .unikraft/build or build")
	return d, true
}
