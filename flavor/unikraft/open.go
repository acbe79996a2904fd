package unikraft

import (
	"fmt"

	"github.com/ukdev/ukdev/flavor"
	"github.com/ukdev/ukdev/project"
)

// defaultMemoryMiB is kraft's default guest RAM.
const defaultMemoryMiB = 64

// Open implements flavor.Flavor: the build command (kraft build or make)
// unless build.command is given, the build trees ignored by the watcher,
// and kraft's memory default.
func (Flavor) Open(cfg *project.Config) (*flavor.Setup, error) {
	c := *cfg
	var notes []string
	if !c.Build.CommandSet {
		cmd, why := BuildCommand(c.Root, KraftInstalled(nil))
		c.Build.Command = cmd
		if cmd == "" {
			notes = append(notes, fmt.Sprintf("no build step: %s (set build.command)", why))
		} else {
			notes = append(notes, fmt.Sprintf("build command: %s (%s; set build.command to choose)", cmd, why))
		}
	}
	c.Watch.Ignore = append(append([]string(nil), c.Watch.Ignore...), ".unikraft/", "build/")
	if !c.VM.MemorySet {
		c.VM.MemoryMiB = defaultMemoryMiB
	}
	k, err := New(Options{KernelArgs: SettingsOf(&c).KernelArgs, AppArgs: SettingsOf(&c).AppArgs, Debug: SettingsOf(&c).Debug})
	if err != nil {
		return nil, err
	}
	return &flavor.Setup{Config: &c, Kernel: k, Notes: notes}, nil
}
