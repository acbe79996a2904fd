package unikraft

import "github.com/ukdev/ukdev/flavor"

func init() { flavor.Register(Flavor{}) }
