// Package symbols reads what an ELF file says about itself: its symbol
// table, the DWARF types of its variables and its DWARF line tables. It
// knows no flavor; flavors, crash symbolisation and the views share it.
package symbols

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"sync"
)

// Kind says what an ELF symbol names.
type Kind int

// Symbol kinds, from the ELF symbol type.
const (
	Other  Kind = iota // NOTYPE, SECTION, FILE, ...
	Func               // STT_FUNC
	Object             // STT_OBJECT: a variable
)

// String names the kind as readelf does.
func (k Kind) String() string {
	switch k {
	case Func:
		return "func"
	case Object:
		return "object"
	default:
		return "other"
	}
}

// Symbol is one named address of a kernel ELF.
type Symbol struct {
	Name string
	// Addr is the symbol's value: a virtual address (for a kernel without
	// paging, also the physical one; see Table.PhysAddr).
	Addr uint64
	Size uint64
	Kind Kind
	// Section names the section the symbol lives in (".bss"), "" when
	// none (absolute or undefined).
	Section string
	// Global is true for global and weak symbols, false for file-local
	// ones (C statics).
	Global bool
	// Writable is true when the section is writable data (.data, .bss).
	Writable bool
}

// ErrNotFound is returned (wrapped) when a name is not in the table.
var ErrNotFound = errors.New("symbols: no such symbol")

// ErrNoTable is returned (wrapped) when an ELF has neither .symtab
// nor .dynsym (a stripped kernel).
var ErrNoTable = errors.New("symbols: no symbol table")

// Table holds the symbols of one ELF file, for looking up globals by
// name and code addresses by value. It is immutable once loaded and safe
// for concurrent use.
type Table struct {
	path   string
	order  binary.ByteOrder
	ptr    int // pointer size in bytes
	syms   []Symbol
	byName map[string]int // index in syms of the preferred symbol for a name
	funcs  []int          // indexes in syms of functions, by address
	loads  []elf.ProgHeader

	// DWARF is read on the first Variable call: a big debug file costs
	// nothing until someone asks for a type.
	dwarfOnce sync.Once
	dw        *dwarfIndex // nil without DWARF
	file      func() (*elf.File, error)
}

// Load reads the symbols of the ELF file at path: .symtab, or
// .dynsym when the file has no .symtab. A file without either returns an
// error wrapping ErrNoTable; a file that is not ELF returns the
// debug/elf error, wrapped.
func Load(path string) (*Table, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("symbols: load symbols: %w", err)
	}
	defer f.Close()
	raw, err := f.Symbols()
	if errors.Is(err, elf.ErrNoSymbols) {
		raw, err = f.DynamicSymbols()
	}
	if errors.Is(err, elf.ErrNoSymbols) {
		return nil, fmt.Errorf("symbols: load symbols from %s: %w", path, ErrNoTable)
	}
	if err != nil {
		return nil, fmt.Errorf("symbols: load symbols from %s: %w", path, err)
	}
	t := &Table{
		path:   path,
		order:  f.ByteOrder,
		ptr:    8,
		byName: make(map[string]int),
		file:   func() (*elf.File, error) { return elf.Open(path) },
	}
	if f.Class == elf.ELFCLASS32 {
		t.ptr = 4
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			t.loads = append(t.loads, p.ProgHeader)
		}
	}
	for _, s := range raw {
		if s.Name == "" || s.Section == elf.SHN_UNDEF {
			continue
		}
		sym := Symbol{Name: s.Name, Addr: s.Value, Size: s.Size}
		switch elf.ST_TYPE(s.Info) {
		case elf.STT_FUNC:
			sym.Kind = Func
		case elf.STT_OBJECT:
			sym.Kind = Object
		case elf.STT_FILE, elf.STT_SECTION:
			continue
		}
		bind := elf.ST_BIND(s.Info)
		sym.Global = bind == elf.STB_GLOBAL || bind == elf.STB_WEAK
		if i := int(s.Section); s.Section < elf.SHN_LORESERVE && i < len(f.Sections) {
			sec := f.Sections[i]
			sym.Section = sec.Name
			sym.Writable = sec.Flags&elf.SHF_ALLOC != 0 && sec.Flags&elf.SHF_WRITE != 0 && sec.Flags&elf.SHF_EXECINSTR == 0
		}
		t.syms = append(t.syms, sym)
	}
	sort.SliceStable(t.syms, func(i, j int) bool { return t.syms[i].Addr < t.syms[j].Addr })
	for i, s := range t.syms {
		// A global wins over a static of the same name; among equals the
		// lowest address wins, so lookups are deterministic.
		if j, ok := t.byName[s.Name]; !ok || (s.Global && !t.syms[j].Global) {
			t.byName[s.Name] = i
		}
		if s.Kind == Func {
			t.funcs = append(t.funcs, i)
		}
	}
	return t, nil
}

