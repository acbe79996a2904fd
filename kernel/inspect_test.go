package kernel

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// byteOrder is what binary.LittleEndian and binary.BigEndian both are.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// testLoadAddr is where the test kernels' PT_LOAD segment and entry point sit.
const testLoadAddr = 0x100000

// elfKernel describes a minimal x86 ELF file for the tests to write: an
// optional PT_NOTE segment, an optional SHT_NOTE section that no segment
// covers, and an optional PT_LOAD segment.
type elfKernel struct {
	class     elf.Class // elf.ELFCLASS32 or elf.ELFCLASS64
	order     byteOrder // nil means little-endian
	segNotes  []byte    // contents of a PT_NOTE segment; nil means none
	sectNotes []byte    // contents of a SHT_NOTE section; nil means none
	load      []byte    // contents of a PT_LOAD segment; nil means none
}

func (k elfKernel) byteOrder() byteOrder {
	if k.order == nil {
		return binary.LittleEndian
	}
	return k.order
}

// bytes lays the file out as: ELF header, program headers, segment data,
// section data, .shstrtab, section headers.
func (k elfKernel) bytes() []byte {
	order := k.byteOrder()
	is64 := k.class == elf.ELFCLASS64
	ehsize, phentsize, shentsize := 52, 32, 40
	if is64 {
		ehsize, phentsize, shentsize = 64, 56, 64
	}
	type segment struct {
		typ   elf.ProgType
		data  []byte
		off   int
		align int
	}
	var segs []segment
	if k.segNotes != nil {
		segs = append(segs, segment{typ: elf.PT_NOTE, data: k.segNotes, align: 4})
	}
	if k.load != nil {
		segs = append(segs, segment{typ: elf.PT_LOAD, data: k.load, align: 16})
	}
	off := ehsize + len(segs)*phentsize
	for i := range segs {
		off = alignUp(off, segs[i].align)
		segs[i].off = off
		off += len(segs[i].data)
	}
	sectOff := alignUp(off, 4)
	shstrtab := []byte("\x00.shstrtab\x00.note.test\x00")
	shstrOff := sectOff + len(k.sectNotes)
	shoff := alignUp(shstrOff+len(shstrtab), 8)
	type section struct {
		name      uint32
		typ       elf.SectionType
		off, size int
	}
	sects := []section{{}, {name: 1, typ: elf.SHT_STRTAB, off: shstrOff, size: len(shstrtab)}}
	if k.sectNotes != nil {
		sects = append(sects, section{name: 11, typ: elf.SHT_NOTE, off: sectOff, size: len(k.sectNotes)})
	}

	var buf bytes.Buffer
	write := func(v any) {
		if err := binary.Write(&buf, order, v); err != nil {
			panic(err) // fixed-size structs into a bytes.Buffer cannot fail
		}
	}
	ident := [elf.EI_NIDENT]byte{0x7f, 'E', 'L', 'F', byte(k.class), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)}
	if order == binary.BigEndian {
		ident[elf.EI_DATA] = byte(elf.ELFDATA2MSB)
	}
	if is64 {
		write(elf.Header64{Ident: ident, Type: uint16(elf.ET_EXEC), Machine: uint16(elf.EM_X86_64),
			Version: uint32(elf.EV_CURRENT), Entry: testLoadAddr, Phoff: uint64(ehsize), Shoff: uint64(shoff),
			Ehsize: uint16(ehsize), Phentsize: uint16(phentsize), Phnum: uint16(len(segs)),
			Shentsize: uint16(shentsize), Shnum: uint16(len(sects)), Shstrndx: 1})
		for _, s := range segs {
			write(elf.Prog64{Type: uint32(s.typ), Flags: uint32(elf.PF_R | elf.PF_X), Off: uint64(s.off),
				Vaddr: testLoadAddr, Paddr: testLoadAddr, Filesz: uint64(len(s.data)), Memsz: uint64(len(s.data)),
				Align: uint64(s.align)})
		}
	} else {
		write(elf.Header32{Ident: ident, Type: uint16(elf.ET_EXEC), Machine: uint16(elf.EM_386),
			Version: uint32(elf.EV_CURRENT), Entry: testLoadAddr, Phoff: uint32(ehsize), Shoff: uint32(shoff),
			Ehsize: uint16(ehsize), Phentsize: uint16(phentsize), Phnum: uint16(len(segs)),
			Shentsize: uint16(shentsize), Shnum: uint16(len(sects)), Shstrndx: 1})
		for _, s := range segs {
			write(elf.Prog32{Type: uint32(s.typ), Flags: uint32(elf.PF_R | elf.PF_X), Off: uint32(s.off),
				Vaddr: testLoadAddr, Paddr: testLoadAddr, Filesz: uint32(len(s.data)), Memsz: uint32(len(s.data)),
				Align: uint32(s.align)})
		}
	}
	for _, s := range segs {
		buf.Write(make([]byte, s.off-buf.Len()))
		buf.Write(s.data)
	}
	buf.Write(make([]byte, sectOff-buf.Len()))
	buf.Write(k.sectNotes)
	buf.Write(shstrtab)
	buf.Write(make([]byte, shoff-buf.Len()))
	for _, s := range sects {
		if is64 {
			write(elf.Section64{Name: s.name, Type: uint32(s.typ), Off: uint64(s.off), Size: uint64(s.size), Addralign: 1})
		} else {
			write(elf.Section32{Name: s.name, Type: uint32(s.typ), Off: uint32(s.off), Size: uint32(s.size), Addralign: 1})
		}
	}
	return buf.Bytes()
}

