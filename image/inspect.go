package image

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

const (
	multibootMagic  = 0x1BADB002
	multiboot2Magic = 0xE85250D6
	multibootSearch = 8192 // a multiboot v1 header must sit in the first 8 KiB
	// multibootMaxOff bounds the offsets QEMU scans for a multiboot v1
	// magic: it reserves room for a full 48-byte header, so a header the
	// spec allows at 8144..8188 is not found and QEMU boots something else.
	multibootMaxOff  = multibootSearch - 48
	multiboot2Search = 32768 // a multiboot2 header in the first 32 KiB

	xenNoteName       = "Xen"
	xenElfnotePhys32  = 18 // XEN_ELFNOTE_PHYS32_ENTRY: the PVH entry point
	linuxSetupHdrOff  = 0x202
	linuxSetupHdrSign = "HdrS"
)

// ErrNotBootable is returned (wrapped in a *FormatError) when a file has no
// boot protocol QEMU can start with -kernel.
var ErrNotBootable = errors.New("not a bootable kernel")

// FormatError says why a kernel file cannot be booted.
type FormatError struct {
	Path   string
	Reason string
	Err    error
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("kernel: %s: %s", e.Path, e.Reason)
}

func (e *FormatError) Unwrap() error { return e.Err }

// String lists the protocols, e.g. "PVH+multiboot".
func (p Protocols) String() string {
	names := []struct {
		p    Protocols
		name string
	}{{PVH, "PVH"}, {Multiboot, "multiboot"}, {Multiboot2, "multiboot2"}, {LinuxBoot, "linux"}}
	var out []byte
	for _, n := range names {
		if p.Has(n.p) {
			if len(out) > 0 {
				out = append(out, '+')
			}
			out = append(out, n.name...)
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return string(out)
}

// Inspect reads the kernel file at path and reports the boot protocols it
// supports. A file with none returns a *FormatError wrapping ErrNotBootable;
// one that is not a regular file is refused with ErrNotRegular, never
// opened for reading.
func Inspect(path string) (Protocols, error) {
	f, _, err := OpenRegular(path)
	if errors.Is(err, ErrNotRegular) {
		return 0, err
	}
	if err != nil {
		return 0, fmt.Errorf("kernel: inspect: %w", err)
	}
	defer f.Close()
	head := make([]byte, multiboot2Search)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("kernel: inspect %s: %w", path, err)
	}
	head = head[:n]
	if n == 0 {
		return 0, &FormatError{Path: path, Reason: "the file is empty", Err: ErrNotBootable}
	}

	var p Protocols
	if hasMultiboot(head) {
		p |= Multiboot
	}
	if hasMultiboot2(head) {
		p |= Multiboot2
	}
	if len(head) >= linuxSetupHdrOff+4 && string(head[linuxSetupHdrOff:linuxSetupHdrOff+4]) == linuxSetupHdrSign {
		p |= LinuxBoot
	}
	if bytes.HasPrefix(head, []byte(elf.ELFMAG)) {
		ef, err := elf.NewFile(f)
		if err != nil {
			return 0, &FormatError{Path: path, Reason: "malformed ELF: " + err.Error(), Err: ErrNotBootable}
		}
		if hasPVHNote(ef) {
			p |= PVH
		}
	}
	if p == 0 {
		return 0, &FormatError{Path: path, Reason: "not a bootable kernel: no PVH note, multiboot header or Linux boot header", Err: ErrNotBootable}
	}
	return p, nil
}

func hasMultiboot(head []byte) bool {
	for off := 0; off+12 <= len(head) && off < multibootMaxOff; off += 4 {
		magic := binary.LittleEndian.Uint32(head[off:])
		if magic != multibootMagic {
			continue
		}
		flags := binary.LittleEndian.Uint32(head[off+4:])
		sum := binary.LittleEndian.Uint32(head[off+8:])
		if magic+flags+sum == 0 {
			return true
		}
	}
	return false
}

func hasMultiboot2(head []byte) bool {
	for off := 0; off+16 <= len(head); off += 8 {
		magic := binary.LittleEndian.Uint32(head[off:])
		if magic != multiboot2Magic {
			continue
		}
		arch := binary.LittleEndian.Uint32(head[off+4:])
		length := binary.LittleEndian.Uint32(head[off+8:])
		sum := binary.LittleEndian.Uint32(head[off+12:])
		if magic+arch+length+sum == 0 {
			return true
		}
	}
	return false
}

// hasPVHNote looks for XEN_ELFNOTE_PHYS32_ENTRY in PT_NOTE segments only:
// QEMU reads notes from segments, so a note that is only in a SHT_NOTE
// section is refused ("Error loading uncompressed kernel without PVH ELF
// Note") and must not make the kernel count as PVH.
func hasPVHNote(f *elf.File) bool {
	for _, prog := range f.Progs {
		if prog.Type != elf.PT_NOTE {
			continue
		}
		b, err := io.ReadAll(prog.Open())
		if err == nil && notesHave(b, f.ByteOrder, xenNoteName, xenElfnotePhys32) {
			return true
		}
	}
	return false
}

// notesHave walks an ELF note blob (namesz, descsz, type, name, desc, each
// padded to 4 bytes) looking for a note of the given name and type.
func notesHave(b []byte, bo binary.ByteOrder, name string, typ uint32) bool {
	// Padding is computed in 64 bits: a size near 2^32 must not wrap to 0.
	align := func(n uint32) uint64 { return (uint64(n) + 3) &^ 3 }
	for len(b) >= 12 {
		namesz := bo.Uint32(b[0:])
		descsz := bo.Uint32(b[4:])
		t := bo.Uint32(b[8:])
		b = b[12:]
		if align(namesz)+align(descsz) > uint64(len(b)) {
			return false
		}
		n := b[:namesz]
		n = bytes.TrimRight(n, "\x00")
		if t == typ && string(n) == name {
			return true
		}
		b = b[align(namesz)+align(descsz):]
	}
	return false
}

// MachineFor returns the QEMU machine that boots a kernel with protocols p
// fastest: microvm for PVH (no firmware), pc for multiboot (QEMU's multiboot
// loader needs the PC option ROM), q35 for a Linux bzImage.
func MachineFor(p Protocols) string {
	switch {
	case p.Has(PVH):
		return "microvm"
	case p.Has(Multiboot):
		return "pc"
	case p.Has(LinuxBoot):
		return "q35"
	default:
		return "pc"
	}
}
