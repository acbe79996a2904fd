package symbols

import (
	"debug/dwarf"
	"encoding/binary"
	"path"
	"sort"
	"sync"
)

// DWARF attributes and constants debug/dwarf does not name.
const (
	// attrGoRuntimeType is DW_AT_go_runtime_type: a Go type's runtime
	// descriptor, as an offset from the runtime.types symbol.
	attrGoRuntimeType dwarf.Attr = 0x2904
	// langGo is DW_LANG_Go.
	langGo = 0x16
	// maxOriginHops bounds a chain of DW_AT_specification and
	// DW_AT_abstract_origin references (a loop in broken DWARF ends).
	maxOriginHops = 8
)

// dwarfVar is what the DWARF says about the variable at one address.
type dwarfVar struct {
	typ dwarf.Offset
	// scope is the function a static local is declared in, "" at file
	// scope.
	scope string
	// goLang is set for variables of a Go compile unit, whose strings,
	// slices and interfaces are decoded as Go values.
	goLang bool
	// unit is the compile unit's source file.
	unit string
	// decl is the entry that declares the variable's type when the
	// definition only points at it: its unit names the variable's source
	// (under LTO the definition sits in an artificial unit).
	decl dwarf.Offset
}

// unitStart is where a compile unit's entries begin, and its source file.
type unitStart struct {
	off  dwarf.Offset
	path string
}

// dwarfIndex is the part of an ELF's DWARF the variables need, read once.
type dwarfIndex struct {
	// typeMu serialises data.Type, whose cache is a plain map: the views
	// and the control socket read variables concurrently.
	typeMu sync.Mutex
	data   *dwarf.Data
	vars   map[uint64]dwarfVar
	// goTypes are a Go program's types by name ("[]main.item",
	// "*errors.errorString"), to decode the bytes a slice or an interface
	// points at.
	goTypes map[string]dwarf.Offset
	// rtypes maps a Go runtime type descriptor's address to its DWARF
	// type: the dynamic type of an interface{}.
	rtypes map[uint64]dwarf.Offset
}

// typ reads the type at off (cached by debug/dwarf). The Type it returns
// is not changed afterwards and may be shared.
func (ix *dwarfIndex) typ(off dwarf.Offset) (dwarf.Type, error) {
	ix.typeMu.Lock()
	defer ix.typeMu.Unlock()
	return ix.data.Type(off)
}

// scopeFrame is an entry with children on the walk: a subprogram names
// the scope of the static locals below it.
type scopeFrame struct {
	sub bool
	// name is the subprogram's name, or off the entry to resolve it from
	// (an out-of-line or inlined copy names its function only through
	// DW_AT_abstract_origin or DW_AT_specification).
	name string
	off  dwarf.Offset
}

// loadDWARF indexes the DWARF variables that have a fixed address
// (DW_OP_addr), following DW_AT_specification and DW_AT_abstract_origin to
// the entry that carries the name and type. A file without DWARF, or one
// that cannot be reopened, leaves t.dw nil: types are a bonus, symbols
// still work.
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
	t.dw = indexDWARF(d, t.order, t.typesBase())
}

// typesBase is the address of a Go program's runtime.types symbol, which
// DW_AT_go_runtime_type offsets count from; 0 when there is none.
func (t *Table) typesBase() uint64 {
	if s, ok := t.Lookup("runtime.types"); ok {
		return s.Addr
	}
	return 0
}

func indexDWARF(d *dwarf.Data, order binary.ByteOrder, typesBase uint64) *dwarfIndex {
	ix := &dwarfIndex{data: d, vars: make(map[uint64]dwarfVar)}
	refs := d.Reader() // a second reader, to follow references
	var stack []scopeFrame
	goLang := false
	var units []unitStart
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil || e == nil {
			break
		}
		if e.Tag == 0 {
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			continue
		}
		switch e.Tag {
		case dwarf.TagCompileUnit, dwarf.TagPartialUnit:
			stack = stack[:0]
			lang, _ := e.Val(dwarf.AttrLanguage).(int64)
			goLang = lang == langGo
			units = append(units, unitStart{e.Offset, unitPath(e)})
		case dwarf.TagVariable:
			v := dwarfVar{goLang: goLang}
			if len(units) > 0 {
				v.unit = units[len(units)-1].path
			}
			ix.addVariable(e, refs, stack, v, r.AddressSize(), order)
		default:
			if goLang {
				ix.addGoType(e, typesBase)
			}
		}
		if e.Children {
			fr := scopeFrame{}
			if e.Tag == dwarf.TagSubprogram || e.Tag == dwarf.TagInlinedSubroutine {
				fr.sub = true
				fr.name, _ = e.Val(dwarf.AttrName).(string)
				fr.off = e.Offset
			}
			stack = append(stack, fr)
		}
	}
	for addr, v := range ix.vars {
		if v.decl == 0 {
			continue
		}
		// Units come in offset order: the last one starting at or before
		// the declaration holds it.
		i := sort.Search(len(units), func(k int) bool { return units[k].off > v.decl })
		if i > 0 {
			v.unit = units[i-1].path
			ix.vars[addr] = v
		}
	}
	return ix
}

