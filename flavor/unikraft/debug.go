package unikraft

import (
	"fmt"

	"github.com/ukdev/ukdev/flavor"
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/project"
)

// DebugTarget implements flavor.Debugger: the build's .dbg (ELF64 with
// the symbols and DWARF; x86-64 Unikraft is identity-mapped, so its
// addresses are the guest's). Without one, the stripped image itself,
// which has no symbols: the Note says how to get them.
func (u *Kernel) DebugTarget(_ *project.Config, img image.Image) (flavor.DebugTarget, error) {
	if img.Symbols == "" {
		return flavor.DebugTarget{}, fmt.Errorf("unikraft: debug build %d: no symbol file", img.Build)
	}
	t := flavor.DebugTarget{File: img.Symbols, Arch: flavor.ArchX86_64}
	if img.Symbols == img.Kernel {
		t.Note = "no .dbg beside the image: gdb sees the stripped image, without symbols (set unikraft.debug to the .dbg)"
	}
	return t, nil
}
