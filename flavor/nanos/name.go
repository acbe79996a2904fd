// Package nanos is the nanos flavor: a program run on the Nanos kernel.
// ukdev writes the Nanos image itself from ops' config and kernel cache,
// boots it (direct PVH on microvm, or q35 disk boot), and reads Nanos'
// console for crashes.
package nanos

// Flavor is the nanos flavor.
type Flavor struct{}

// Name implements flavor.Flavor.
func (Flavor) Name() string { return "nanos" }
