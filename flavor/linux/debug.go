package linux

import (
	"debug/elf"
	"fmt"

	"github.com/ukdev/ukdev/flavor"
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/project"
)

// processNote is what gdb cannot do with a program Linux runs as a
// process.
const processNote = "Linux runs the program as a process: a breakpoint in it stops the VM when the program reaches it, but its variables read right only while the VM is stopped in the program (the kernel maps it only while it runs), and the kernel has no symbols here"

// DebugTarget implements flavor.Debugger: the program's ELF, which the
// kernel maps at its link addresses (a static, non-PIE program). gdb
// sees the guest through QEMU's stub, that is the vCPU, not the process:
// the Note says what that means; a position-independent program's
// address is chosen by the kernel at run time.
func (l *Kernel) DebugTarget(_ *project.Config, img image.Image) (flavor.DebugTarget, error) {
	if img.Symbols == "" {
		return flavor.DebugTarget{}, fmt.Errorf("linux: debug build %d: no program", img.Build)
	}
	typ, err := image.ELFType(img.Symbols)
	if err != nil {
		return flavor.DebugTarget{}, fmt.Errorf("linux: debug build %d: %w", img.Build, err)
	}
	t := flavor.DebugTarget{File: img.Symbols, Arch: flavor.ArchX86_64, Note: processNote}
	if typ == elf.ET_DYN {
		t.Note = "the program is position-independent and Linux picks its address at run time, so gdb's addresses are wrong (build it without PIE); " + processNote
	}
	return t, nil
}
