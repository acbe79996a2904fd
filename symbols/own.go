package symbols

import (
	"debug/dwarf"
	"encoding/binary"
	"fmt"
	"path"
	"sort"
	"strings"
)

// Origin says whose sources define a variable: the program's own, or a
// library's (the C library, the Go runtime, Unikraft's core and libs).
type Origin int

// The Origins of a variable, in the order a memory view ranks them.
const (
	// OriginOwn: a source file of the program itself.
	OriginOwn Origin = iota
	// OriginUnknown: no DWARF says, or a package that may be either (a
	// Go module other than the standard library).
	OriginUnknown
	// OriginLibrary: a system directory, Go's standard library, a C
	// library's or a kernel library's tree.
	OriginLibrary
)

// String names the origin.
func (o Origin) String() string {
	switch o {
	case OriginOwn:
		return "own"
	case OriginLibrary:
		return "library"
	}
	return "unknown"
}

// dwLangGo is DW_LANG_Go.
const dwLangGo = 0x16

// Origins reads the ELF's DWARF once and returns, for each variable with a
// fixed address (DW_OP_addr, on the definition: a C global's definition
// that only points at its declaration through DW_AT_specification counts),
// the origin of its compile unit. A file without DWARF yields an empty
// map and no error; a file that cannot be reopened is an error.
func (t *Table) Origins() (map[uint64]Origin, error) {
	f, err := t.file()
	if err != nil {
		return nil, fmt.Errorf("symbols: origins: %w", err)
	}
	defer f.Close()
	out := make(map[uint64]Origin)
	d, err := f.DWARF()
	if err != nil {
		return out, nil
	}
	r := d.Reader()
	cu := OriginUnknown
	for {
		e, err := r.Next()
		if err != nil || e == nil {
			break
		}
		switch e.Tag {
		case dwarf.TagCompileUnit:
			name, _ := e.Val(dwarf.AttrName).(string)
			dir, _ := e.Val(dwarf.AttrCompDir).(string)
			lang, _ := e.Val(dwarf.AttrLanguage).(int64)
			cu = unitOrigin(name, dir, lang)
		case dwarf.TagVariable:
			loc, ok := e.Val(dwarf.AttrLocation).([]byte)
			if !ok {
				continue
			}
			if addr, ok := fixedAddr(loc, r.AddressSize(), t.order); ok {
				out[addr] = cu
			}
		}
	}
	return out, nil
}

// fixedAddr decodes a location that is exactly DW_OP_addr <addr>.
func fixedAddr(loc []byte, size int, order binary.ByteOrder) (uint64, bool) {
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

// systemDirs hold the host's and toolchains' libraries.
var systemDirs = []string{"/usr/", "/lib/", "/lib32/", "/lib64/", "/opt/", "/nix/store/"}

// unikraftCore are the top directories of Unikraft's core tree.
var unikraftCore = map[string]bool{"lib": true, "plat": true, "arch": true, "drivers": true, "include": true}

// unitOrigin classifies a compile unit by its source path (name, relative
// to dir unless absolute) or, for Go, its package path.
func unitOrigin(name, dir string, lang int64) Origin {
	if lang == dwLangGo {
		first, _, _ := strings.Cut(name, "/")
		switch {
		case name == "main":
			return OriginOwn
		case !strings.Contains(first, "."):
			return OriginLibrary // the standard library and the runtime
		}
		return OriginUnknown
	}
	if name == "" || strings.HasPrefix(name, "<") {
		return OriginUnknown
	}
	p := name
	if !path.IsAbs(p) && dir != "" {
		p = path.Join(dir, p)
	}
	p = path.Clean(p)
	for _, d := range systemDirs {
		if strings.HasPrefix(p, d) {
			return OriginLibrary
		}
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		switch {
		case s == ".unikraft", strings.HasPrefix(s, "lib-"), s == "musl", s == "newlib", s == "glibc", s == "nolibc":
			return OriginLibrary
		case s == "unikraft" && i+1 < len(segs)-1 && unikraftCore[segs[i+1]]:
			return OriginLibrary
		}
	}
	if !path.IsAbs(p) {
		return OriginUnknown
	}
	return OriginOwn
}

// RankData returns every sized variable in a writable data section (as
// DataObjects) ranked for a first watch list: the program's own first,
// then those of unknown origin, then the libraries'; within each, as
// DataObjects orders them (globals before statics, smaller first, then by
// name). origins is what Origins returned (nil: all unknown).
func (t *Table) RankData(origins map[uint64]Origin) []Symbol {
	out := t.DataObjects(0)
	origin := func(s Symbol) Origin {
		if o, ok := origins[s.Addr]; ok {
			return o
		}
		return OriginUnknown
	}
	sort.SliceStable(out, func(i, j int) bool { return origin(out[i]) < origin(out[j]) })
	return out
}

// OwnGlobals returns the program's own global variables in writable data,
// ranked as RankData does: what a flavor with nothing better suggests
// watching first.
func (t *Table) OwnGlobals(origins map[uint64]Origin) []Symbol {
	var out []Symbol
	for _, s := range t.RankData(origins) {
		if o, ok := origins[s.Addr]; ok && o == OriginOwn && s.Global {
			out = append(out, s)
		}
	}
	return out
}

// DataNames returns those of names that t holds as variables, in the
// order given.
func (t *Table) DataNames(names ...string) []string {
	var out []string
	for _, n := range names {
		if s, ok := t.Lookup(n); ok && s.Kind == Object {
			out = append(out, n)
		}
	}
	return out
}

// OwnGlobalNames is OwnGlobals' names, with the origins read from t's
// DWARF (none without it): the suggestion of a flavor that knows nothing
// better about its guest.
func (t *Table) OwnGlobalNames() []string {
	origins, err := t.Origins()
	if err != nil {
		return nil
	}
	var out []string
	for _, s := range t.OwnGlobals(origins) {
		out = append(out, s.Name)
	}
	return out
}
