package unikraft

import "github.com/ukdev/ukdev/flavor"

func init() { flavor.Register(Flavor{}) }

var (
	_ flavor.DiskWriter   = (*Kernel)(nil)
	_ flavor.Flavor       = Flavor{}
	_ flavor.BuildChooser = Flavor{}
	_ flavor.Describer    = Flavor{}
)
