package elf

import "github.com/ukdev/ukdev/flavor"

func init() { flavor.Register(Flavor{}) }

var (
	_ flavor.DiskWriter = Kernel{}
	_ flavor.Flavor     = Flavor{}
	_ flavor.Describer  = Flavor{}
)
