package nanos

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ukdev/ukdev/project"
)

// placeholderProgram is written as kernel.image when no program was found.
const placeholderProgram = "app"

// DetectOrder implements project.Flavor: an ops config names the flavor,
// after a Unikraft project's files and before a plain Go program.
func (Flavor) DetectOrder() int { return 20 }

// Detect implements project.Flavor: an ops config (config.json) makes a
// Nanos project, running the config's Program (else one named after the
// directory), built with go build when there are Go sources, else make
// when there is a Makefile. When the flavor is asked for, a Go main
// package without an ops config is one too (InitParts writes the missing
// config), but not a complete one: its arguments and ports belong in that
// config.
func (Flavor) Detect(dir string, asked bool) (project.Detection, bool) {
	if d, ok := detectOps(dir); ok {
		return d, true
	}
	if asked {
		image := programName(dir)
		if d, ok := project.GoProgram(dir, image, "run by Nanos as "+image); ok {
			d.Complete = false
			return d, true
		}
	}
	return project.Detection{Image: placeholderProgram, Reason: "there is no ops config or Go program: set build.command and kernel.image"}, false
}

// detectOps recognises an ops config in dir.
func detectOps(dir string) (project.Detection, bool) {
	program, isOps := readOpsConfig(filepath.Join(dir, OpsConfigName))
	if !isOps {
		return project.Detection{}, false
	}
	d := project.Detection{Source: OpsConfigName, Image: program, Complete: true}
	from := "its Program"
	if program == "" {
		d.Image, from = programName(dir), "named after the directory"
	}
	reason := fmt.Sprintf("%s is an ops config; program %s (%s)", OpsConfigName, d.Image, from)
	switch makefile, _ := project.ReadMakefile(dir); {
	case project.HasGoSources(dir):
		d.BuildCommand = project.GoBuildCommand(d.Image)
		reason += ", built with go build"
	case makefile != "":
		d.BuildCommand = "make"
		reason += ", built by " + makefile
	default:
		reason += "; set build.command"
	}
	d.Reason = project.OneLine(reason)
	return d, true
}

// opsKeys are top-level keys of ops configs: a JSON object with one of
// them (or an empty one) is taken for an ops config.
var opsKeys = []string{
	"Args", "BaseVolumeSz", "Boot", "CloudConfig", "Debugflags", "Dirs", "DisableArgsCopy", "Env",
	"Files", "Kernel", "KlibDir", "Klibs", "LocalFilesParentDirectory", "ManifestPassthrough", "MapDirs",
	"Mounts", "NameServers", "NanosVersion", "NightlyBuild", "Program", "ProgramPath", "RebootOnExit",
	"RunConfig", "TargetRoot", "Uefi", "VolumesDir",
}

// readOpsConfig says whether the file at p is an ops config and returns
// its Program made a local relative path ("" when it names none). Keys
// match case-insensitively, as they do for ops.
func readOpsConfig(p string) (program string, ok bool) {
	data, err := os.ReadFile(p)
	if err != nil {
		return "", false
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil || top == nil {
		return "", false
	}
	ok = len(top) == 0
	for k, raw := range top {
		if !slices.ContainsFunc(opsKeys, func(known string) bool { return strings.EqualFold(known, k) }) {
			continue
		}
		ok = true
		if strings.EqualFold(k, "Program") {
			var s string
			if json.Unmarshal(raw, &s) == nil {
				program = localProgram(s)
			}
		}
	}
	return program, ok
}

// localProgram makes a config's Program a clean path inside the project;
// a path outside it (absolute, or leading out with "..") keeps only its
// base name.
func localProgram(s string) string {
	s = strings.TrimSpace(filepath.ToSlash(s))
	if s == "" {
		return ""
	}
	c := path.Clean(s)
	if path.IsAbs(c) || c == ".." || strings.HasPrefix(c, "../") {
		c = path.Base(c)
	}
	if c == "." || c == "/" || c == ".." {
		return ""
	}
	return c
}

// programName names a program after the directory, keeping only the
// characters safe in a file name and a shell word; "app" when nothing is
// left.
func programName(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' {
			return r
		}
		return '-'
	}, filepath.Base(abs))
	name = strings.TrimLeft(name, ".-")
	if name == "" {
		return "app"
	}
	return name
}
