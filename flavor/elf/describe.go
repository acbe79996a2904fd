package elf

// Describe implements flavor.Describer.
func (Flavor) Describe(image string) string { return "booting " + image }
