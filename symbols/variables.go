package symbols

import (
	"cmp"
	"debug/dwarf"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
)

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
	// EncCString is a C char array: text up to the first NUL.
	EncCString
)

// Enumerator is one named value of a C enum.
type Enumerator struct {
	Name  string
	Value int64
}

// Field is one member of a variable's type, flattened: nested structs and
// small arrays of scalars become dotted and indexed names (".pos.x",
// ".counts[2]").
type Field struct {
	// Name is the member path; "" for a variable that is a single scalar.
	Name   string
	Offset uint64
	Size   uint64
	// Type is the C type as DWARF names it ("uint32_t", "char [16]"),
	// each qualifier once.
	Type     string
	Encoding Encoding
	// BitSize is non-zero for a bit field: the value is BitSize bits
	// starting BitOffset bits (from the least significant bit) into the
	// Size bytes at Offset.
	BitSize, BitOffset uint64
	// Enum lists the named values of an enum field (its Encoding is
	// EncSigned or EncUnsigned); nil for other types.
	Enum []Enumerator
	// Pointee is the type an EncPointer field points at ("struct
	// line_editor", "char", "void").
	Pointee string
}

// EnumName returns the name of the enumerator whose value is v.
func (f Field) EnumName(v int64) (string, bool) {
	for _, e := range f.Enum {
		if e.Value == v {
			return e.Name, true
		}
	}
	return "", false
}

// Variable is a data symbol with its type: the fields a memory view shows.
type Variable struct {
	Symbol
	// Type is the variable's C type ("struct stats"); "" without DWARF.
	Type string
	// Scope is the function a static local is declared in ("main" for
	// the symbol count.0 of a `static int count` in main); "" for a
	// variable at file scope or without DWARF.
	Scope string
	// Unit is the source file of the compile unit that defines the
	// variable ("/src/app/main.c"; a Go package's path, "main"), from
	// DWARF: what tells a program's own globals from its libraries'.
	Unit   string
	Fields []Field
	// Truncated is set when the type had more members than Fields holds.
	Truncated bool

	// typ is the DWARF type (valid when typed), for Decode.
	typ    dwarf.Offset
	typed  bool
	goLang bool
}

// maxFields bounds the flattened members of one variable.
const maxFields = 128

// maxArrayExpand is the longest array of scalars shown element by
// element; longer ones are a hex dump.
const maxArrayExpand = 16

// Variable returns the named symbol with its type from the ELF's DWARF,
// matched by address: statics such as "ed.0" find their type and their
// function's scope too, and a definition that carries only
// DW_AT_specification or DW_AT_abstract_origin finds the type of the
// declaration it completes. Without DWARF, or with no DWARF variable at
// that address, the variable is one field of the symbol's size: an
// integer when it is 1, 2, 4 or 8 bytes, raw bytes otherwise. An unknown
// name returns an error wrapping ErrNotFound.
func (t *Table) Variable(name string) (Variable, error) {
	sym, ok := t.Lookup(name)
	if !ok {
		return Variable{}, fmt.Errorf("symbols: variable %q: %w", name, ErrNotFound)
	}
	v := Variable{Symbol: sym, Fields: []Field{plainField(sym.Size)}}
	dv, typ, ok := t.dwarfVariable(sym.Addr)
	if !ok {
		return v, nil
	}
	v.typ, v.typed, v.goLang = dv.typ, true, dv.goLang
	v.Type = typeName(typ, dv.goLang)
	v.Scope, v.Unit = dv.scope, dv.unit
	v.Fields = v.Fields[:0]
	v.Truncated = flatten(&v.Fields, "", 0, typ, dv.goLang)
	if len(v.Fields) == 0 {
		v.Fields = []Field{plainField(sym.Size)}
	}
	return v, nil
}

// dwarfVariable is the DWARF variable at addr and its type.
func (t *Table) dwarfVariable(addr uint64) (dwarfVar, dwarf.Type, bool) {
	t.dwarfOnce.Do(t.loadDWARF)
	if t.dw == nil {
		return dwarfVar{}, nil, false
	}
	dv, ok := t.dw.vars[addr]
	if !ok {
		return dwarfVar{}, nil, false
	}
	typ, err := t.dw.typ(dv.typ)
	if err != nil {
		return dwarfVar{}, nil, false
	}
	return dv, typ, true
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
func flatten(fields *[]Field, name string, base uint64, typ dwarf.Type, goLang bool) bool {
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
				*fields = append(*fields, bitField(mname, base, m, goLang))
				continue
			}
			if flatten(fields, mname, base+uint64(max(m.ByteOffset, 0)), m.Type, goLang) {
				return true
			}
		}
		return false
	case *dwarf.ArrayType:
		elem := unqualify(u.Type)
		if u.Count > 0 && u.Count <= maxArrayExpand && scalarEncoding(elem) != EncBytes && !isChar(elem) {
			es := uint64(max(u.Type.Size(), 0))
			for i := range uint64(u.Count) {
				if flatten(fields, fmt.Sprintf("%s[%d]", name, i), base+i*es, u.Type, goLang) {
					return true
				}
			}
			return false
		}
	}
	*fields = append(*fields, scalarField(Field{Name: name, Offset: base, Size: size, Type: typeName(typ, goLang)}, under, goLang))
	return false
}

