package nanos

// Describe implements flavor.Describer: the program runs on Nanos.
func (Flavor) Describe(image string) string { return "running " + image }
