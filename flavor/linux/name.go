// Package linux is the linux flavor: a single static program run as /init on
// a Linux kernel (the gokrazy kernel module by default), in an initramfs
// ukdev writes.
package linux

// Flavor is the linux flavor.
type Flavor struct{}

// Name implements flavor.Flavor.
func (Flavor) Name() string { return "linux" }
