// Package unikraft is the unikraft flavor: Unikraft kernels built by kraft
// or make, booted as the multiboot image on pc, with uk_pr_* console levels
// and Unikraft's crash reports symbolised against the .dbg image.
package unikraft

// Flavor is the unikraft flavor.
type Flavor struct{}

// Name implements flavor.Flavor.
func (Flavor) Name() string { return "unikraft" }
