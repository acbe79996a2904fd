package devloop

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/ukdev/ukdev/symbols"
)

// typeSpec is a type named on the command line (--type).
type typeSpec struct {
	name  string // as shown: "uint32_t"-like names are the caller's own
	elem  Field  // one element, at offset 0
	count uint64 // array length; 0 for a scalar
	cstr  bool   // char[N]: one C string
}

// memTypeRE is "name" or "name[N]".
var memTypeRE = regexp.MustCompile(`^([a-z]+[0-9]*)\s*(?:\[\s*([0-9]+)\s*\])?$`)

// maxTypedElems bounds an array --type: each element is a member with
// its own text in the reply.
const maxTypedElems = 1024

// parseMemType reads a --type: u8, u16, u32, u64, i8, i16, i32, i64 (s8...
// too), f32, f64, bool, ptr, char, an array of one of those ("u32[4]"),
// char[N] (a C string) or bytes[N].
func parseMemType(s string, ptrSize int) (typeSpec, error) {
	m := memTypeRE.FindStringSubmatch(strings.ToLower(strings.TrimSpace(s)))
	if m == nil {
		return typeSpec{}, fmt.Errorf("%w: type %q (want u8, u16, u32, u64, i8...i64, f32, f64, bool, ptr, char[N], bytes[N], or an array such as u32[4])", ErrBadExpr, s)
	}
	base, count := m[1], uint64(0)
	if m[2] != "" {
		n, err := strconv.ParseUint(m[2], 10, 64)
		if err != nil || n == 0 || n > MaxMemRead {
			return typeSpec{}, fmt.Errorf("%w: type %q: the length must be 1 to %d", ErrBadExpr, s, MaxMemRead)
		}
		count = n
	}
	var f Field
	switch base {
	case "u8", "u16", "u32", "u64":
		f = Field{Encoding: EncUnsigned}
	case "i8", "i16", "i32", "i64", "s8", "s16", "s32", "s64":
		f = Field{Encoding: EncSigned}
	case "f32", "f64":
		f = Field{Encoding: EncFloat}
	case "bool":
		f = Field{Encoding: EncBool, Size: 1}
	case "ptr":
		f = Field{Encoding: EncPointer, Size: uint64(ptrSize)}
	case "char":
		if count > 0 {
			return typeSpec{name: fmt.Sprintf("char [%d]", count), cstr: true,
				elem: Field{Size: count, Type: fmt.Sprintf("char [%d]", count), Encoding: EncBytes}}, nil
		}
		f = Field{Encoding: EncSigned, Size: 1}
	case "bytes":
		if count == 0 {
			return typeSpec{}, fmt.Errorf("%w: type %q: bytes needs a length (bytes[16])", ErrBadExpr, s)
		}
		return typeSpec{name: fmt.Sprintf("%d bytes", count),
			elem: Field{Size: count, Type: fmt.Sprintf("%d bytes", count), Encoding: EncBytes}}, nil
	default:
		return typeSpec{}, fmt.Errorf("%w: unknown type %q (want u8, u16, u32, u64, i8...i64, f32, f64, bool, ptr, char[N], bytes[N])", ErrBadExpr, s)
	}
	if f.Size == 0 {
		bits, _ := strconv.Atoi(base[1:])
		f.Size = uint64(bits / 8)
	}
	f.Type = base
	if count > maxTypedElems {
		return typeSpec{}, fmt.Errorf("%w: type %q: more than %d elements (bytes[N] reads more)", ErrBadExpr, s, maxTypedElems)
	}
	ts := typeSpec{name: base, elem: f, count: count}
	if count > 0 {
		ts.name = fmt.Sprintf("%s [%d]", base, count)
	}
	return ts, nil
}

// size is how many bytes a value of the type takes.
func (ts typeSpec) size() uint64 {
	if ts.count > 0 && !ts.cstr {
		return ts.count * ts.elem.Size
	}
	return ts.elem.Size
}

// variable is a value of the type at addr, as Table.Variable describes
// one: one field, or one per array element ("[2]").
func (ts typeSpec) variable(addr uint64) Variable {
	v := Variable{Symbol: symbols.Symbol{Addr: addr, Size: ts.size(), Kind: SymObject}, Type: ts.name}
	if ts.count == 0 || ts.cstr {
		v.Fields = []Field{ts.elem}
		return v
	}
	for i := range ts.count {
		f := ts.elem
		f.Name = fmt.Sprintf("[%d]", i)
		f.Offset = i * f.Size
		v.Fields = append(v.Fields, f)
	}
	return v
}

