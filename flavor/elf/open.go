package elf

import (
	"github.com/ukdev/ukdev/flavor"
	"github.com/ukdev/ukdev/project"
)

// Open implements flavor.Flavor. An ELF kernel needs nothing beyond
// ukdev.toml: the config is returned as it is.
func (Flavor) Open(cfg *project.Config) (*flavor.Setup, error) {
	return &flavor.Setup{Config: cfg, Kernel: Kernel{}}, nil
}
