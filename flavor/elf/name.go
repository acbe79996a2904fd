// Package elf is the elf flavor: multiboot and PVH ELF kernels (and Linux
// bzImages) booted with QEMU's -kernel, exiting through isa-debug-exit and
// reporting panics through pvpanic.
package elf

// Flavor is the elf flavor.
type Flavor struct{}

// Name implements flavor.Flavor.
func (Flavor) Name() string { return "elf" }