// fieldText is a member's value as `ukdev mem read` prints it: a C string
// quoted, anything else as the memory panel shows it.
func fieldText(f Field, data []byte, order binary.ByteOrder) string {
	if isCString(f) {
		if b, ok := f.Bytes(data); ok {
			return strconv.Quote(cString(b))
		}
	}
	return f.Format(data, order)
}

// cArrayRE reads a DWARF array type as symbols names it: "char [16]",
// "volatile uint32_t [64]".
var cArrayRE = regexp.MustCompile(`^(?:(?:const|volatile)\s+)*(.+?)\s*\[([0-9]+)\]$`)

// isCString says whether a field is an array of char (a C string).
func isCString(f Field) bool {
	if f.Encoding == EncCString {
		return true
	}
	if f.Encoding != EncBytes {
		return false
	}
	m := cArrayRE.FindStringSubmatch(f.Type)
	if m == nil {
		return false
	}
	switch strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(m[1], "volatile "), "const ")) {
	case "char", "signed char", "unsigned char":
		return true
	}
	return false
}

// cString is b up to its first NUL.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// valueJSON shapes a variable's flattened fields as one JSON value: the
// field itself when there is one without a name, otherwise objects keyed
// by the dotted names' parts and arrays for their indexes.
func valueJSON(fields []Field, data []byte, order binary.ByteOrder) (json.RawMessage, error) {
	root := &jsonNode{}
	for _, f := range fields {
		n := root
		for _, p := range splitFieldName(f.Name) {
			n = n.child(p)
		}
		n.leaf, n.kind = fieldJSON(f, data, order), nodeLeaf
	}
	if root.kind == nodeNone {
		root.kind = nodeLeaf
	}
	out, err := json.Marshal(root)
	if err != nil {
		return nil, fmt.Errorf("devloop: value as JSON: %w", err)
	}
	return out, nil
}

// fieldPart is one part of a dotted field name: a member or an index.
type fieldPart struct {
	key   string
	index int // when key == ""
}

// splitFieldName splits ".pos.x", ".hist[2]", "[3]" into their parts.
func splitFieldName(name string) []fieldPart {
	var parts []fieldPart
	for name != "" {
		switch name[0] {
		case '.':
			name = name[1:]
			end := strings.IndexAny(name, ".[")
			if end < 0 {
				end = len(name)
			}
			parts = append(parts, fieldPart{key: name[:end]})
			name = name[end:]
		case '[':
			end := strings.IndexByte(name, ']')
			i, err := strconv.Atoi(name[1:max(end, 1)])
			if end < 0 || err != nil || i < 0 {
				return append(parts, fieldPart{key: name})
			}
			parts = append(parts, fieldPart{key: "", index: i})
			name = name[end+1:]
		default:
			end := strings.IndexAny(name, ".[")
			if end < 0 {
				end = len(name)
			}
			parts = append(parts, fieldPart{key: name[:end]})
			name = name[end:]
		}
	}
	return parts
}

// fieldJSON is one member's value: a number for integers, enums and
// pointers, a bool, a float (a string for NaN and infinities, which JSON
// has no numbers for), a string for a C string, an array of numbers for
// an array of scalars, and its bytes' numbers for anything else; null
// when it lies past the bytes read.
func fieldJSON(f Field, data []byte, order binary.ByteOrder) any {
	b, ok := f.Bytes(data)
	if !ok {
		return nil
	}
	switch f.Encoding {
	case EncUnsigned, EncPointer:
		if raw, _, ok := f.Raw(data, order); ok {
			return raw
		}
	case EncSigned:
		if raw, bits, ok := f.Raw(data, order); ok {
			return symbols.SignExtend(raw, bits)
		}
	case EncBool:
		if raw, _, ok := f.Raw(data, order); ok {
			return raw != 0
		}
	case EncFloat:
		if v, ok := f.Float(data, order); ok {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return strconv.FormatFloat(v, 'g', -1, 64)
			}
			return v
		}
	}
	if isCString(f) {
		return cString(b)
	}
	if elems, ok := arrayJSON(f, b, order); ok {
		return elems
	}
	// A []byte would be base64: spell the numbers out.
	nums := make([]int, len(b))
	for i, c := range b {
		nums[i] = int(c)
	}
	return nums
}

