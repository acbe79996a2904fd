package elf

import "github.com/ukdev/ukdev/project"

// KernelKeys implements project.Flavor: the elf flavor boots the kernel
// the build names, with every [kernel] key.
func (Flavor) KernelKeys() project.KernelKeys {
	return project.KernelKeys{
		Image: "the path of the built kernel, relative to the project root (kernel.image = \"build/kernel.elf\")",
	}
}

// InitParts implements project.Flavor: the generic file is the elf
// flavor's.
func (Flavor) InitParts(project.Detection) project.InitParts { return project.InitParts{} }
