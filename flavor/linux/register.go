package linux

import "github.com/ukdev/ukdev/flavor"

func init() { flavor.Register(Flavor{}) }
