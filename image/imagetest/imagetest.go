// Package imagetest writes the files the tests of image and of the flavors
// boot or copy: minimal ELF kernels with or without a PVH note, multiboot
// and Linux boot headers, files that are not regular, and checks on the
// image store's copies. It is for tests only, and imports nothing of
// ukdev's so that image's own tests can use it.
package imagetest

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ByteOrder is what binary.LittleEndian and binary.BigEndian both are.
type ByteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// LoadAddr is where the test kernels' PT_LOAD segment and entry point sit.
const LoadAddr = 0x100000

// ELF describes a minimal x86 ELF file for the tests to write: an
// optional PT_NOTE segment, an optional SHT_NOTE section that no segment
// covers, and an optional PT_LOAD segment.
type ELF struct {
	Class     elf.Class // elf.ELFCLASS32 or elf.ELFCLASS64
	Order     ByteOrder // nil means little-endian
	SegNotes  []byte    // contents of a PT_NOTE segment; nil means none
	SectNotes []byte    // contents of a SHT_NOTE section; nil means none
	Load      []byte    // contents of a PT_LOAD segment; nil means none
}

func (k ELF) byteOrder() ByteOrder {
	if k.Order == nil {
		return binary.LittleEndian
	}
	return k.Order
}

// Bytes lays the file out as: ELF header, program headers, segment data,
// section data, .shstrtab, section headers.
func (k ELF) Bytes() []byte {
	order := k.byteOrder()
	is64 := k.Class == elf.ELFCLASS64
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
	if k.SegNotes != nil {
		segs = append(segs, segment{typ: elf.PT_NOTE, data: k.SegNotes, align: 4})
	}
	if k.Load != nil {
		segs = append(segs, segment{typ: elf.PT_LOAD, data: k.Load, align: 16})
	}
	off := ehsize + len(segs)*phentsize
	for i := range segs {
		off = alignUp(off, segs[i].align)
		segs[i].off = off
		off += len(segs[i].data)
	}
	sectOff := alignUp(off, 4)
	shstrtab := []byte("\x00.shstrtab\x00.note.test\x00")
	shstrOff := sectOff + len(k.SectNotes)
	shoff := alignUp(shstrOff+len(shstrtab), 8)
	type section struct {
		name      uint32
		typ       elf.SectionType
		off, size int
	}
	sects := []section{{}, {name: 1, typ: elf.SHT_STRTAB, off: shstrOff, size: len(shstrtab)}}
	if k.SectNotes != nil {
		sects = append(sects, section{name: 11, typ: elf.SHT_NOTE, off: sectOff, size: len(k.SectNotes)})
	}

	var buf bytes.Buffer
	write := func(v any) {
		if err := binary.Write(&buf, order, v); err != nil {
			panic(err) // fixed-size structs into a bytes.Buffer cannot fail
		}
	}
	ident := [elf.EI_NIDENT]byte{0x7f, 'E', 'L', 'F', byte(k.Class), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)}
	if order == binary.BigEndian {
		ident[elf.EI_DATA] = byte(elf.ELFDATA2MSB)
	}
	if is64 {
		write(elf.Header64{Ident: ident, Type: uint16(elf.ET_EXEC), Machine: uint16(elf.EM_X86_64),
			Version: uint32(elf.EV_CURRENT), Entry: LoadAddr, Phoff: uint64(ehsize), Shoff: uint64(shoff),
			Ehsize: uint16(ehsize), Phentsize: uint16(phentsize), Phnum: uint16(len(segs)),
			Shentsize: uint16(shentsize), Shnum: uint16(len(sects)), Shstrndx: 1})
		for _, s := range segs {
			write(elf.Prog64{Type: uint32(s.typ), Flags: uint32(elf.PF_R | elf.PF_X), Off: uint64(s.off),
				Vaddr: LoadAddr, Paddr: LoadAddr, Filesz: uint64(len(s.data)), Memsz: uint64(len(s.data)),
				Align: uint64(s.align)})
		}
	} else {
		write(elf.Header32{Ident: ident, Type: uint16(elf.ET_EXEC), Machine: uint16(elf.EM_386),
			Version: uint32(elf.EV_CURRENT), Entry: LoadAddr, Phoff: uint32(ehsize), Shoff: uint32(shoff),
			Ehsize: uint16(ehsize), Phentsize: uint16(phentsize), Phnum: uint16(len(segs)),
			Shentsize: uint16(shentsize), Shnum: uint16(len(sects)), Shstrndx: 1})
		for _, s := range segs {
			write(elf.Prog32{Type: uint32(s.typ), Flags: uint32(elf.PF_R | elf.PF_X), Off: uint32(s.off),
				Vaddr: LoadAddr, Paddr: LoadAddr, Filesz: uint32(len(s.data)), Memsz: uint32(len(s.data)),
				Align: uint32(s.align)})
		}
	}
	for _, s := range segs {
		buf.Write(make([]byte, s.off-buf.Len()))
		buf.Write(s.data)
	}
	buf.Write(make([]byte, sectOff-buf.Len()))
	buf.Write(k.SectNotes)
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

