package unikraft

// ChooseBuild implements flavor.BuildChooser: kraft build for a Kraftfile
// when kraft is installed, else make for a Unikraft Makefile.
func (Flavor) ChooseBuild(dir string) (cmd, why string) {
	return BuildCommand(dir, KraftInstalled(nil))
}

// Describe implements flavor.Describer: the image is found after each
// build (see Kernel.Locate), not named by the project.
func (Flavor) Describe(string) string {
	return "booting the newest *_qemu-x86_64 in .unikraft/build or build"
}
