package flavor

import (
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/project"
)

// ArchX86_64 is gdb's name for the architecture of QEMU's x86-64 gdb
// stub. The stub sends the 64-bit register set whatever mode the vCPU is
// in, so gdb must be told so even for a 32-bit kernel: from a 32-bit ELF
// it would pick i386 and reject the stub's registers ("Remote 'g' packet
// reply is too long").
const ArchX86_64 = "i386:x86-64"

// Debugger is a Kernel that tells gdb how to debug its boots through
// QEMU's gdb stub.
type Debugger interface {
	// DebugTarget returns what gdb loads to debug a boot of img, an image
	// this Kernel prepared for the project cfg. An error says why its
	// boots cannot be debugged at source level.
	DebugTarget(cfg *project.Config, img image.Image) (DebugTarget, error)
}

// DebugTarget is what gdb needs to debug a boot: the file with the
// symbols, where its addresses are in the guest, and the architecture to
// read the stub's registers with.
type DebugTarget struct {
	// File is the ELF file with the symbols and DWARF of the code to
	// debug (a private copy of the build's file).
	File string
	// Arch is gdb's `set architecture` value (ArchX86_64).
	Arch string
	// Offset is added to File's addresses: where a position-independent
	// program was loaded (gdb's `symbol-file -o`). Zero: File runs at its
	// link addresses.
	Offset uint64
	// Commands are more gdb commands, run once File is loaded and before
	// gdb connects to the stub.
	Commands []string
	// Note says, in a sentence, what gdb will not see right (a program
	// whose load address is random, a process the kernel maps only while
	// it runs); empty when nothing.
	Note string
}