// scalarField completes f with how its type under (typedefs and
// qualifiers stripped) is read.
func scalarField(f Field, under dwarf.Type, goLang bool) Field {
	f.Encoding = scalarEncoding(under)
	switch u := under.(type) {
	case *dwarf.EnumType:
		for _, v := range u.Val {
			f.Enum = append(f.Enum, Enumerator{Name: v.Name, Value: v.Val})
			if v.Val < 0 && f.Encoding == EncUnsigned {
				f.Encoding = EncSigned
			}
		}
	case *dwarf.PtrType:
		f.Pointee = typeName(u.Type, goLang)
	case *dwarf.ArrayType:
		if isCChar(u.Type) && !goLang {
			f.Encoding = EncCString
		}
	}
	return f
}

// bitField describes a bit-field member, its bit offset counted from the
// least significant bit of its storage unit (little-endian guests).
func bitField(name string, base uint64, m *dwarf.StructField, goLang bool) Field {
	unit := uint64(max(m.Type.Size(), 0))
	f := scalarField(Field{Name: name, Size: unit, Type: fmt.Sprintf("%s:%d", typeName(m.Type, goLang), m.BitSize),
		BitSize: uint64(m.BitSize)}, unqualify(m.Type), goLang)
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

// typeName names a type as its language declares it: C's order ("char
// [8]", "void *", "int (*)(int)"), each qualifier once, where
// debug/dwarf writes Go's order and repeats a qualifier that applies both
// to an array and to its elements; a Go type by its Go name ("[]int",
// "*main.item").
func typeName(t dwarf.Type, goLang bool) string {
	if goLang {
		if s, ok := t.(*dwarf.StructType); ok && s.StructName != "" {
			return s.StructName // debug/dwarf leaves Common().Name empty
		}
		if n := t.Common().Name; n != "" {
			return n
		}
		return t.String()
	}
	return cName(t, nil)
}

// cName names t in C with the qualifiers quals applied to it.
func cName(t dwarf.Type, quals []string) string {
	switch u := t.(type) {
	case *dwarf.QualType:
		if !slices.Contains(quals, u.Qual) {
			quals = append(slices.Clip(quals), u.Qual)
		}
		return cName(u.Type, quals)
	case *dwarf.PtrType:
		s := cName(u.Type, nil) + " *"
		if f, ok := u.Type.(*dwarf.FuncType); ok {
			s = cFunc(f, "(*)")
		}
		if len(quals) > 0 {
			s += strings.Join(quals, " ")
		}
		return s
	case *dwarf.ArrayType:
		// A qualified array is an array of qualified elements: the
		// qualifiers go to the element once.
		var dims strings.Builder
		var elem dwarf.Type = u
		for {
			a, ok := elem.(*dwarf.ArrayType)
			if !ok {
				break
			}
			if a.Count < 0 {
				dims.WriteString("[]")
			} else {
				fmt.Fprintf(&dims, "[%d]", a.Count)
			}
			elem = a.Type
		}
		s := cName(elem, quals)
		if !strings.HasSuffix(s, "*") {
			s += " "
		}
		return s + dims.String()
	case *dwarf.FuncType:
		return cFunc(u, "")
	}
	name := t.String()
	switch u := t.(type) {
	case *dwarf.EnumType:
		// debug/dwarf lists the values in String.
		name = "enum " + cmp.Or(u.EnumName, "{…}")
	case *dwarf.StructType:
		name = u.Kind + " " + cmp.Or(u.StructName, "{…}")
	}
	if len(quals) > 0 {
		return strings.Join(quals, " ") + " " + name
	}
	return name
}

// cFunc names a function type in C, with inner in place of its name.
func cFunc(f *dwarf.FuncType, inner string) string {
	ret := "void"
	if f.ReturnType != nil {
		ret = cName(f.ReturnType, nil)
	}
	params := make([]string, 0, len(f.ParamType))
	for _, p := range f.ParamType {
		if _, ok := p.(*dwarf.DotDotDotType); ok {
			params = append(params, "...")
			continue
		}
		params = append(params, cName(p, nil))
	}
	if len(params) == 0 {
		params = append(params, "void")
	}
	return ret + " " + inner + "(" + strings.Join(params, ", ") + ")"
}

// unqualify strips typedefs and const/volatile qualifiers, through any
// chain of them.
func unqualify(t dwarf.Type) dwarf.Type {
	for range 64 {
		switch u := t.(type) {
		case *dwarf.QualType:
			t = u.Type
		case *dwarf.TypedefType:
			t = u.Type
		default:
			return t
		}
	}
	return t
}

// isChar says whether t is a one-byte character type of any signedness.
func isChar(t dwarf.Type) bool {
	switch t.(type) {
	case *dwarf.CharType, *dwarf.UcharType:
		return true
	}
	return strings.HasSuffix(t.String(), "char") && t.Size() == 1
}

// isCChar says whether t (through typedefs and qualifiers) is plain C
// char, the element of a C string; unsigned char and uint8_t arrays are
// bytes.
func isCChar(t dwarf.Type) bool {
	u := unqualify(t)
	return isChar(u) && u.Common().Name == "char"
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
