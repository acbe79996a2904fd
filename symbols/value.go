package symbols

import (
	"bytes"
	"cmp"
	"debug/dwarf"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ValueKind says which fields of a Value hold it.
type ValueKind int

// The kinds of a Value.
const (
	// KindBytes is raw bytes of a type that is not decoded, in Str.
	KindBytes ValueKind = iota
	// KindInt is a signed integer, in Int.
	KindInt
	// KindUint is an unsigned integer, in Uint.
	KindUint
	// KindFloat is a floating-point number, in Float.
	KindFloat
	// KindBool is a boolean, in Bool.
	KindBool
	// KindEnum is a C enum: its value in Int, its enumerator's name in
	// Enum ("" when no enumerator has that value).
	KindEnum
	// KindPointer is an address in Pointer, with the symbol it points
	// into in PointsTo ("stats+0x4"; "" when none covers it).
	KindPointer
	// KindString is text in Str: a C char array (up to its NUL), a C
	// char * or a Go string. The last two hold their bytes elsewhere:
	// Pointer is where, Len the length (-1 for a C string until it is
	// read), and Str is empty until Table.Complete reads them.
	KindString
	// KindStruct is a struct's members, in Elems, in declaration order.
	KindStruct
	// KindUnion is a union's members, in Elems, each decoded from the
	// same bytes.
	KindUnion
	// KindArray is an array: Len elements, the first ones in Elems.
	KindArray
	// KindSlice is a Go slice: Len elements at Pointer; Elems holds the
	// first ones once Table.Complete has read them.
	KindSlice
	// KindInterface is a Go interface: PointsTo is its dynamic type
	// ("*errors.errorString"; "" for nil; where its descriptor is when
	// the DWARF lacks the type), Pointer its data word, and
	// Elems[0] the dynamic value once known (pointer-shaped values at
	// once, others after Table.Complete).
	KindInterface
)

// String names the kind.
func (k ValueKind) String() string {
	names := [...]string{"bytes", "int", "uint", "float", "bool", "enum", "pointer", "string",
		"struct", "union", "array", "slice", "interface"}
	if k >= 0 && int(k) < len(names) {
		return names[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Value is a variable's value decoded through its DWARF type: a tree of
// members and elements. Which fields hold it depends on Kind.
type Value struct {
	// Name is the variable's or member's name; "[i]" for an element;
	// "" for an anonymous struct or union member or an interface's
	// dynamic value. Type is its type as Variable.Type names types.
	Name, Type string
	Kind       ValueKind
	Int        int64
	Uint       uint64
	Float      float64
	Bool       bool
	Str        string
	Enum       string
	Pointer    uint64
	PointsTo   string
	Len        int64
	Elems      []Value
	// Err says why the value could not be decoded ("not read": the bytes
	// were not there, or reading what it points at failed); Name and
	// Type still say what it is, the other fields mean nothing.
	Err string
}

// Decoding bounds: a value never grows past them, whatever the guest's
// memory holds.
const (
	// maxValueElems is how many elements of one array or slice are
	// decoded.
	maxValueElems = 1024
	// maxElemsShown is how many elements String shows.
	maxElemsShown = 16
	// maxValueNodes bounds the values of one Decode or Complete.
	maxValueNodes = 4096
	// maxStringRead is how many bytes of a Go string or a C char * are
	// read.
	maxStringRead = 256
	// maxSliceRead is how many elements of a Go slice Follow reads.
	maxSliceRead = 64
	// maxFollowRead bounds one read Follow asks for.
	maxFollowRead = 4096
)

// errNotRead is a value's Err when its bytes are not in the data.
const errNotRead = "not read"

// decoder decodes bytes through DWARF types for one Table.
type decoder struct {
	t      *Table
	goLang bool
	nodes  int
}

// Decode decodes data, read at v's address, as v's type: through its
// DWARF type when the ELF has one for it (see Variable), else through its
// Fields. Members whose bytes are past data have Err "not read". Go
// strings, slices and interfaces and C char pointers hold their bytes
// elsewhere: Follow says what to read next and Complete decodes it.
func (t *Table) Decode(v Variable, data []byte) Value {
	var (
		dv  dwarfVar
		typ dwarf.Type
		ok  bool
	)
	if v.typed {
		t.dwarfOnce.Do(t.loadDWARF)
		if t.dw != nil {
			var err error
			typ, err = t.dw.typ(v.typ)
			ok = err == nil
			dv.goLang = v.goLang
		}
	} else if v.Addr != 0 {
		dv, typ, ok = t.dwarfVariable(v.Addr)
	}
	if !ok {
		return t.decodeFields(v, data)
	}
	d := &decoder{t: t, goLang: dv.goLang}
	out := d.decode(v.Name, typ, data)
	out.Name = v.Name
	return out
}

// decodeFields decodes a variable without a DWARF type from its Fields:
// one scalar, or a struct of the flattened members.
func (t *Table) decodeFields(v Variable, data []byte) Value {
	if len(v.Fields) == 1 && v.Fields[0].Name == "" {
		f := t.decodeField(v.Fields[0], data)
		f.Name = v.Name
		if v.Type != "" {
			f.Type = v.Type
		}
		return f
	}
	out := Value{Name: v.Name, Type: v.Type, Kind: KindStruct}
	for _, f := range v.Fields {
		e := t.decodeField(f, data)
		e.Name = strings.TrimPrefix(f.Name, ".")
		out.Elems = append(out.Elems, e)
	}
	return out
}

// decodeField decodes one flattened field.
func (t *Table) decodeField(f Field, data []byte) Value {
	v := Value{Type: f.Type}
	end := f.Offset + f.Size
	if end > uint64(len(data)) || end < f.Offset {
		v.Err = errNotRead
		return v
	}
	b := data[f.Offset:end]
	raw, ok := t.uint(b)
	if f.BitSize != 0 && ok {
		raw = raw >> f.BitOffset & (1<<f.BitSize - 1)
	}
	bits := f.Size * 8
	if f.BitSize != 0 {
		bits = f.BitSize
	}
	switch {
	case f.Encoding == EncCString:
		v.Kind, v.Str = KindString, cString(b)
		v.Len = int64(len(v.Str))
	case f.Encoding == EncFloat && ok:
		v.Kind, v.Float = KindFloat, t.float(b, raw)
	case !ok || f.Encoding == EncBytes:
		v.Kind, v.Str = KindBytes, string(b)
	case f.Enum != nil:
		v.Kind, v.Int = KindEnum, int64(raw)
		if f.Encoding == EncSigned {
			v.Int = signExtend(raw, bits)
		}
		v.Enum, _ = f.EnumName(v.Int)
	case f.Encoding == EncSigned:
		v.Kind, v.Int = KindInt, signExtend(raw, bits)
	case f.Encoding == EncBool:
		v.Kind, v.Bool = KindBool, raw != 0
	case f.Encoding == EncPointer:
		v.Kind, v.Pointer, v.PointsTo = KindPointer, raw, t.pointsTo(raw)
	default:
		v.Kind, v.Uint = KindUint, raw
	}
	return v
}

// decode decodes b as typ; b may be shorter than the type.
func (d *decoder) decode(name string, typ dwarf.Type, b []byte) Value {
	v := Value{Name: name, Type: typeName(typ, d.goLang)}
	d.nodes++
	if d.nodes > maxValueNodes {
		v.Err = "too many values"
		return v
	}
	under := unqualify(typ)
	size := under.Size()
	if size > 0 && int64(len(b)) > size {
		b = b[:size]
	}
	switch u := under.(type) {
	case *dwarf.StructType:
		if d.goLang && d.goValue(&v, u, b) {
			return v
		}
		return d.aggregate(v, u, b)
	case *dwarf.ArrayType:
		return d.array(v, u, b)
	}
	if size > 0 && int64(len(b)) < size {
		v.Err = errNotRead
		return v
	}
	raw, ok := d.t.uint(b)
	switch u := under.(type) {
	case *dwarf.EnumType:
		if !ok {
			break
		}
		v.Kind, v.Int = KindEnum, int64(raw)
		if signedEnum(u) {
			v.Int = signExtend(raw, uint64(size)*8)
		}
		for _, e := range u.Val {
			if e.Val == v.Int {
				v.Enum = e.Name
				break
			}
		}
		return v
	case *dwarf.PtrType:
		if !ok {
			break
		}
		v.Kind, v.Pointer = KindPointer, raw
		if raw != 0 && !d.goLang && isCChar(u.Type) {
			v.Kind, v.Len = KindString, -1
		}
		v.PointsTo = d.t.pointsTo(raw)
		return v
	case *dwarf.FuncType:
		if ok {
			v.Kind, v.Pointer, v.PointsTo = KindPointer, raw, d.t.pointsTo(raw)
			return v
		}
	case *dwarf.BoolType:
		if ok {
			v.Kind, v.Bool = KindBool, raw != 0
			return v
		}
	case *dwarf.FloatType:
		if ok && (size == 4 || size == 8) {
			v.Kind, v.Float = KindFloat, d.t.float(b, raw)
			return v
		}
	case *dwarf.IntType, *dwarf.CharType:
		if ok {
			v.Kind, v.Int = KindInt, signExtend(raw, uint64(size)*8)
			return v
		}
	case *dwarf.UintType, *dwarf.UcharType:
		if ok {
			v.Kind, v.Uint = KindUint, raw
			return v
		}
	}
	v.Kind, v.Str = KindBytes, string(b)
	return v
}

// aggregate decodes a C struct or union (or a Go struct).
func (d *decoder) aggregate(v Value, u *dwarf.StructType, b []byte) Value {
	v.Kind = KindStruct
	if u.Kind == "union" {
		v.Kind = KindUnion
	}
	if u.Incomplete {
		v.Kind, v.Str = KindBytes, string(b)
		return v
	}
	for _, m := range u.Field {
		if m.BitSize != 0 {
			v.Elems = append(v.Elems, d.bits(m, b))
			continue
		}
		off := max(m.ByteOffset, 0)
		var mb []byte
		if off <= int64(len(b)) {
			mb = b[off:]
		}
		v.Elems = append(v.Elems, d.decode(m.Name, m.Type, mb))
	}
	return v
}

// bits decodes a bit-field member of the struct whose bytes are b.
func (d *decoder) bits(m *dwarf.StructField, b []byte) Value {
	f := bitField(m.Name, 0, m, d.goLang)
	v := d.t.decodeField(f, b)
	v.Name, v.Type = m.Name, f.Type
	d.nodes++
	return v
}

// array decodes a C or Go array: a C string for plain char elements.
func (d *decoder) array(v Value, u *dwarf.ArrayType, b []byte) Value {
	if !d.goLang && isCChar(u.Type) {
		if _, multi := unqualify(u.Type).(*dwarf.ArrayType); !multi {
			v.Kind, v.Str = KindString, cString(b)
			v.Len = int64(len(v.Str))
			return v
		}
	}
	v.Kind, v.Len = KindArray, max(u.Count, 0)
	es := u.Type.Size()
	if es <= 0 {
		return v
	}
	n := min(v.Len, maxValueElems)
	for i := range n {
		var eb []byte
		if off := i * es; off < int64(len(b)) {
			eb = b[off:]
		}
		e := d.decode(fmt.Sprintf("[%d]", i), u.Type, eb)
		v.Elems = append(v.Elems, e)
	}
	return v
}

// goValue decodes the Go shapes DWARF describes as structs: strings,
// slices and interfaces. It reports false for any other struct.
func (d *decoder) goValue(v *Value, u *dwarf.StructType, b []byte) bool {
	shape := goShape(u)
	if shape == 0 {
		return false
	}
	ps := int64(d.t.ptr)
	if int64(len(b)) < 2*ps {
		v.Kind, v.Err = shape, errNotRead
		return true
	}
	w0, _ := d.t.uint(b[:ps])
	w1, _ := d.t.uint(b[ps : 2*ps])
	v.Kind = shape
	switch shape {
	case KindString, KindSlice:
		v.Pointer, v.Len = w0, int64(w1)
		if v.Len < 0 {
			v.Err = fmt.Sprintf("bad length %d", v.Len)
		}
	case KindInterface:
		v.Pointer = w1
		if w0 == 0 {
			return true
		}
		dyn, name := d.t.dynamicType(u.StructName, w0)
		// A type the DWARF does not have is still not nil: name it by
		// where its descriptor is.
		v.PointsTo = cmp.Or(name, d.t.Describe(w0), fmt.Sprintf("%#x", w0))
		if dyn != nil && pointerShaped(dyn) {
			word := b[ps : 2*ps]
			v.Elems = []Value{d.decode("", dyn, word)}
		}
	}
	return true
}

// goShape says which Go value a DWARF struct is: KindString, KindSlice,
// KindInterface, or 0 for an ordinary struct.
func goShape(u *dwarf.StructType) ValueKind {
	names := make([]string, len(u.Field))
	for i, f := range u.Field {
		names[i] = f.Name
	}
	fields := strings.Join(names, ",")
	switch {
	case u.StructName == "string" && fields == "str,len":
		return KindString
	case strings.HasPrefix(u.StructName, "[]") && fields == "array,len,cap":
		return KindSlice
	case u.StructName == "runtime.iface" && fields == "tab,data",
		u.StructName == "runtime.eface" && fields == "_type,data":
		return KindInterface
	}
	return 0
}

// pointerShaped says whether a Go interface holding a value of type t
// holds the value itself in its data word (pointers, maps, channels,
// functions) rather than a pointer to it.
func pointerShaped(t dwarf.Type) bool {
	switch unqualify(t).(type) {
	case *dwarf.PtrType, *dwarf.FuncType:
		return true
	}
	return false
}

// dynamicType is the dynamic type of a Go interface whose first word is
// w0: an itab (runtime.iface), named by its go:itab.<type>,<interface>
// symbol, or a type descriptor (runtime.eface), found through
// DW_AT_go_runtime_type. The type is nil when the DWARF does not have it;
// the name is then what the symbols say, or "".
func (t *Table) dynamicType(shape string, w0 uint64) (dwarf.Type, string) {
	var off dwarf.Offset
	var name string
	var ok bool
	if shape == "runtime.iface" {
		sym := t.Describe(w0)
		rest, found := strings.CutPrefix(sym, "go:itab.")
		if !found {
			return nil, ""
		}
		if i := strings.LastIndexByte(rest, ','); i >= 0 {
			rest = rest[:i]
		}
		name = rest
		off, ok = t.dw.goTypes[name]
	} else {
		off, ok = t.dw.rtypes[w0]
	}
	if !ok {
		return nil, name
	}
	typ, err := t.dw.typ(off)
	if err != nil {
		return nil, name
	}
	return typ, typeName(typ, true)
}

// goType is the Go type of this name, nil when unknown.
func (t *Table) goType(name string) dwarf.Type {
	t.dwarfOnce.Do(t.loadDWARF)
	if t.dw == nil || name == "" {
		return nil
	}
	off, ok := t.dw.goTypes[name]
	if !ok {
		return nil
	}
	typ, err := t.dw.typ(off)
	if err != nil {
		return nil
	}
	return typ
}

// sliceElem is the element type of the Go slice type named name.
func (t *Table) sliceElem(name string) dwarf.Type {
	typ := t.goType(name)
	if typ == nil {
		return nil
	}
	s, ok := unqualify(typ).(*dwarf.StructType)
	if !ok || len(s.Field) == 0 {
		return nil
	}
	p, ok := unqualify(s.Field[0].Type).(*dwarf.PtrType)
	if !ok {
		return nil
	}
	return p.Type
}

// signedEnum says whether an enum has negative values (and so a signed
// underlying type).
func signedEnum(u *dwarf.EnumType) bool {
	for _, e := range u.Val {
		if e.Val < 0 {
			return true
		}
	}
	return false
}

// uint reads a 1, 2, 4 or 8-byte unsigned integer in the ELF's byte order.
func (t *Table) uint(b []byte) (uint64, bool) {
	switch len(b) {
	case 1:
		return uint64(b[0]), true
	case 2:
		return uint64(t.order.Uint16(b)), true
	case 4:
		return uint64(t.order.Uint32(b)), true
	case 8:
		return t.order.Uint64(b), true
	}
	return 0, false
}

// float reads b (4 or 8 bytes, raw already read) as IEEE 754. A float32
// becomes the float64 of its shortest decimal form (1.1, not
// 1.100000023841858), which is what it means to show.
func (t *Table) float(b []byte, raw uint64) float64 {
	if len(b) == 4 {
		f := math.Float32frombits(uint32(raw))
		if d, err := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'g', -1, 32), 64); err == nil {
			return d
		}
		return float64(f)
	}
	return math.Float64frombits(raw)
}

// pointsTo names what a pointer value points at; "" for NULL.
func (t *Table) pointsTo(p uint64) string {
	if p == 0 {
		return ""
	}
	return t.Describe(p)
}

// signExtend reads the low bits of v as a two's complement number.
func signExtend(v, bits uint64) int64 {
	if bits == 0 || bits >= 64 {
		return int64(v)
	}
	shift := 64 - bits
	return int64(v<<shift) >> shift
}

// cString is b up to its first NUL.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// Follow says which read completes v or the first value inside it that
// holds its bytes elsewhere (depth first): a Go string's or a C char *'s
// text, a Go slice's elements, a Go interface's dynamic value. Reads are
// bounded (the first 256 bytes of a string, the first 64 elements of a
// slice, 4 KiB at most). ok is false when nothing is left to read. Read
// size bytes at addr and pass them to Complete; repeat until ok is false,
// or until the caller's budget of reads is spent (a value with many
// strings needs one read each; values past the budget stay unread).
func (t *Table) Follow(v Value) (addr, size uint64, ok bool) {
	p := t.nextPending(&v)
	if p == nil {
		return 0, 0, false
	}
	return t.pending(p)
}

// Complete decodes data, read as the last Follow on v said, into the
// value it completes. Data that is empty (the read failed) marks that
// value "not read", so a Follow/Complete loop always ends.
func (t *Table) Complete(v *Value, data []byte) {
	p := t.nextPending(v)
	if p == nil {
		return
	}
	if len(data) == 0 {
		p.Err = errNotRead
		return
	}
	switch p.Kind {
	case KindString:
		if p.Len < 0 {
			// A C string: up to its NUL; no NUL within the read leaves Len
			// at -1, the text cut.
			if i := bytes.IndexByte(data, 0); i >= 0 {
				p.Str, p.Len = string(data[:i]), int64(i)
				if i == 0 {
					p.Len = 0
				}
				return
			}
			p.Str = string(data)
			return
		}
		p.Str = string(data[:min(int64(len(data)), p.Len)])
	case KindSlice:
		elem := t.sliceElem(p.Type)
		es := elem.Size()
		d := &decoder{t: t, goLang: true}
		n := min(p.Len, maxSliceRead, int64(len(data))/es)
		p.Elems = make([]Value, 0, n)
		for i := range n {
			p.Elems = append(p.Elems, d.decode(fmt.Sprintf("[%d]", i), elem, data[i*es:]))
		}
		if n == 0 {
			p.Err = errNotRead
		}
	case KindInterface:
		d := &decoder{t: t, goLang: true}
		p.Elems = []Value{d.decode("", t.goType(p.PointsTo), data)}
	}
}

// nextPending is the first value in v, depth first, that Follow would
// read for.
func (t *Table) nextPending(v *Value) *Value {
	if _, _, ok := t.pending(v); ok {
		return v
	}
	for i := range v.Elems {
		if p := t.nextPending(&v.Elems[i]); p != nil {
			return p
		}
	}
	return nil
}

// pending says what read v itself still needs.
func (t *Table) pending(v *Value) (addr, size uint64, ok bool) {
	if v.Err != "" || v.Pointer == 0 {
		return 0, 0, false
	}
	switch v.Kind {
	case KindString:
		if v.Str != "" || v.Len == 0 {
			return 0, 0, false
		}
		n := uint64(maxStringRead)
		if v.Len > 0 {
			n = min(uint64(v.Len), n)
		}
		return v.Pointer, n, true
	case KindSlice:
		if v.Elems != nil || v.Len <= 0 {
			return 0, 0, false
		}
		elem := t.sliceElem(v.Type)
		if elem == nil || elem.Size() <= 0 {
			return 0, 0, false
		}
		es := uint64(elem.Size())
		n := min(uint64(v.Len), maxSliceRead, max(maxFollowRead/es, 1))
		return v.Pointer, n * es, true
	case KindInterface:
		if v.Elems != nil || v.PointsTo == "" {
			return 0, 0, false
		}
		dyn := t.goType(v.PointsTo)
		if dyn == nil || dyn.Size() <= 0 || pointerShaped(dyn) {
			return 0, 0, false
		}
		return v.Pointer, min(uint64(dyn.Size()), maxFollowRead), true
	}
	return 0, 0, false
}

// JSON is v as encoding/json renders it for scripts: a number for an
// integer, an enum's value, a float or a pointer; a boolean; a string for
// text (raw bytes as hex); an object keyed by member name for a struct or
// union (an anonymous member's members inline); an array for an array or
// a slice; an interface's dynamic value. A value that could not be read
// (Err), a nil interface and unread bytes are null.
func (v Value) JSON() any {
	if v.Err != "" {
		return nil
	}
	switch v.Kind {
	case KindInt, KindEnum:
		return v.Int
	case KindUint:
		return v.Uint
	case KindFloat:
		if math.IsNaN(v.Float) || math.IsInf(v.Float, 0) {
			return strconv.FormatFloat(v.Float, 'g', -1, 64)
		}
		return v.Float
	case KindBool:
		return v.Bool
	case KindPointer:
		return v.Pointer
	case KindString:
		if v.Str == "" && v.Len != 0 {
			return nil // not read yet
		}
		return v.Str
	case KindStruct, KindUnion:
		obj := make(map[string]any, len(v.Elems))
		v.members(obj)
		return obj
	case KindArray, KindSlice:
		arr := make([]any, 0, len(v.Elems))
		for _, e := range v.Elems {
			arr = append(arr, e.JSON())
		}
		return arr
	case KindInterface:
		if len(v.Elems) > 0 {
			return v.Elems[0].JSON()
		}
		if v.Pointer == 0 && v.PointsTo == "" {
			return nil
		}
		return v.Pointer
	}
	return hex.EncodeToString([]byte(v.Str))
}

// members adds a struct's members to obj, an anonymous member's own.
func (v Value) members(obj map[string]any) {
	for _, e := range v.Elems {
		if e.Name == "" && (e.Kind == KindStruct || e.Kind == KindUnion) && e.Err == "" {
			e.members(obj)
			continue
		}
		obj[e.Name] = e.JSON()
	}
}

// maxStringShown bounds the text String shows of one string.
const maxStringShown = 64

// String renders v on one line, the way a watch shows it: `42`, `RED`,
// `0x00105380 (stats+0x4)`, `"hello"`, `{count: 3, pos: {x: 1, y: 2}}`,
// `[1, 2, 3]`, `*errors.errorString(0xc000012345)`.
func (v Value) String() string {
	if v.Err != "" {
		return "(" + v.Err + ")"
	}
	switch v.Kind {
	case KindInt:
		return strconv.FormatInt(v.Int, 10)
	case KindUint:
		return strconv.FormatUint(v.Uint, 10)
	case KindFloat:
		return strconv.FormatFloat(v.Float, 'g', -1, 64)
	case KindBool:
		return strconv.FormatBool(v.Bool)
	case KindEnum:
		if v.Enum != "" {
			return v.Enum
		}
		return strconv.FormatInt(v.Int, 10)
	case KindPointer:
		return pointerString(v.Pointer, v.PointsTo)
	case KindString:
		return v.stringText()
	case KindStruct, KindUnion:
		parts := make([]string, 0, len(v.Elems))
		for _, e := range v.Elems {
			if e.Name == "" {
				parts = append(parts, e.String())
				continue
			}
			parts = append(parts, e.Name+": "+e.String())
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case KindArray, KindSlice:
		if v.Kind == KindSlice && v.Elems == nil && v.Len > 0 {
			return fmt.Sprintf("len %d at %s", v.Len, pointerString(v.Pointer, v.PointsTo))
		}
		parts := make([]string, 0, min(len(v.Elems), maxElemsShown)+1)
		for _, e := range v.Elems[:min(len(v.Elems), maxElemsShown)] {
			parts = append(parts, e.String())
		}
		if int64(min(len(v.Elems), maxElemsShown)) < v.Len {
			parts = append(parts, fmt.Sprintf("… (len %d)", v.Len))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case KindInterface:
		switch {
		case v.PointsTo == "" && v.Pointer == 0:
			return "nil"
		case len(v.Elems) > 0:
			return v.PointsTo + "(" + v.Elems[0].String() + ")"
		}
		return v.PointsTo + "(" + pointerString(v.Pointer, "") + ")"
	}
	return bytesText([]byte(v.Str))
}

// stringText renders a string value: quoted text, or where its bytes are
// before they are read.
func (v Value) stringText() string {
	if v.Str == "" && v.Len != 0 {
		if v.Len < 0 {
			return pointerString(v.Pointer, v.PointsTo)
		}
		return fmt.Sprintf("len %d at %s", v.Len, pointerString(v.Pointer, v.PointsTo))
	}
	s := v.Str
	cut := len(s) > maxStringShown
	if cut {
		s = s[:maxStringShown]
	}
	q := strconv.Quote(s)
	switch {
	case v.Len > int64(len(v.Str)):
		q += fmt.Sprintf("… (len %d)", v.Len)
	case cut || v.Len < 0:
		q += "…"
	}
	return q
}

// pointerString renders an address with the symbol it points into.
func pointerString(p uint64, to string) string {
	s := fmt.Sprintf("%#x", p)
	if to != "" {
		s += " (" + to + ")"
	}
	return s
}

// bytesText renders up to 16 bytes in hex.
func bytesText(b []byte) string {
	const shown = 16
	more := len(b) > shown
	if more {
		b = b[:shown]
	}
	var sb strings.Builder
	for i, c := range b {
		if i > 0 {
			sb.WriteByte(' ')
		}
		fmt.Fprintf(&sb, "%02x", c)
	}
	if more {
		sb.WriteString(" …")
	}
	return sb.String()
}