// Path is the ELF file the table was read from.
func (t *Table) Path() string { return t.path }

// ByteOrder is the ELF's byte order, which is the guest's.
func (t *Table) ByteOrder() binary.ByteOrder { return t.order }

// PointerSize is 4 for a 32-bit ELF, 8 for a 64-bit one.
func (t *Table) PointerSize() int { return t.ptr }

// Symbols returns every symbol, by address. The caller must not modify
// the slice.
func (t *Table) Symbols() []Symbol { return t.syms }

// Lookup returns the symbol with exactly this name: a global one when a
// static shares its name.
func (t *Table) Lookup(name string) (Symbol, bool) {
	i, ok := t.byName[name]
	if !ok {
		return Symbol{}, false
	}
	return t.syms[i], true
}

// FuncAt returns the function containing addr, or else the nearest
// function before it, and addr's offset from its start: the way a crash
// address is symbolised ("kmain+0x1c"). It returns false when no function
// starts at or before addr.
func (t *Table) FuncAt(addr uint64) (Symbol, uint64, bool) {
	n := sort.Search(len(t.funcs), func(k int) bool { return t.syms[t.funcs[k]].Addr > addr })
	if n == 0 {
		return Symbol{}, 0, false
	}
	s := t.syms[t.funcs[n-1]]
	return s, addr - s.Addr, true
}

// describeBack bounds how many symbols before addr Describe looks at for
// one that covers it (symbols that share an address, small ones inside a
// sized one).
const describeBack = 32

// Describe names addr by the symbol that covers it: "stats", "stats+0x10",
// "main+0x1c" (a symbol covers addresses from its start to its end; one
// without a size only its start). It returns "" when no symbol covers
// addr. Sized data and function symbols win over others at the same place.
func (t *Table) Describe(addr uint64) string {
	n := sort.Search(len(t.syms), func(k int) bool { return t.syms[k].Addr > addr })
	best := -1
	for i := n - 1; i >= 0 && i >= n-describeBack; i-- {
		s := t.syms[i]
		if addr >= s.Addr+max(s.Size, 1) {
			continue
		}
		if best < 0 || better(s, t.syms[best]) {
			best = i
		}
	}
	if best < 0 {
		return ""
	}
	s := t.syms[best]
	if addr == s.Addr {
		return s.Name
	}
	return fmt.Sprintf("%s+%#x", s.Name, addr-s.Addr)
}

// better says whether a is a better name than b for an address both
// cover: a variable or function over other kinds, then the innermost
// (latest start), then a global over a static.
func better(a, b Symbol) bool {
	ak, bk := a.Kind != Other && a.Size > 0, b.Kind != Other && b.Size > 0
	if ak != bk {
		return ak
	}
	if a.Addr != b.Addr {
		return a.Addr > b.Addr
	}
	return a.Global && !b.Global
}

// DataObjects returns up to max variables a memory view can show by
// default: sized objects in writable data sections (.data, .bss), globals
// before statics, then smaller before larger, then by name. max <= 0
// means all.
func (t *Table) DataObjects(max int) []Symbol {
	var out []Symbol
	for _, s := range t.syms {
		if s.Kind == Object && s.Writable && s.Size > 0 {
			out = append(out, s)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Global != b.Global {
			return a.Global
		}
		if a.Size != b.Size {
			return a.Size < b.Size
		}
		return a.Name < b.Name
	})
	if max > 0 && len(out) > max {
		out = out[:max]
	}
	return out
}

// PhysAddr translates a symbol's (virtual) address to the physical
// address its loadable segment is placed at, as QEMU's -kernel loader
// does: vaddr - p_vaddr + p_paddr. It returns false when no PT_LOAD
// segment covers addr.
func (t *Table) PhysAddr(addr uint64) (uint64, bool) {
	for _, p := range t.loads {
		if addr >= p.Vaddr && addr < p.Vaddr+p.Memsz {
			return addr - p.Vaddr + p.Paddr, true
		}
	}
	return 0, false
}