// unitPath is a compile unit's source file: its DW_AT_name, made
// absolute with DW_AT_comp_dir where it is relative. A Go unit is named
// by its package path.
func unitPath(cu *dwarf.Entry) string {
	name, _ := cu.Val(dwarf.AttrName).(string)
	dir, _ := cu.Val(dwarf.AttrCompDir).(string)
	if name == "" || dir == "" || path.IsAbs(name) {
		return name
	}
	lang, _ := cu.Val(dwarf.AttrLanguage).(int64)
	if lang == langGo {
		return name
	}
	return path.Join(dir, name)
}

// addVariable records a variable entry that has a fixed address.
func (ix *dwarfIndex) addVariable(e *dwarf.Entry, refs *dwarf.Reader, stack []scopeFrame, v dwarfVar, addrSize int, order binary.ByteOrder) {
	loc, ok := e.Val(dwarf.AttrLocation).([]byte)
	if !ok {
		return
	}
	addr, ok := opAddr(loc, addrSize, order)
	if !ok {
		return
	}
	typ, ok := e.Val(dwarf.AttrType).(dwarf.Offset)
	if !ok {
		typ, v.decl, ok = originType(e, refs)
		if !ok {
			return
		}
	}
	v.typ = typ
	for i := len(stack) - 1; i >= 0; i-- {
		if stack[i].sub {
			v.scope = stack[i].name
			if v.scope == "" {
				v.scope = originName(stack[i].off, refs)
			}
			break
		}
	}
	// The first entry for an address is kept: another unit's entry at
	// the same address (a common symbol) describes the same variable.
	if _, seen := ix.vars[addr]; !seen {
		ix.vars[addr] = v
	}
}

// originType follows e's DW_AT_specification or DW_AT_abstract_origin
// chain to the entry that declares its type, and returns the type and
// that entry's offset.
func originType(e *dwarf.Entry, refs *dwarf.Reader) (typ, decl dwarf.Offset, ok bool) {
	for range maxOriginHops {
		next, ok := origin(e)
		if !ok {
			return 0, 0, false
		}
		refs.Seek(next)
		if e, _ = refs.Next(); e == nil {
			return 0, 0, false
		}
		if typ, ok := e.Val(dwarf.AttrType).(dwarf.Offset); ok {
			return typ, e.Offset, true
		}
	}
	return 0, 0, false
}

// originName names the entry at off through its origin chain: the
// function an out-of-line or concrete copy of a subprogram stands for.
func originName(off dwarf.Offset, refs *dwarf.Reader) string {
	refs.Seek(off)
	e, _ := refs.Next()
	for range maxOriginHops {
		if e == nil {
			return ""
		}
		if name, ok := e.Val(dwarf.AttrName).(string); ok {
			return name
		}
		next, ok := origin(e)
		if !ok {
			return ""
		}
		refs.Seek(next)
		e, _ = refs.Next()
	}
	return ""
}

// origin is the entry e completes: its DW_AT_specification (a definition
// of a declaration) or DW_AT_abstract_origin (a concrete copy of an
// abstract instance).
func origin(e *dwarf.Entry) (dwarf.Offset, bool) {
	if off, ok := e.Val(dwarf.AttrSpecification).(dwarf.Offset); ok {
		return off, true
	}
	off, ok := e.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset)
	return off, ok
}

// addGoType records a named Go type, and its runtime descriptor's
// address when the entry gives one.
func (ix *dwarfIndex) addGoType(e *dwarf.Entry, typesBase uint64) {
	switch e.Tag {
	case dwarf.TagBaseType, dwarf.TagStructType, dwarf.TagTypedef, dwarf.TagPointerType,
		dwarf.TagArrayType, dwarf.TagSubroutineType, dwarf.TagUnionType:
	default:
		return
	}
	name, ok := e.Val(dwarf.AttrName).(string)
	if !ok || name == "" {
		return
	}
	if ix.goTypes == nil {
		ix.goTypes = make(map[string]dwarf.Offset)
		ix.rtypes = make(map[uint64]dwarf.Offset)
	}
	if _, seen := ix.goTypes[name]; !seen {
		ix.goTypes[name] = e.Offset
	}
	var rt uint64
	switch v := e.Val(attrGoRuntimeType).(type) {
	case uint64:
		rt = v
	case int64:
		rt = uint64(v)
	}
	if rt != 0 && typesBase != 0 {
		if rt < typesBase {
			rt += typesBase
		}
		if _, seen := ix.rtypes[rt]; !seen {
			ix.rtypes[rt] = e.Offset
		}
	}
}
