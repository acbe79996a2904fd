package linux

import "github.com/ukdev/ukdev/project"

// DetectOrder implements project.Flavor: any Go main package is a linux
// project, unless a file names another flavor (a Kraftfile, an ops
// config); only the elf fallback comes after.
func (Flavor) DetectOrder() int { return 30 }

// Detect implements project.Flavor: a Go main package, the program built
// with `CGO_ENABLED=0 go build -o app .` and run as /init; complete only
// when a go.mod is in dir or above it.
func (Flavor) Detect(dir string, asked bool) (project.Detection, bool) {
	if d, ok := project.GoProgram(dir, program, "run by Linux as /init"); ok {
		return d, true
	}
	return project.Detection{Image: program, Reason: "there is no Go main package: set build.command and kernel.image to a static program"}, false
}
