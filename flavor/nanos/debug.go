package nanos

import (
	"debug/elf"
	"fmt"

	"github.com/ukdev/ukdev/flavor"
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/project"
)

// pieBase is where Nanos loads a position-independent program: its
// DEFAULT_PROG_ADDR, to which it adds a random offset unless the
// manifest has noaslr.
const pieBase = 0x400000

// DebugTarget implements flavor.Debugger: the program's ELF at its load
// address. Kernel and program share one page table, so the program's
// addresses are valid through the stub whatever runs. A static program
// (ET_EXEC) runs at its link addresses; a position-independent one at
// 0x400000 when the manifest has noaslr (ManifestPassthrough), else at a
// random address gdb cannot know, which the Note says.
func (n *Kernel) DebugTarget(_ *project.Config, img image.Image) (flavor.DebugTarget, error) {
	if img.Symbols == "" {
		return flavor.DebugTarget{}, fmt.Errorf("nanos: debug build %d: no program", img.Build)
	}
	typ, err := image.ELFType(img.Symbols)
	if err != nil {
		return flavor.DebugTarget{}, fmt.Errorf("nanos: debug build %d: %w", img.Build, err)
	}
	t := flavor.DebugTarget{File: img.Symbols, Arch: flavor.ArchX86_64}
	if typ == elf.ET_DYN {
		t.Offset = pieBase
		if _, ok := n.opts.Config.ManifestPassthrough["noaslr"]; !ok {
			t.Note = `the program is position-independent and Nanos loads it at a random address: add "noaslr": "t" to ManifestPassthrough in ops' config (or build it with -no-pie) for gdb's addresses to be right`
		}
	}
	return t, nil
}