// Note encodes one ELF note: namesz (with the NUL), descsz, type, then
// name and desc, each padded to 4 bytes.
func Note(order ByteOrder, name string, typ uint32, desc []byte) []byte {
	b := order.AppendUint32(nil, uint32(len(name)+1))
	b = order.AppendUint32(b, uint32(len(desc)))
	b = order.AppendUint32(b, typ)
	b = append(b, name...)
	b = append(b, make([]byte, alignUp(len(name)+1, 4)-len(name))...)
	b = append(b, desc...)
	return append(b, make([]byte, alignUp(len(desc), 4)-len(desc))...)
}

// PVHNote is a XEN_ELFNOTE_PHYS32_ENTRY note pointing at LoadAddr.
func PVHNote(order ByteOrder) []byte {
	return Note(order, "Xen", 18, order.AppendUint32(nil, LoadAddr))
}

// MultibootHeader is a multiboot v1 header (magic, flags, checksum); a bad
// one has a checksum that is off by one.
func MultibootHeader(flags uint32, good bool) []byte {
	magic := uint32(0x1BADB002)
	sum := -(magic + flags)
	if !good {
		sum++
	}
	b := binary.LittleEndian.AppendUint32(nil, magic)
	b = binary.LittleEndian.AppendUint32(b, flags)
	return binary.LittleEndian.AppendUint32(b, sum)
}