// arrayJSON reads an array of integers or floats that symbols left as
// bytes (longer than it expands), from its type's name: "uint32_t [64]".
func arrayJSON(f Field, b []byte, order binary.ByteOrder) ([]any, bool) {
	m := cArrayRE.FindStringSubmatch(f.Type)
	if m == nil {
		return nil, false
	}
	n, err := strconv.ParseUint(m[2], 10, 64)
	if err != nil || n == 0 || f.Size%n != 0 {
		return nil, false
	}
	es := f.Size / n
	enc := scalarByName(m[1], es)
	if enc == EncBytes {
		return nil, false
	}
	out := make([]any, 0, n)
	for i := range n {
		e := Field{Offset: i * es, Size: es, Encoding: enc}
		out = append(out, fieldJSON(e, b, order))
	}
	return out, true
}

// scalarByName guesses how a C type named name of size bytes reads, for
// arrays whose elements symbols does not describe: EncBytes when unsure.
func scalarByName(name string, size uint64) Encoding {
	switch size {
	case 1, 2, 4, 8:
	default:
		return EncBytes
	}
	name = strings.TrimSpace(name)
	for _, q := range []string{"const ", "volatile "} {
		name = strings.ReplaceAll(name, q, "")
	}
	switch {
	case strings.ContainsAny(name, "*[(") || strings.HasPrefix(name, "struct ") || strings.HasPrefix(name, "union "):
		return EncBytes
	case name == "float" || name == "double":
		return EncFloat
	case name == "_Bool" || name == "bool":
		return EncBool
	case strings.Contains(name, "unsigned") || strings.HasPrefix(name, "uint") || strings.HasPrefix(name, "u") && isDigits(name[1:]) ||
		name == "size_t" || name == "uintptr_t" || strings.HasPrefix(name, "__u") || strings.HasPrefix(name, "enum "):
		return EncUnsigned
	case strings.Contains(name, "int") || strings.Contains(name, "long") || strings.Contains(name, "short") ||
		name == "char" || name == "signed char" || (len(name) > 1 && (name[0] == 's' || name[0] == 'i') && isDigits(name[1:])) ||
		name == "ssize_t" || strings.HasPrefix(name, "__s"):
		return EncSigned
	}
	return EncBytes
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// nodeKind says what a jsonNode holds.
type nodeKind int

const (
	nodeNone nodeKind = iota
	nodeLeaf
	nodeObject
	nodeArray
)

// jsonNode is a value being shaped: a leaf, an object that keeps its
// members in order (a struct's), or an array.
type jsonNode struct {
	kind  nodeKind
	leaf  any
	keys  []string
	obj   map[string]*jsonNode
	elems []*jsonNode
}

// child returns the member or element p of n, made on first use; n
// becomes an object or an array as p says.
func (n *jsonNode) child(p fieldPart) *jsonNode {
	if p.key == "" {
		if n.kind != nodeArray {
			*n = jsonNode{kind: nodeArray}
		}
		for len(n.elems) <= p.index {
			n.elems = append(n.elems, &jsonNode{})
		}
		return n.elems[p.index]
	}
	if n.kind != nodeObject {
		*n = jsonNode{kind: nodeObject, obj: map[string]*jsonNode{}}
	}
	c, ok := n.obj[p.key]
	if !ok {
		c = &jsonNode{}
		n.obj[p.key] = c
		n.keys = append(n.keys, p.key)
	}
	return c
}

// MarshalJSON writes the node, an object's members in their order.
func (n *jsonNode) MarshalJSON() ([]byte, error) {
	switch n.kind {
	case nodeObject:
		var b bytes.Buffer
		b.WriteByte('{')
		for i, k := range n.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			key, _ := json.Marshal(k)
			b.Write(key)
			b.WriteByte(':')
			v, err := json.Marshal(n.obj[k])
			if err != nil {
				return nil, err
			}
			b.Write(v)
		}
		b.WriteByte('}')
		return b.Bytes(), nil
	case nodeArray:
		return json.Marshal(n.elems)
	}
	return json.Marshal(n.leaf)
}
