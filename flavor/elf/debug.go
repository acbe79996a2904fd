package elf

import (
	"fmt"

	"github.com/ukdev/ukdev/flavor"
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/project"
)

// DebugTarget implements flavor.Debugger: the kernel's ELF, or the
// separate debug file kernel.symbols names, at its link addresses (QEMU
// loads the kernel there). A kernel that is not an ELF (a bzImage) needs
// kernel.symbols to name its vmlinux.
func (Kernel) DebugTarget(_ *project.Config, img image.Image) (flavor.DebugTarget, error) {
	if img.Symbols == "" {
		return flavor.DebugTarget{}, fmt.Errorf("elf: debug build %d: no symbol file", img.Build)
	}
	if _, err := image.ELFType(img.Symbols); err != nil {
		return flavor.DebugTarget{}, fmt.Errorf("elf: debug build %d: %w (set kernel.symbols to the kernel's ELF with its symbols)", img.Build, err)
	}
	return flavor.DebugTarget{File: img.Symbols, Arch: flavor.ArchX86_64}, nil
}