func alignUp(n, a int) int { return (n + a - 1) &^ (a - 1) }

// elfNote encodes one ELF note: namesz (with the NUL), descsz, type, then
// name and desc, each padded to 4 bytes.
func elfNote(order byteOrder, name string, typ uint32, desc []byte) []byte {
	b := order.AppendUint32(nil, uint32(len(name)+1))
	b = order.AppendUint32(b, uint32(len(desc)))
	b = order.AppendUint32(b, typ)
	b = append(b, name...)
	b = append(b, make([]byte, alignUp(len(name)+1, 4)-len(name))...)
	b = append(b, desc...)
	return append(b, make([]byte, alignUp(len(desc), 4)-len(desc))...)
}

// pvhNote is a XEN_ELFNOTE_PHYS32_ENTRY note pointing at testLoadAddr.
func pvhNote(order byteOrder) []byte {
	return elfNote(order, "Xen", 18, order.AppendUint32(nil, testLoadAddr))
}

// otherNotes are notes a kernel may carry that do not make it PVH.
func otherNotes() []byte {
	le := binary.LittleEndian
	var b []byte
	b = append(b, elfNote(le, "GNU", 3, bytes.Repeat([]byte{0xab}, 20))...)     // NT_GNU_BUILD_ID
	b = append(b, elfNote(le, "Xen", 1, le.AppendUint32(nil, testLoadAddr))...) // XEN_ELFNOTE_ENTRY
	b = append(b, elfNote(le, "GNU", 18, nil)...)                               // right type, wrong name
	b = append(b, elfNote(le, "Xenial", 18, nil)...)                            // name with the right prefix
	return b
}

// multibootHeader is a multiboot v1 header (magic, flags, checksum); a bad
// one has a checksum that is off by one.
func multibootHeader(flags uint32, good bool) []byte {
	magic := uint32(multibootMagic)
	sum := -(magic + flags)
	if !good {
		sum++
	}
	b := binary.LittleEndian.AppendUint32(nil, magic)
	b = binary.LittleEndian.AppendUint32(b, flags)
	return binary.LittleEndian.AppendUint32(b, sum)
}

// multiboot2Header is a multiboot2 header for i386 with only the end tag.
func multiboot2Header(good bool) []byte {
	var magic, arch, length uint32 = multiboot2Magic, 0, 24
	sum := -(magic + arch + length)
	if !good {
		sum++
	}
	le := binary.LittleEndian
	b := le.AppendUint32(nil, magic)
	b = le.AppendUint32(b, arch)
	b = le.AppendUint32(b, length)
	b = le.AppendUint32(b, sum)
	b = le.AppendUint16(b, 0) // end tag: type 0, flags 0, size 8
	b = le.AppendUint16(b, 0)
	return le.AppendUint32(b, 8)
}

// placed is a chunk of bytes at a file offset.
type placed struct {
	off  int
	data []byte
}

// rawFile is a size-byte file of 0x90 filler with chunks written over it;
// it grows to hold a chunk that ends past size.
func rawFile(size int, chunks ...placed) []byte {
	b := bytes.Repeat([]byte{0x90}, size)
	for _, c := range chunks {
		if end := c.off + len(c.data); end > len(b) {
			b = append(b, make([]byte, end-len(b))...)
		}
		copy(b[c.off:], c.data)
	}
	return b
}

