package image

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/ukdev/ukdev/image/imagetest"
)

// otherNotes are notes a kernel may carry that do not make it PVH.
func otherNotes() []byte {
	le := binary.LittleEndian
	var b []byte
	b = append(b, imagetest.Note(le, "GNU", 3, bytes.Repeat([]byte{0xab}, 20))...)           // NT_GNU_BUILD_ID
	b = append(b, imagetest.Note(le, "Xen", 1, le.AppendUint32(nil, imagetest.LoadAddr))...) // XEN_ELFNOTE_ENTRY
	b = append(b, imagetest.Note(le, "GNU", 18, nil)...)                                     // right type, wrong name
	b = append(b, imagetest.Note(le, "Xenial", 18, nil)...)                                  // name with the right prefix
	return b
}

func TestInspect(t *testing.T) {
	le, be := binary.LittleEndian, binary.BigEndian
	goodMB := imagetest.MultibootHeader(0, true)
	elf64PVH := imagetest.ELF{Class: elf.ELFCLASS64, SegNotes: imagetest.PVHNote(le)}.Bytes()

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
		{name: "ELF32 PVH note in PT_NOTE", data: imagetest.ELF{Class: elf.ELFCLASS32, SegNotes: imagetest.PVHNote(le)}.Bytes(), want: PVH},
		{name: "ELF32 big-endian PVH note", data: imagetest.ELF{Class: elf.ELFCLASS32, Order: be, SegNotes: imagetest.PVHNote(be)}.Bytes(), want: PVH},
		{name: "ELF64 PVH note after other notes", data: imagetest.ELF{Class: elf.ELFCLASS64, SegNotes: append(otherNotes(), imagetest.PVHNote(le)...)}.Bytes(), want: PVH},
		{name: "ELF64 PVH note and loadable code", data: imagetest.ELF{Class: elf.ELFCLASS64, SegNotes: imagetest.PVHNote(le), Load: []byte{0xf4}}.Bytes(), want: PVH},
		// QEMU reads notes from PT_NOTE segments only.
		{name: "ELF64 PVH note only in a SHT_NOTE section", data: imagetest.ELF{Class: elf.ELFCLASS64, SectNotes: imagetest.PVHNote(le)}.Bytes(), notBootable: true},
		{name: "ELF32 PVH note only in a SHT_NOTE section", data: imagetest.ELF{Class: elf.ELFCLASS32, SectNotes: imagetest.PVHNote(le)}.Bytes(), notBootable: true},
		{name: "ELF64 other notes in PT_NOTE, PVH note in a section", data: imagetest.ELF{Class: elf.ELFCLASS64, SegNotes: otherNotes(), SectNotes: imagetest.PVHNote(le)}.Bytes(), notBootable: true},
		{name: "ELF64 other notes only", data: imagetest.ELF{Class: elf.ELFCLASS64, SegNotes: otherNotes(), SectNotes: otherNotes()}.Bytes(), notBootable: true},
		{name: "ELF32 no notes", data: imagetest.ELF{Class: elf.ELFCLASS32, Load: []byte{0xf4}}.Bytes(), notBootable: true},
		{name: "ELF64 PVH note cut short", data: imagetest.ELF{Class: elf.ELFCLASS64, SegNotes: imagetest.PVHNote(le)[:16]}.Bytes(), notBootable: true},
		{name: "ELF64 note whose padded name size wraps 32 bits", data: imagetest.ELF{Class: elf.ELFCLASS64, SegNotes: wrapped}.Bytes(), notBootable: true},
		{name: "ELF64 PVH note and multiboot header", data: imagetest.ELF{Class: elf.ELFCLASS64, SegNotes: imagetest.PVHNote(le), Load: goodMB}.Bytes(), want: PVH | Multiboot},
		{name: "ELF32 multiboot header only", data: imagetest.ELF{Class: elf.ELFCLASS32, Load: goodMB}.Bytes(), want: Multiboot},

		// Multiboot v1: QEMU scans 4-byte aligned offsets below 8192-48.
		{name: "multiboot at 0", data: imagetest.Raw(64, imagetest.Placed{Off: 0, Data: goodMB}), want: Multiboot},
		{name: "multiboot at 4", data: imagetest.Raw(64, imagetest.Placed{Off: 4, Data: goodMB}), want: Multiboot},
		{name: "multiboot at 4096", data: imagetest.Raw(16384, imagetest.Placed{Off: 4096, Data: goodMB}), want: Multiboot},
		{name: "multiboot at 8140, the last offset QEMU scans", data: imagetest.Raw(16384, imagetest.Placed{Off: 8140, Data: goodMB}), want: Multiboot},
		{name: "multiboot at 8144, past QEMU's scan", data: imagetest.Raw(16384, imagetest.Placed{Off: 8144, Data: goodMB}), notBootable: true},
		{name: "multiboot at 8180", data: imagetest.Raw(16384, imagetest.Placed{Off: 8180, Data: goodMB}), notBootable: true},
		{name: "multiboot at 8192", data: imagetest.Raw(16384, imagetest.Placed{Off: 8192, Data: goodMB}), notBootable: true},
		{name: "multiboot at 12288", data: imagetest.Raw(16384, imagetest.Placed{Off: 12288, Data: goodMB}), notBootable: true},
		{name: "multiboot at unaligned 2", data: imagetest.Raw(64, imagetest.Placed{Off: 2, Data: goodMB}), notBootable: true},
		{name: "multiboot with flags", data: imagetest.Raw(64, imagetest.Placed{Off: 8, Data: imagetest.MultibootHeader(0x00010003, true)}), want: Multiboot},
		{name: "multiboot bad checksum", data: imagetest.Raw(64, imagetest.Placed{Off: 0, Data: imagetest.MultibootHeader(0, false)}), notBootable: true},
		{name: "multiboot bad checksum then good", data: imagetest.Raw(64, imagetest.Placed{Off: 0, Data: imagetest.MultibootHeader(3, false)}, imagetest.Placed{Off: 16, Data: goodMB}), want: Multiboot},
		{name: "multiboot cut off by the end of file", data: goodMB[:8], notBootable: true},
		{name: "multiboot ending at the end of file", data: goodMB, want: Multiboot},

		// Multiboot2: 8-byte aligned in the first 32 KiB.
		{name: "multiboot2 at 0", data: imagetest.Raw(64, imagetest.Placed{Off: 0, Data: imagetest.Multiboot2Header(true)}), want: Multiboot2},
		{name: "multiboot2 at 8", data: imagetest.Raw(64, imagetest.Placed{Off: 8, Data: imagetest.Multiboot2Header(true)}), want: Multiboot2},
		{name: "multiboot2 at 32752", data: imagetest.Raw(40000, imagetest.Placed{Off: 32752, Data: imagetest.Multiboot2Header(true)}), want: Multiboot2},
		{name: "multiboot2 at 32768", data: imagetest.Raw(40000, imagetest.Placed{Off: 32768, Data: imagetest.Multiboot2Header(true)}), notBootable: true},
		{name: "multiboot2 at unaligned 4", data: imagetest.Raw(64, imagetest.Placed{Off: 4, Data: imagetest.Multiboot2Header(true)}), notBootable: true},
		{name: "multiboot2 bad checksum", data: imagetest.Raw(64, imagetest.Placed{Off: 0, Data: imagetest.Multiboot2Header(false)}), notBootable: true},
		{name: "multiboot and multiboot2", data: imagetest.Raw(64, imagetest.Placed{Off: 0, Data: imagetest.Multiboot2Header(true)}, imagetest.Placed{Off: 32, Data: goodMB}), want: Multiboot | Multiboot2},

		// Linux setup header.
		{name: "Linux HdrS at 0x202", data: imagetest.Raw(1024, imagetest.Placed{Off: 0x202, Data: []byte("HdrS")}), want: LinuxBoot},
		{name: "Linux HdrS ending the file", data: imagetest.Raw(0x202, imagetest.Placed{Off: 0x202, Data: []byte("HdrS")}), want: LinuxBoot},
		{name: "Linux HdrS at 0x203", data: imagetest.Raw(1024, imagetest.Placed{Off: 0x203, Data: []byte("HdrS")}), notBootable: true},
		{name: "Linux HdrS cut off by the end of file", data: imagetest.Raw(0x202, imagetest.Placed{Off: 0x202, Data: []byte("Hd")}), notBootable: true},
		{name: "Linux and multiboot", data: imagetest.Raw(1024, imagetest.Placed{Off: 0x202, Data: []byte("HdrS")}, imagetest.Placed{Off: 0x400, Data: goodMB}), want: LinuxBoot | Multiboot},

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
			path := imagetest.WriteTemp(t, "kernel", tt.data)
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
	f.Add(imagetest.ELF{Class: elf.ELFCLASS64, SegNotes: imagetest.PVHNote(le)}.Bytes())
	f.Add(imagetest.ELF{Class: elf.ELFCLASS32, SegNotes: otherNotes(), SectNotes: imagetest.PVHNote(le), Load: imagetest.MultibootHeader(0, true)}.Bytes())
	f.Add(imagetest.ELF{Class: elf.ELFCLASS32, Order: binary.BigEndian, SegNotes: imagetest.PVHNote(binary.BigEndian)}.Bytes())
	f.Add(imagetest.Raw(64, imagetest.Placed{Off: 4, Data: imagetest.MultibootHeader(0, true)}, imagetest.Placed{Off: 32, Data: imagetest.Multiboot2Header(true)}))
	f.Add(imagetest.Raw(0x300, imagetest.Placed{Off: 0x202, Data: []byte("HdrS")}))
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