// Multiboot2Header is a multiboot2 header for i386 with only the end tag.
func Multiboot2Header(good bool) []byte {
	var magic, arch, length uint32 = 0xE85250D6, 0, 24
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

// Placed is a chunk of bytes at a file offset.
type Placed struct {
	Off  int
	Data []byte
}

// Raw is a size-byte file of 0x90 filler with chunks written over it;
// it grows to hold a chunk that ends past size.
func Raw(size int, chunks ...Placed) []byte {
	b := bytes.Repeat([]byte{0x90}, size)
	for _, c := range chunks {
		if end := c.Off + len(c.Data); end > len(b) {
			b = append(b, make([]byte, end-len(b))...)
		}
		copy(b[c.Off:], c.Data)
	}
	return b
}

// WriteTemp writes data to a new file in a test temporary directory.
func WriteTemp(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// StaticProgram writes a minimal static x86-64 ELF executable named name
// in dir and returns its path.
func StaticProgram(t testing.TB, dir, name string) string {
	t.Helper()
	return writeExecutable(t, dir, name, ELF{Class: elf.ELFCLASS64, Load: []byte{0xf4}}.Bytes())
}

// PIEProgram writes a minimal position-independent x86-64 ELF program
// (type ET_DYN) named name in dir and returns its path.
func PIEProgram(t testing.TB, dir, name string) string {
	t.Helper()
	b := ELF{Class: elf.ELFCLASS64, Load: []byte{0xf4}}.Bytes()
	binary.LittleEndian.PutUint16(b[16:], uint16(elf.ET_DYN)) // e_type
	return writeExecutable(t, dir, name, b)
}

// Program32 writes a minimal 32-bit x86 ELF executable named name in dir
// and returns its path: a program the flavors that boot a static x86-64
// program refuse.
func Program32(t testing.TB, dir, name string) string {
	t.Helper()
	return writeExecutable(t, dir, name, ELF{Class: elf.ELFCLASS32, Load: []byte{0xf4}}.Bytes())
}

// ShellScript writes an executable shell script named name in dir and
// returns its path: a program that is not an ELF file.
func ShellScript(t testing.TB, dir, name string) string {
	t.Helper()
	return writeExecutable(t, dir, name, []byte("#!/bin/sh\n"))
}

// writeExecutable writes data as the executable file dir/name and
// returns its path.
func writeExecutable(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// AssertCopy checks that dst is a read-only copy of src inside the image
// store whose directory is storeDir.
func AssertCopy(t *testing.T, storeDir, dst, src string) {
	t.Helper()
	if !strings.HasPrefix(dst, storeDir+string(filepath.Separator)) {
		t.Errorf("copy %q is outside the store %q", dst, storeDir)
	}
	fi, err := os.Stat(dst)
	if err != nil {
		t.Fatalf("copy of %s: %v", src, err)
	}
	if fi.Mode().Perm() != 0o400 {
		t.Errorf("%s has mode %v, want -r--------", dst, fi.Mode().Perm())
	}
	want, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s holds %q, want %q (from %s)", dst, got, want, src)
	}
}

// StoredBuilds lists the build numbers that have a directory in the image
// store whose directory is dir, in increasing order.
func StoredBuilds(t *testing.T, dir string) []int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var builds []int
	for _, e := range entries {
		if n, ok := strings.CutPrefix(e.Name(), "build-"); ok {
			if b, err := strconv.Atoi(n); err == nil {
				builds = append(builds, b)
			}
		}
	}
	slices.Sort(builds)
	return builds
}

// Op is one way of reading a build's output that must refuse a file that
// is not regular.
type Op struct {
	Name string
	// Run reads path; dir is a fresh directory it may write to. Run is
	// called on its own goroutine, so that a blocked open fails the test
	// instead of hanging it: it must not call t.Fatal.
	Run func(dir, path string) error
}

// RefusesSpecialFiles runs each op on a named pipe, a directory and a
// device, and checks that each returns, promptly, an error wrapping
// notRegular that names the file and says what it is.
func RefusesSpecialFiles(t *testing.T, notRegular error, ops []Op) {
	t.Helper()
	files := []struct {
		name string
		make func(t *testing.T) string
		want string // in the error
	}{
		{"fifo", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "kernel.elf")
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Fatal(err)
			}
			// Should the open block after all, a writer ends the wait
			// when the test is over.
			t.Cleanup(func() {
				if f, err := os.OpenFile(p, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					f.Close()
				}
			})
			return p
		}, "named pipe"},
		{"directory", func(t *testing.T) string { return t.TempDir() }, "directory"},
		{"device", func(*testing.T) string { return "/dev/zero" }, "device"},
	}
	for _, f := range files {
		for _, op := range ops {
			t.Run(f.name+"/"+op.Name, func(t *testing.T) {
				k := f.make(t)
				dir := t.TempDir()
				done := make(chan error, 1)
				go func() { done <- op.Run(dir, k) }()
				select {
				case err := <-done:
					if !errors.Is(err, notRegular) {
						t.Fatalf("got %v, want %v", err, notRegular)
					}
					if !strings.Contains(err.Error(), f.want) || !strings.Contains(err.Error(), k) {
						t.Errorf("error %q does not name %s and say %q", err, k, f.want)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("still blocked on %s after 10s", k)
				}
			})
		}
	}
}
