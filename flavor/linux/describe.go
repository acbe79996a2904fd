package linux

import (
	"fmt"

	"github.com/ukdev/ukdev/project"
)

// Describe implements flavor.Describer.
func (Flavor) Describe(image string) string { return "running " + image + " as /init on Linux" }

// Announce implements flavor.Announcer: without linux.kernel, Open
// resolves the kernel through the Go module cache, a download the first
// time.
func (Flavor) Announce(cfg *project.Config) string {
	if SettingsOf(cfg).Kernel != "" {
		return ""
	}
	version := SettingsOf(cfg).KernelVersion
	if version == "" {
		version = DefaultKernelVersion
	}
	return fmt.Sprintf("Linux kernel %s@%s from the Go module cache (downloaded the first time)", KernelModule, version)
}