// writeTemp writes data to a new file in a test temporary directory.
func writeTemp(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestInspect(t *testing.T) {
	le, be := binary.LittleEndian, binary.BigEndian
	goodMB := multibootHeader(0, true)
	elf64PVH := elfKernel{class: elf.ELFCLASS64, segNotes: pvhNote(le)}.bytes()

	// wrapped is a note whose namesz pads past 2^32 and must not wrap to 0.
	wrapped := le.AppendUint32(nil, 0xFFFFFFFD)
	wrapped = le.AppendUint32(wrapped, 0)
	wrapped = le.AppendUint32(wrapped, 18)
	wrapped = append(wrapped, "Xen\x00"...)

	tests := []struct {
		name string
		data []byte // nil means no file at all
		want Protocols
		// notBootable means a *FormatError wrapping ErrNotBootable.
		notBootable bool
	}{
		// PVH notes.
		{name: "ELF64 PVH note in PT_NOTE", data: elf64PVH, want: PVH},
		{name: "ELF32 PVH note in PT_NOTE", data: elfKernel{class: elf.ELFCLASS32, segNotes: pvhNote(le)}.bytes(), want: PVH},
		{name: "ELF32 big-endian PVH note", data: elfKernel{class: elf.ELFCLASS32, order: be, segNotes: pvhNote(be)}.bytes(), want: PVH},
		{name: "ELF64 PVH note after other notes", data: elfKernel{class: elf.ELFCLASS64, segNotes: append(otherNotes(), pvhNote(le)...)}.bytes(), want: PVH},
		{name: "ELF64 PVH note and loadable code", data: elfKernel{class: elf.ELFCLASS64, segNotes: pvhNote(le), load: []byte{0xf4}}.bytes(), want: PVH},
		// QEMU reads notes from PT_NOTE segments only.
		{name: "ELF64 PVH note only in a SHT_NOTE section", data: elfKernel{class: elf.ELFCLASS64, sectNotes: pvhNote(le)}.bytes(), notBootable: true},
		{name: "ELF32 PVH note only in a SHT_NOTE section", data: elfKernel{class: elf.ELFCLASS32, sectNotes: pvhNote(le)}.bytes(), notBootable: true},
		{name: "ELF64 other notes in PT_NOTE, PVH note in a section", data: elfKernel{class: elf.ELFCLASS64, segNotes: otherNotes(), sectNotes: pvhNote(le)}.bytes(), notBootable: true},
		{name: "ELF64 other notes only", data: elfKernel{class: elf.ELFCLASS64, segNotes: otherNotes(), sectNotes: otherNotes()}.bytes(), notBootable: true},
		{name: "ELF32 no notes", data: elfKernel{class: elf.ELFCLASS32, load: []byte{0xf4}}.bytes(), notBootable: true},
		{name: "ELF64 PVH note cut short", data: elfKernel{class: elf.ELFCLASS64, segNotes: pvhNote(le)[:16]}.bytes(), notBootable: true},
		{name: "ELF64 note whose padded name size wraps 32 bits", data: elfKernel{class: elf.ELFCLASS64, segNotes: wrapped}.bytes(), notBootable: true},
		{name: "ELF64 PVH note and multiboot header", data: elfKernel{class: elf.ELFCLASS64, segNotes: pvhNote(le), load: goodMB}.bytes(), want: PVH | Multiboot},
		{name: "ELF32 multiboot header only", data: elfKernel{class: elf.ELFCLASS32, load: goodMB}.bytes(), want: Multiboot},

		// Multiboot v1: QEMU scans 4-byte aligned offsets below 8192-48.
		{name: "multiboot at 0", data: rawFile(64, placed{0, goodMB}), want: Multiboot},
		{name: "multiboot at 4", data: rawFile(64, placed{4, goodMB}), want: Multiboot},
		{name: "multiboot at 4096", data: rawFile(16384, placed{4096, goodMB}), want: Multiboot},
		{name: "multiboot at 8140, the last offset QEMU scans", data: rawFile(16384, placed{8140, goodMB}), want: Multiboot},
		{name: "multiboot at 8144, past QEMU's scan", data: rawFile(16384, placed{8144, goodMB}), notBootable: true},
		{name: "multiboot at 8180", data: rawFile(16384, placed{8180, goodMB}), notBootable: true},
		{name: "multiboot at 8192", data: rawFile(16384, placed{8192, goodMB}), notBootable: true},
		{name: "multiboot at 12288", data: rawFile(16384, placed{12288, goodMB}), notBootable: true},
		{name: "multiboot at unaligned 2", data: rawFile(64, placed{2, goodMB}), notBootable: true},
		{name: "multiboot with flags", data: rawFile(64, placed{8, multibootHeader(0x00010003, true)}), want: Multiboot},
		{name: "multiboot bad checksum", data: rawFile(64, placed{0, multibootHeader(0, false)}), notBootable: true},
		{name: "multiboot bad checksum then good", data: rawFile(64, placed{0, multibootHeader(3, false)}, placed{16, goodMB}), want: Multiboot},
		{name: "multiboot cut off by the end of file", data: goodMB[:8], notBootable: true},
		{name: "multiboot ending at the end of file", data: goodMB, want: Multiboot},

		// Multiboot2: 8-byte aligned in the first 32 KiB.
		{name: "multiboot2 at 0", data: rawFile(64, placed{0, multiboot2Header(true)}), want: Multiboot2},
		{name: "multiboot2 at 8", data: rawFile(64, placed{8, multiboot2Header(true)}), want: Multiboot2},
		{name: "multiboot2 at 32752", data: rawFile(40000, placed{32752, multiboot2Header(true)}), want: Multiboot2},
		{name: "multiboot2 at 32768", data: rawFile(40000, placed{32768, multiboot2Header(true)}), notBootable: true},
		{name: "multiboot2 at unaligned 4", data: rawFile(64, placed{4, multiboot2Header(true)}), notBootable: true},
		{name: "multiboot2 bad checksum", data: rawFile(64, placed{0, multiboot2Header(false)}), notBootable: true},
		{name: "multiboot and multiboot2", data: rawFile(64, placed{0, multiboot2Header(true)}, placed{32, goodMB}), want: Multiboot | Multiboot2},

		// Linux setup header.
		{name: "Linux HdrS at 0x202", data: rawFile(1024, placed{0x202, []byte("HdrS")}), want: LinuxBoot},
		{name: "Linux HdrS ending the file", data: rawFile(0x202, placed{0x202, []byte("HdrS")}), want: LinuxBoot},
		{name: "Linux HdrS at 0x203", data: rawFile(1024, placed{0x203, []byte("HdrS")}), notBootable: true},
		{name: "Linux HdrS cut off by the end of file", data: rawFile(0x202, placed{0x202, []byte("Hd")}), notBootable: true},
		{name: "Linux and multiboot", data: rawFile(1024, placed{0x202, []byte("HdrS")}, placed{0x400, goodMB}), want: LinuxBoot | Multiboot},

		// Files that are not kernels.
		{name: "empty file", data: []byte{}, notBootable: true},
		{name: "text", data: []byte("#!/bin/sh\necho hello\n"), notBootable: true},
		{name: "ELF truncated inside its header", data: elf64PVH[:20], notBootable: true},
		{name: "ELF magic only", data: []byte(elf.ELFMAG), notBootable: true},
		{name: "ELF with program headers past the end", data: func() []byte {
			b := bytes.Clone(elf64PVH)
			le.PutUint64(b[32:], 1<<40) // e_phoff
			return b
		}(), notBootable: true},
		{name: "ELF with a bad class", data: func() []byte {
			b := bytes.Clone(elf64PVH)
			b[elf.EI_CLASS] = 9
			return b
		}(), notBootable: true},
		{name: "malformed ELF with a multiboot header", data: append([]byte(elf.ELFMAG), goodMB...), notBootable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeTemp(t, "kernel", tt.data)
			got, err := Inspect(path)
			if got != tt.want {
				t.Errorf("Inspect = %v, want %v", got, tt.want)
			}
			if !tt.notBootable {
				if err != nil {
					t.Fatalf("Inspect error = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrNotBootable) {
				t.Fatalf("Inspect error = %v, want ErrNotBootable", err)
			}
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("Inspect error %T is not a *FormatError", err)
			}
			if fe.Path != path || fe.Reason == "" {
				t.Errorf("FormatError = %+v, want Path %q and a Reason", fe, path)
			}
		})
	}
}

func TestInspectUnreadable(t *testing.T) {
	tests := []struct {
		name     string
		path     func(t *testing.T) string
		notExist bool
	}{
		{name: "non-existent file", path: func(t *testing.T) string { return filepath.Join(t.TempDir(), "missing") }, notExist: true},
		{name: "empty path", path: func(*testing.T) string { return "" }, notExist: true},
		{name: "directory", path: func(t *testing.T) string { return t.TempDir() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Inspect(tt.path(t))
			if err == nil {
				t.Fatalf("Inspect = %v, want an error", got)
			}
			if got != 0 {
				t.Errorf("Inspect = %v, want 0", got)
			}
			if errors.Is(err, fs.ErrNotExist) != tt.notExist {
				t.Errorf("errors.Is(%v, fs.ErrNotExist) = %v, want %v", err, !tt.notExist, tt.notExist)
			}
			if errors.Is(err, ErrNotBootable) {
				t.Errorf("Inspect error %v wraps ErrNotBootable; an unreadable file says nothing about bootability", err)
			}
		})
	}
}

func TestProtocolsString(t *testing.T) {
	tests := []struct {
		p    Protocols
		want string
	}{
		{0, "none"},
		{PVH, "PVH"},
		{Multiboot, "multiboot"},
		{Multiboot2, "multiboot2"},
		{LinuxBoot, "linux"},
		{PVH | Multiboot, "PVH+multiboot"},
		{Multiboot | Multiboot2, "multiboot+multiboot2"},
		{LinuxBoot | PVH, "PVH+linux"},
		{PVH | Multiboot | Multiboot2 | LinuxBoot, "PVH+multiboot+multiboot2+linux"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("Protocols(%#x).String() = %q, want %q", uint8(tt.p), got, tt.want)
		}
	}
}

func TestProtocolsHas(t *testing.T) {
	tests := []struct {
		p, q Protocols
		want bool
	}{
		{PVH | Multiboot, PVH, true},
		{PVH | Multiboot, PVH | Multiboot, true},
		{PVH, PVH | Multiboot, false},
		{Multiboot2, Multiboot, false},
		{0, 0, true},
		{0, PVH, false},
	}
	for _, tt := range tests {
		if got := tt.p.Has(tt.q); got != tt.want {
			t.Errorf("(%v).Has(%v) = %v, want %v", tt.p, tt.q, got, tt.want)
		}
	}
}

func TestMachineFor(t *testing.T) {
	tests := []struct {
		p    Protocols
		want string
	}{
		{PVH, "microvm"},
		{PVH | Multiboot, "microvm"},
		{PVH | LinuxBoot, "microvm"},
		{Multiboot, "pc"},
		{Multiboot | Multiboot2, "pc"},
		{Multiboot | LinuxBoot, "pc"},
		{LinuxBoot, "q35"},
		{Multiboot2, "pc"},
		{0, "pc"},
	}
	for _, tt := range tests {
		if got := MachineFor(tt.p); got != tt.want {
			t.Errorf("MachineFor(%v) = %q, want %q", tt.p, got, tt.want)
		}
	}
}

func TestFormatError(t *testing.T) {
	err := error(&FormatError{Path: "/b/kernel.elf", Reason: "the file is empty", Err: ErrNotBootable})
	if got, want := err.Error(), "kernel: /b/kernel.elf: the file is empty"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, ErrNotBootable) {
		t.Error("FormatError does not unwrap to ErrNotBootable")
	}
}

