package qemu

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
)

// The probe kernel is a minimal 32-bit ELF that QEMU boots through its PVH
// entry note. Its code runs in the state PVH defines (32-bit protected
// mode, paging off), enables SSE the way every real kernel does, executes
// SSE instructions (the first thing a broken software KVM such as kvm-pvm
// fails to emulate) and then writes probeExitValue to isa-debug-exit, so a
// working accelerator makes QEMU exit with probeExitStatus.
const (
	// probeLoadAddr is where the whole file is loaded: 1 MiB, the usual
	// place for PVH kernels, above the legacy BIOS area.
	probeLoadAddr = 0x100000
	// pvhCodeAddr is where pvhELF places the code: after the ELF
	// header, two program headers and the PVH note, all loaded too.
	pvhCodeAddr = probeLoadAddr + 52 + 2*32 + 20
	// probeExitValue is written to the isa-debug-exit port.
	probeExitValue = 0x21
	// probeExitStatus is the QEMU exit status isa-debug-exit derives from
	// probeExitValue: (value << 1) | 1.
	probeExitStatus = probeExitValue<<1 | 1
	// debugExitPort is the isa-debug-exit I/O port ukdev configures.
	debugExitPort = 0x501
	// xenElfNotePhys32Entry is XEN_ELFNOTE_PHYS32_ENTRY, the note type
	// QEMU reads the PVH entry point from.
	xenElfNotePhys32Entry = 18
)

// probeCode returns the probe kernel's machine code (32-bit).
func probeCode() []byte {
	return []byte{
		0x0f, 0x20, 0xc0, // mov eax, cr0
		0x25, 0xfb, 0xff, 0xff, 0xff, // and eax, ~CR0.EM
		0x83, 0xc8, 0x02, // or eax, CR0.MP
		0x0f, 0x22, 0xc0, // mov cr0, eax
		0x0f, 0x20, 0xe0, // mov eax, cr4
		0x0d, 0x00, 0x06, 0x00, 0x00, // or eax, CR4.OSFXSR|CR4.OSXMMEXCPT
		0x0f, 0x22, 0xe0, // mov cr4, eax
		0x0f, 0x57, 0xc0, // xorps xmm0, xmm0
		0x0f, 0x58, 0xc0, // addps xmm0, xmm0
		0x66, 0xba, debugExitPort & 0xff, debugExitPort >> 8, // mov dx, debugExitPort
		0xb0, probeExitValue, // mov al, probeExitValue
		0xee,       // out dx, al
		0xfa,       // cli
		0xf4,       // hlt
		0xeb, 0xfd, // jmp back to hlt
	}
}

// probeKernel returns the bytes of the probe kernel ELF file.
func probeKernel() []byte { return pvhELF(probeCode()) }

// pvhELF wraps 32-bit code in an ELF file whose PVH entry point is the
// code's first byte, loaded at pvhCodeAddr.
func pvhELF(code []byte) []byte {
	const (
		ehdrSize = 52
		phdrSize = 32
		noteSize = 12 + 4 + 4 // header, "Xen\0", 32-bit entry address
		noteOff  = ehdrSize + 2*phdrSize
		codeOff  = noteOff + noteSize
	)
	// codeOff must agree with pvhCodeAddr, which code may depend on.
	var _ [pvhCodeAddr - probeLoadAddr - codeOff]struct{}
	var _ [codeOff - (pvhCodeAddr - probeLoadAddr)]struct{}
	total := uint32(codeOff + len(code))
	entry := uint32(pvhCodeAddr)

	var b bytes.Buffer
	hdr := elf.Header32{
		Type:      uint16(elf.ET_EXEC),
		Machine:   uint16(elf.EM_386),
		Version:   uint32(elf.EV_CURRENT),
		Entry:     entry,
		Phoff:     ehdrSize,
		Ehsize:    ehdrSize,
		Phentsize: phdrSize,
		Phnum:     2,
		Shentsize: 40,
	}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS32)
	hdr.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	hdr.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	progs := []elf.Prog32{
		{
			Type:   uint32(elf.PT_LOAD),
			Off:    0,
			Vaddr:  probeLoadAddr,
			Paddr:  probeLoadAddr,
			Filesz: total,
			Memsz:  total,
			Flags:  uint32(elf.PF_R | elf.PF_X),
			Align:  0x1000,
		},
		{
			Type:   uint32(elf.PT_NOTE),
			Off:    noteOff,
			Vaddr:  probeLoadAddr + noteOff,
			Paddr:  probeLoadAddr + noteOff,
			Filesz: noteSize,
			Memsz:  noteSize,
			Flags:  uint32(elf.PF_R),
			Align:  4,
		},
	}
	// Writes to a bytes.Buffer cannot fail.
	_ = binary.Write(&b, binary.LittleEndian, hdr)
	_ = binary.Write(&b, binary.LittleEndian, progs)
	_ = binary.Write(&b, binary.LittleEndian, []uint32{4, 4, xenElfNotePhys32Entry})
	b.WriteString("Xen\x00")
	_ = binary.Write(&b, binary.LittleEndian, entry)
	b.Write(code)
	return b.Bytes()
}
