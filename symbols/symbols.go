// Package symbols reads what an ELF file says about itself: its symbol
// table, the DWARF types of its variables and its DWARF line tables. It
// knows no flavor; flavors, crash symbolisation and the views share it.
package symbols

import (
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
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
	dwarf     *dwarf.Data
	vars      map[uint64]dwarf.Offset // address → the variable's type entry
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

// Encoding says how a field's bytes are read as a value.
type Encoding int

// Encodings of a Field.
const (
	EncBytes    Encoding = iota // raw bytes: show a hex dump
	EncUnsigned                 // little or big endian unsigned integer of Size bytes
	EncSigned                   // two's complement integer
	EncFloat                    // IEEE 754 binary32 or binary64
	EncBool
	EncPointer
)

// Field is one member of a variable's type, flattened: nested structs and
// small arrays of scalars become dotted and indexed names (".pos.x",
// ".counts[2]").
type Field struct {
	// Name is the member path; "" for a variable that is a single scalar.
	Name   string
	Offset uint64
	Size   uint64
	// Type is the C type as DWARF names it ("uint32_t", "char[16]").
	Type     string
	Encoding Encoding
	// BitSize is non-zero for a bit field: the value is BitSize bits
	// starting BitOffset bits (from the least significant bit) into the
	// Size bytes at Offset.
	BitSize, BitOffset uint64
}

// Variable is a data symbol with its type: the fields a memory view shows.
type Variable struct {
	Symbol
	// Type is the variable's C type ("struct stats"); "" without DWARF.
	Type   string
	Fields []Field
	// Truncated is set when the type had more members than Fields holds.
	Truncated bool
}

// maxFields bounds the flattened members of one variable.
const maxFields = 128

// maxArrayExpand is the longest array of scalars shown element by
// element; longer ones are a hex dump.
const maxArrayExpand = 16

// Variable returns the named symbol with its type from the ELF's DWARF
// (matched by address, so statics such as "ed.0" find their type too).
// Without DWARF, or with no DWARF variable at that address, the variable
// is one field of the symbol's size: an integer when it is 1, 2, 4 or 8
// bytes, raw bytes otherwise. An unknown name returns an error wrapping
// ErrNotFound.
func (t *Table) Variable(name string) (Variable, error) {
	sym, ok := t.Lookup(name)
	if !ok {
		return Variable{}, fmt.Errorf("symbols: variable %q: %w", name, ErrNotFound)
	}
	v := Variable{Symbol: sym, Fields: []Field{plainField(sym.Size)}}
	t.dwarfOnce.Do(t.loadDWARF)
	if t.dwarf == nil {
		return v, nil
	}
	off, ok := t.vars[sym.Addr]
	if !ok {
		return v, nil
	}
	typ, err := t.dwarf.Type(off)
	if err != nil {
		return v, nil
	}
	v.Type = cType(typ)
	v.Fields = v.Fields[:0]
	v.Truncated = flatten(&v.Fields, "", 0, typ)
	if len(v.Fields) == 0 {
		v.Fields = []Field{plainField(sym.Size)}
	}
	return v, nil
}

// plainField is the single field of a variable whose type is unknown.
func plainField(size uint64) Field {
	f := Field{Size: size, Encoding: EncBytes}
	switch size {
	case 1, 2, 4, 8:
		f.Encoding = EncUnsigned
		f.Type = fmt.Sprintf("u%d", size*8)
	default:
		f.Type = fmt.Sprintf("%d bytes", size)
	}
	return f
}

// loadDWARF indexes the DWARF variables that have a fixed address
// (DW_OP_addr). A file without DWARF, or one that cannot be reopened,
// leaves t.dwarf nil: types are a bonus, symbols still work.
func (t *Table) loadDWARF() {
	f, err := t.file()
	if err != nil {
		return
	}
	defer f.Close()
	d, err := f.DWARF()
	if err != nil {
		return
	}
	vars := make(map[uint64]dwarf.Offset)
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil || e == nil {
			break
		}
		if e.Tag != dwarf.TagVariable {
			continue
		}
		loc, ok := e.Val(dwarf.AttrLocation).([]byte)
		if !ok {
			continue
		}
		typ, ok := e.Val(dwarf.AttrType).(dwarf.Offset)
		if !ok {
			continue
		}
		if addr, ok := opAddr(loc, r.AddressSize(), t.order); ok {
			vars[addr] = typ
		}
	}
	t.dwarf, t.vars = d, vars
}

// opAddr decodes a location expression that is exactly DW_OP_addr <addr>.
func opAddr(loc []byte, size int, order binary.ByteOrder) (uint64, bool) {
	const dwOpAddr = 0x03
	if len(loc) != 1+size || loc[0] != dwOpAddr {
		return 0, false
	}
	switch size {
	case 4:
		return uint64(order.Uint32(loc[1:])), true
	case 8:
		return order.Uint64(loc[1:]), true
	}
	return 0, false
}