// FuzzInspect checks that Inspect never panics and keeps its contract on any
// file: protocols and no error, or no protocols and a *FormatError wrapping
// ErrNotBootable.
func FuzzInspect(f *testing.F) {
	le := binary.LittleEndian
	f.Add([]byte{})
	f.Add([]byte(elf.ELFMAG))
	f.Add(elfKernel{class: elf.ELFCLASS64, segNotes: pvhNote(le)}.bytes())
	f.Add(elfKernel{class: elf.ELFCLASS32, segNotes: otherNotes(), sectNotes: pvhNote(le), load: multibootHeader(0, true)}.bytes())
	f.Add(elfKernel{class: elf.ELFCLASS32, order: binary.BigEndian, segNotes: pvhNote(binary.BigEndian)}.bytes())
	f.Add(rawFile(64, placed{4, multibootHeader(0, true)}, placed{32, multiboot2Header(true)}))
	f.Add(rawFile(0x300, placed{0x202, []byte("HdrS")}))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "kernel")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := Inspect(path)
		switch {
		case err == nil && p == 0:
			t.Fatal("Inspect = none with no error")
		case err != nil && p != 0:
			t.Fatalf("Inspect = %v with error %v", p, err)
		case err != nil:
			var fe *FormatError
			if !errors.As(err, &fe) || !errors.Is(err, ErrNotBootable) {
				t.Fatalf("Inspect error = %v, want a *FormatError wrapping ErrNotBootable", err)
			}
		}
	})
}