// flatten appends the members of typ at base to fields, and reports
// whether it had to stop at maxFields.
func flatten(fields *[]Field, name string, base uint64, typ dwarf.Type) bool {
	if len(*fields) >= maxFields {
		return true
	}
	under := unqualify(typ)
	size := uint64(max(typ.Size(), 0))
	switch u := under.(type) {
	case *dwarf.StructType:
		if u.Incomplete {
			break
		}
		for _, m := range u.Field {
			mname := name + "." + m.Name
			if m.Name == "" {
				mname = name // anonymous struct or union member
			}
			if m.BitSize != 0 {
				if len(*fields) >= maxFields {
					return true
				}
				*fields = append(*fields, bitField(mname, base, m))
				continue
			}
			if flatten(fields, mname, base+uint64(max(m.ByteOffset, 0)), m.Type) {
				return true
			}
		}
		return false
	case *dwarf.ArrayType:
		elem := unqualify(u.Type)
		if u.Count > 0 && u.Count <= maxArrayExpand && scalarEncoding(elem) != EncBytes && !isChar(elem) {
			es := uint64(max(u.Type.Size(), 0))
			for i := range uint64(u.Count) {
				if flatten(fields, fmt.Sprintf("%s[%d]", name, i), base+i*es, u.Type) {
					return true
				}
			}
			return false
		}
	}
	*fields = append(*fields, Field{Name: name, Offset: base, Size: size, Type: cType(typ), Encoding: scalarEncoding(under)})
	return false
}

// bitField describes a bit-field member, its bit offset counted from the
// least significant bit of its storage unit (little-endian guests).
func bitField(name string, base uint64, m *dwarf.StructField) Field {
	unit := uint64(max(m.Type.Size(), 0))
	f := Field{Name: name, Size: unit, Type: fmt.Sprintf("%s:%d", cType(m.Type), m.BitSize),
		Encoding: scalarEncoding(unqualify(m.Type)), BitSize: uint64(m.BitSize)}
	if m.DataBitOffset != 0 || m.BitOffset == 0 {
		// DWARF 4+: bits from the start of the struct; place the unit on
		// its natural alignment so the shift stays within it.
		bits := uint64(m.DataBitOffset)
		start := bits / 8 / max(unit, 1) * max(unit, 1)
		f.Offset = base + start
		f.BitOffset = bits - start*8
		return f
	}
	// DWARF 2/3: BitOffset counts from the unit's most significant bit.
	f.Offset = base + uint64(max(m.ByteOffset, 0))
	f.BitOffset = unit*8 - uint64(m.BitOffset) - uint64(m.BitSize)
	return f
}

// cType names a type the way C declares it ("char [8]", "void *"), where
// debug/dwarf writes Go's order.
func cType(t dwarf.Type) string {
	switch u := t.(type) {
	case *dwarf.QualType:
		return u.Qual + " " + cType(u.Type)
	case *dwarf.PtrType:
		return cType(u.Type) + " *"
	case *dwarf.ArrayType:
		if u.Count < 0 {
			return cType(u.Type) + " []"
		}
		return fmt.Sprintf("%s [%d]", cType(u.Type), u.Count)
	}
	return t.String()
}

// unqualify strips typedefs and const/volatile qualifiers.
func unqualify(t dwarf.Type) dwarf.Type {
	for {
		switch u := t.(type) {
		case *dwarf.QualType:
			t = u.Type
		case *dwarf.TypedefType:
			t = u.Type
		default:
			return t
		}
	}
}

func isChar(t dwarf.Type) bool {
	switch t.(type) {
	case *dwarf.CharType, *dwarf.UcharType:
		return true
	}
	return strings.HasSuffix(t.String(), "char") && t.Size() == 1
}

// scalarEncoding says how to read a value of type t; EncBytes for
// aggregates and sizes no integer has.
func scalarEncoding(t dwarf.Type) Encoding {
	switch t.Size() {
	case 1, 2, 4, 8:
	default:
		return EncBytes
	}
	switch t.(type) {
	case *dwarf.IntType, *dwarf.CharType:
		return EncSigned
	case *dwarf.UintType, *dwarf.UcharType, *dwarf.EnumType:
		return EncUnsigned
	case *dwarf.FloatType:
		if t.Size() == 4 || t.Size() == 8 {
			return EncFloat
		}
	case *dwarf.BoolType:
		return EncBool
	case *dwarf.PtrType, *dwarf.FuncType:
		return EncPointer
	}
	return EncBytes
}
