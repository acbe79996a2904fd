package devloop

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ukdev/ukdev/symbols"
	"github.com/ukdev/ukdev/vm"
)

// Reads of the live VM's memory by expression, for `ukdev mem` (through
// the control socket): a symbol or an address, typed by the symbols'
// DWARF or by a type the caller names.

// Errors of the memory reads, matched with errors.Is.
var (
	// ErrNoSymbols: the running image names no ELF file to read symbols
	// from.
	ErrNoSymbols = errors.New("devloop: the running image has no symbols")
	// ErrSymbolsMismatch: the bytes the symbols' ELF loads differ from
	// the guest's memory at the same addresses.
	ErrSymbolsMismatch = errors.New("devloop: the symbols do not match the running image")
	// ErrUnmapped: the address is not mapped in the guest (not in its
	// page tables, or beyond its RAM).
	ErrUnmapped = errors.New("devloop: page not mapped in the guest")
	// ErrNotReadable: the flavor's symbols have addresses the host cannot
	// read (a Linux process's).
	ErrNotReadable = errors.New("devloop: the symbols' addresses are not readable from the host")
	// ErrBadExpr: a memory expression or type that does not parse.
	ErrBadExpr = errors.New("devloop: bad memory expression")
)

// MaxMemRead bounds the bytes of one read or dump: a reply travels on the
// control socket as one line.
const MaxMemRead = 64 << 10

// maxRequestRead bounds the bytes all the expressions of one MemRead read
// together, so that their reply stays a line the control socket takes.
const maxRequestRead = 2 * MaxMemRead

// HexDump renders data read at addr, perLine bytes a line: "00105380  00
// 01 02 03  |....|" (see symbols.HexDump).
func HexDump(addr uint64, data []byte, perLine int) []string {
	return symbols.HexDump(addr, data, perLine)
}

// MemExpr is a parsed memory expression: a symbol or an address, plus an
// offset.
type MemExpr struct {
	// Symbol is the symbol's name; "" for a raw address.
	Symbol string
	// Addr is the raw address (without a Symbol).
	Addr   uint64
	Offset uint64
}

// ParseMemExpr parses "symbol", "0x1053a0", "1070000", with an optional
// "+offset" (hex with 0x, or decimal): "stats+4", "0x105380+0x10".
func ParseMemExpr(s string) (MemExpr, error) {
	s = strings.TrimSpace(s)
	base, off, hasOff := s, "", false
	if i := strings.LastIndexByte(s, '+'); i >= 0 {
		base, off, hasOff = strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1:]), true
	}
	var e MemExpr
	if hasOff {
		n, err := parseNumber(off)
		if err != nil {
			return MemExpr{}, fmt.Errorf("%w: %q: offset %q is not a number", ErrBadExpr, s, off)
		}
		e.Offset = n
	}
	if base == "" {
		return MemExpr{}, fmt.Errorf("%w: %q: no symbol or address", ErrBadExpr, s)
	}
	if c := base[0]; c >= '0' && c <= '9' {
		n, err := parseNumber(base)
		if err != nil {
			return MemExpr{}, fmt.Errorf("%w: %q: %q is not an address", ErrBadExpr, s, base)
		}
		e.Addr = n
		return e, nil
	}
	if strings.ContainsAny(base, " \t*&()[]") {
		return MemExpr{}, fmt.Errorf("%w: %q: not a symbol name", ErrBadExpr, s)
	}
	e.Symbol = base
	return e, nil
}

// parseNumber reads hex with a 0x prefix, or decimal.
func parseNumber(s string) (uint64, error) {
	if h, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		return strconv.ParseUint(h, 16, 64)
	}
	return strconv.ParseUint(s, 10, 64)
}

// String writes the expression back as ParseMemExpr reads it.
func (e MemExpr) String() string {
	base := e.Symbol
	if base == "" {
		base = fmt.Sprintf("%#x", e.Addr)
	}
	if e.Offset != 0 {
		base += fmt.Sprintf("+%#x", e.Offset)
	}
	return base
}

// MemReadRequest asks for the values of expressions (ParseMemExpr).
type MemReadRequest struct {
	Exprs []string `json:"exprs"`
	// Type, when set, reads every expression as this type: u8, u16,
	// u32, u64, i8, i16, i32, i64, f32, f64, bool, ptr, char, an array
	// of one of those ("u32[4]"), char[N] (a C string) or bytes[N].
	Type string `json:"type,omitempty"`
	// Phys reads raw addresses as guest-physical ones, as given.
	Phys bool `json:"phys,omitempty"`
}

// MemValue is one expression's value, read from the live VM.
type MemValue struct {
	Expr string `json:"expr"`
	// Symbol names what was read: the symbol ("stats", "stats+0x4"), or
	// for a raw address the symbol that covers it, "" when none does.
	Symbol string `json:"symbol,omitempty"`
	// Address is the address read, in the symbols' space.
	Address uint64 `json:"address"`
	Type    string `json:"type"`
	Size    uint64 `json:"size"`
	// Value is the value as JSON: a number for integers and enums, an
	// object keyed by member name for structs (recursively), an array
	// for arrays, a string for C strings.
	Value json.RawMessage `json:"value,omitempty"`
	// Fields are the members with their values as text, in order.
	Fields []MemField `json:"fields,omitempty"`
	// Read is the guest address the bytes came from: physical, or
	// virtual (through vCPU 0's page tables) when Virtual.
	Read    uint64 `json:"read"`
	Virtual bool   `json:"virtual,omitempty"`
	// Boot is the boot the value was read from.
	Boot int       `json:"boot"`
	At   time.Time `json:"at"`
	// Err says why this expression could not be read; the other fields
	// but Expr are then empty.
	Err string `json:"error,omitempty"`
}

// MemField is one member of a MemValue: its dotted name ("" for a
// scalar), type, place and value as text.
type MemField struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Offset uint64 `json:"offset"`
	Size   uint64 `json:"size"`
	Text   string `json:"text"`
}

// MemSymbol is one data symbol of the running image.
type MemSymbol struct {
	Name    string `json:"name"`
	Address uint64 `json:"address"`
	Size    uint64 `json:"size"`
	Type    string `json:"type,omitempty"`
	Section string `json:"section,omitempty"`
}

// MemDumpRequest asks for Len bytes at an expression; Len 0 is the
// symbol's size (64 bytes for an address).
type MemDumpRequest struct {
	Expr string `json:"expr"`
	Len  uint64 `json:"len,omitempty"`
	Phys bool   `json:"phys,omitempty"`
}

// MemDump is a range of the live VM's memory.
type MemDump struct {
	// Address is where Data starts, in the symbols' space.
	Address uint64 `json:"address"`
	Read    uint64 `json:"read"`
	Virtual bool   `json:"virtual,omitempty"`
	Data    []byte `json:"data"`
	// Lines name, for each DumpLine bytes of Data, the symbol that covers
	// the line's first byte ("stats+0x10"), or one that starts within
	// the line ("stats@+0x4"); "" when none.
	Lines []string `json:"lines"`
	Boot  int      `json:"boot"`
}

// DumpLine is how many bytes a line of MemDump.Lines covers.
const DumpLine = 16

// MemRead reads the values of req's expressions from the live VM (running
// or frozen). An error that concerns the VM or the symbols as a whole
// (ErrNoVM, ErrNoSymbols, ErrSymbolsMismatch) is returned; one that
// concerns a single expression is its MemValue's Err.
func (l *Loop) MemRead(ctx context.Context, req MemReadRequest) ([]MemValue, error) {
	return memOps{src: l, tables: &l.memTables}.read(ctx, req)
}

// MemSyms lists the running image's data symbols whose names match
// pattern: a glob when it has *, ? or [, otherwise a substring (any
// case); "" matches all. They come by address.
func (l *Loop) MemSyms(ctx context.Context, pattern string) ([]MemSymbol, error) {
	return memOps{src: l, tables: &l.memTables}.syms(ctx, pattern)
}

// MemDump reads a range of the live VM's memory, with the symbols that
// cover it.
func (l *Loop) MemDump(ctx context.Context, req MemDumpRequest) (MemDump, error) {
	return memOps{src: l, tables: &l.memTables}.dump(ctx, req)
}

// memSource is what the memory reads need of a loop.
type memSource interface {
	Current() (VMInfo, bool)
	ReadMemory(ctx context.Context, addr, size uint64, virtual bool) ([]byte, error)
}

// memTables keeps the symbol table of the running image between reads,
// and whether it was found to match the boot's memory.
type memTables struct {
	mu      sync.Mutex
	path    string
	table   *SymbolTable
	checked int // the boot whose memory matched the table; 0: none
}

// memOps answers the memory reads from src.
type memOps struct {
	src    memSource
	tables *memTables
}

// table returns the symbols of the running image, checked against its
// memory once per boot (unless check is false).
func (o memOps) table(ctx context.Context, info VMInfo, check bool) (*SymbolTable, error) {
	if info.Symbols == "" {
		return nil, fmt.Errorf("devloop: boot %d: %w", info.Boot, ErrNoSymbols)
	}
	c := o.tables
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.table == nil || c.path != info.Symbols {
		t, err := LoadSymbols(info.Symbols)
		if err != nil {
			return nil, fmt.Errorf("devloop: boot %d: %w", info.Boot, err)
		}
		c.path, c.table, c.checked = info.Symbols, t, 0
	}
	if check && c.checked != info.Boot {
		ok, err := checkImage(ctx, o.src, c.table, info)
		if err != nil {
			return nil, err
		}
		if ok {
			c.checked = info.Boot
		}
	}
	return c.table, nil
}

// checkBytes is how many bytes of a loaded segment are compared with the
// guest's memory.
const checkBytes = 64

// checkImage compares the start of a loaded segment that the guest does
// not write (read-only data, or code) with the guest's memory there. It
// returns false, without error, when it could not compare (no such
// segment, or not readable now), and ErrSymbolsMismatch when the bytes
// differ.
func checkImage(ctx context.Context, src memSource, t *SymbolTable, info VMInfo) (bool, error) {
	if info.SymbolSpace == SpaceNone {
		return false, nil
	}
	f, err := elf.Open(t.Path())
	if err != nil {
		return false, nil
	}
	defer f.Close()
	var pick *elf.Prog
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD || p.Filesz == 0 || (p.Flags&elf.PF_W != 0 && p.Flags&elf.PF_X == 0) {
			continue
		}
		// Read-only data first: code may be patched at boot.
		if pick == nil || (pick.Flags&elf.PF_X != 0 && p.Flags&elf.PF_X == 0) {
			pick = p
		}
	}
	if pick == nil {
		return false, nil
	}
	want := make([]byte, min(pick.Filesz, checkBytes))
	if _, err := io.ReadFull(pick.Open(), want); err != nil {
		return false, nil
	}
	addr, virtual := GuestAddress(t, info.SymbolSpace, pick.Vaddr)
	got, err := src.ReadMemory(ctx, addr, uint64(len(want)), virtual)
	switch {
	case errors.Is(err, ErrNoVM), errors.Is(err, vm.ErrExited):
		return false, fmt.Errorf("devloop: boot %d: %w", info.Boot, ErrNoVM)
	case ctx.Err() != nil:
		return false, ctx.Err()
	case err != nil:
		return false, nil
	case !bytes.Equal(got, want):
		return false, fmt.Errorf("devloop: boot %d: %w: the %d bytes at %#x differ from those %s loads there (rebuilt since the boot?)",
			info.Boot, ErrSymbolsMismatch, len(want), pick.Vaddr, t.Path())
	}
	return true, nil
}

// GuestAddress says where a symbol's address is read in the guest, given
// the flavor's SymbolSpace: the physical address its ELF segment is
// loaded at (identity-mapped kernels), or the address itself, virtual,
// through the vCPU's page tables (SpaceVirtual, or no segment covers it).
func GuestAddress(t *SymbolTable, space string, addr uint64) (read uint64, virtual bool) {
	if space != SpaceVirtual {
		if p, ok := t.PhysAddr(addr); ok {
			return p, false
		}
	}
	return addr, true
}

// current returns the live VM, or ErrNoVM.
func (o memOps) current() (VMInfo, error) {
	info, ok := o.src.Current()
	if !ok {
		return VMInfo{}, ErrNoVM
	}
	return info, nil
}

func (o memOps) read(ctx context.Context, req MemReadRequest) ([]MemValue, error) {
	info, err := o.current()
	if err != nil {
		return nil, err
	}
	t, err := o.table(ctx, info, true)
	if err != nil {
		return nil, err
	}
	var typed *typeSpec
	if req.Type != "" {
		ts, err := parseMemType(req.Type, t.PointerSize())
		if err != nil {
			return nil, err
		}
		typed = &ts
	}
	out := make([]MemValue, len(req.Exprs))
	budget := uint64(maxRequestRead)
	for i, s := range req.Exprs {
		v, err := o.readOne(ctx, t, info, s, typed, req.Phys, &budget)
		if errors.Is(err, ErrNoVM) || ctx.Err() != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return nil, err
		}
		if err != nil {
			v = MemValue{Expr: s, Err: err.Error()}
		}
		out[i] = v
	}
	return out, nil
}

// target is an expression resolved against the symbols.
type target struct {
	name string // what the value is called in replies
	v    Variable
	addr uint64
}

// resolve turns an expression into the variable to read.
func resolve(t *SymbolTable, s string, typed *typeSpec) (target, error) {
	e, err := ParseMemExpr(s)
	if err != nil {
		return target{}, err
	}
	if e.Symbol == "" {
		if typed == nil {
			return target{}, fmt.Errorf("%w: %q is an address: give its type with --type (u8, u32, u64, i32, char[16]...)", ErrBadExpr, s)
		}
		addr := e.Addr + e.Offset
		return target{name: describe(t, addr), v: typed.variable(addr), addr: addr}, nil
	}
	v, err := t.Variable(e.Symbol)
	if errors.Is(err, symbols.ErrNotFound) {
		return target{}, fmt.Errorf("devloop: no symbol %q in %s: %w", e.Symbol, t.Path(), symbols.ErrNotFound)
	}
	if err != nil {
		return target{}, fmt.Errorf("devloop: %q: %w", e.Symbol, err)
	}
	tg := target{name: e.String(), v: v, addr: v.Addr + e.Offset}
	switch {
	case typed != nil:
		tg.v = typed.variable(tg.addr)
	case e.Offset != 0:
		f, ok := memberAt(v, e.Offset)
		if !ok {
			return target{}, fmt.Errorf("%w: no member of %s starts at +%#x: give its type with --type", ErrBadExpr, e.Symbol, e.Offset)
		}
		f.Name, f.Offset = "", 0
		tg.v = Variable{Symbol: symbols.Symbol{Name: e.Symbol, Addr: tg.addr, Size: f.Size}, Type: f.Type, Fields: []Field{f}}
	}
	return tg, nil
}

// memberAt returns v's first flattened member that starts at off.
func memberAt(v Variable, off uint64) (Field, bool) {
	for _, f := range v.Fields {
		if f.Offset == off && f.Size > 0 {
			return f, true
		}
	}
	return Field{}, false
}

// readOne reads one expression, within budget bytes for the request
// (what it reads is taken from budget).
func (o memOps) readOne(ctx context.Context, t *SymbolTable, info VMInfo, s string, typed *typeSpec, phys bool, budget *uint64) (MemValue, error) {
	tg, err := resolve(t, s, typed)
	if err != nil {
		return MemValue{}, err
	}
	size := tg.v.Size
	if size > MaxMemRead {
		return MemValue{}, fmt.Errorf("devloop: %s is %d bytes, more than the %d one read returns: read part of it with +offset and --type", tg.name, size, MaxMemRead)
	}
	if size > *budget {
		return MemValue{}, fmt.Errorf("devloop: %s: more than %d bytes for one request: read it on its own", tg.name, maxRequestRead)
	}
	*budget -= size
	data, read, virtual, err := o.readAt(ctx, t, info, tg.addr, size, phys)
	if err != nil {
		return MemValue{}, err
	}
	order := t.ByteOrder()
	typ := tg.v.Type
	if typ == "" && len(tg.v.Fields) == 1 {
		typ = tg.v.Fields[0].Type
	}
	val, err := valueJSON(tg.v.Fields, data, order)
	if err != nil {
		return MemValue{}, err
	}
	mv := MemValue{Expr: s, Symbol: tg.name, Address: tg.addr, Type: typ, Size: size, Value: val,
		Read: read, Virtual: virtual, Boot: info.Boot, At: time.Now()}
	for _, f := range tg.v.Fields {
		mv.Fields = append(mv.Fields, MemField{Name: f.Name, Type: f.Type, Offset: f.Offset, Size: f.Size, Text: fieldText(f, data, order)})
	}
	return mv, nil
}

// readAt reads size bytes at addr (in the symbols' space, or physical with
// phys) from the live VM.
func (o memOps) readAt(ctx context.Context, t *SymbolTable, info VMInfo, addr, size uint64, phys bool) (data []byte, read uint64, virtual bool, err error) {
	switch {
	case phys:
		read = addr
	case info.SymbolSpace == SpaceNone:
		return nil, 0, false, fmt.Errorf("devloop: read %#x: %w (a process's addresses are mapped only while it runs; --phys reads physical memory)", addr, ErrNotReadable)
	default:
		read, virtual = GuestAddress(t, info.SymbolSpace, addr)
	}
	if size == 0 {
		return nil, read, virtual, nil
	}
	if !virtual {
		// Below the PCI hole, RAM is one range from 0: QEMU reads past it
		// as bytes of nothing, without an error.
		if ram := uint64(info.MemoryMiB) << 20; ram > 0 && ram <= 3<<30 && (read+size > ram || read+size < read) {
			return nil, 0, false, fmt.Errorf("devloop: read %#x (%d bytes, physical): beyond the guest's %d MiB of RAM: %w", read, size, info.MemoryMiB, ErrUnmapped)
		}
	}
	data, err = o.src.ReadMemory(ctx, read, size, virtual)
	switch {
	case err == nil:
		return data, read, virtual, nil
	case errors.Is(err, ErrNoVM), errors.Is(err, vm.ErrExited):
		return nil, 0, false, fmt.Errorf("devloop: boot %d: %w", info.Boot, ErrNoVM)
	case ctx.Err() != nil:
		return nil, 0, false, ctx.Err()
	case virtual:
		// memsave fails only when the page tables do not map the range.
		return nil, 0, false, fmt.Errorf("devloop: read %#x (%d bytes, virtual): %w (%w)", read, size, ErrUnmapped, err)
	}
	return nil, 0, false, fmt.Errorf("devloop: read %#x (%d bytes, physical): %w", read, size, err)
}

func (o memOps) syms(ctx context.Context, pattern string) ([]MemSymbol, error) {
	info, err := o.current()
	if err != nil {
		return nil, err
	}
	t, err := o.table(ctx, info, false)
	if err != nil {
		return nil, err
	}
	match, err := symbolMatcher(pattern)
	if err != nil {
		return nil, err
	}
	var out []MemSymbol
	for _, s := range t.Symbols() {
		if s.Kind != SymObject || !match(s.Name) {
			continue
		}
		ms := MemSymbol{Name: s.Name, Address: s.Addr, Size: s.Size, Section: s.Section}
		if v, err := t.Variable(s.Name); err == nil && v.Addr == s.Addr {
			ms.Type = v.Type
			if ms.Type == "" && len(v.Fields) == 1 {
				ms.Type = v.Fields[0].Type
			}
		}
		out = append(out, ms)
	}
	return out, nil
}

// symbolMatcher matches names against a glob (with *, ? or [) or a
// substring, in any case.
func symbolMatcher(pattern string) (func(string) bool, error) {
	if !strings.ContainsAny(pattern, "*?[") {
		p := strings.ToLower(pattern)
		return func(name string) bool { return strings.Contains(strings.ToLower(name), p) }, nil
	}
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, fmt.Errorf("%w: pattern %q: %w", ErrBadExpr, pattern, err)
	}
	return func(name string) bool {
		ok, _ := path.Match(pattern, name)
		return ok
	}, nil
}

// defaultDump is how many bytes a dump of an address without a length
// shows.
const defaultDump = 64

func (o memOps) dump(ctx context.Context, req MemDumpRequest) (MemDump, error) {
	info, err := o.current()
	if err != nil {
		return MemDump{}, err
	}
	t, err := o.table(ctx, info, true)
	if err != nil {
		return MemDump{}, err
	}
	e, err := ParseMemExpr(req.Expr)
	if err != nil {
		return MemDump{}, err
	}
	addr, n := e.Addr+e.Offset, req.Len
	if e.Symbol != "" {
		s, ok := t.Lookup(e.Symbol)
		if !ok {
			return MemDump{}, fmt.Errorf("devloop: no symbol %q in %s: %w", e.Symbol, t.Path(), symbols.ErrNotFound)
		}
		addr = s.Addr + e.Offset
		if n == 0 && s.Size > e.Offset {
			n = s.Size - e.Offset
		}
	}
	if n == 0 {
		n = defaultDump
	}
	if n > MaxMemRead {
		return MemDump{}, fmt.Errorf("%w: %d bytes: one dump reads at most %d", ErrBadExpr, n, MaxMemRead)
	}
	data, read, virtual, err := o.readAt(ctx, t, info, addr, n, req.Phys)
	if err != nil {
		return MemDump{}, err
	}
	d := MemDump{Address: addr, Read: read, Virtual: virtual, Data: data, Boot: info.Boot}
	for off := uint64(0); off < n; off += DumpLine {
		d.Lines = append(d.Lines, lineSymbol(t, addr+off, addr+min(off+DumpLine, n)))
	}
	return d, nil
}

// lineSymbol names the data or code symbol that covers addr
// ("stats+0x10"), or else the first that starts in [addr, end)
// ("stats@+0x4"); "" when none.
func lineSymbol(t *SymbolTable, addr, end uint64) string {
	if d := describe(t, addr); d != "" {
		return d
	}
	syms := t.Symbols()
	i := sort.Search(len(syms), func(k int) bool { return syms[k].Addr > addr })
	for ; i < len(syms) && syms[i].Addr < end; i++ {
		if syms[i].Kind != symbols.Other {
			return fmt.Sprintf("%s@+%#x", syms[i].Name, syms[i].Addr-addr)
		}
	}
	return ""
}

// describe names the sized data or code symbol that covers addr:
// "stats", "stats+0x4"; "" when none.
func describe(t *SymbolTable, addr uint64) string {
	syms := t.Symbols()
	i := sort.Search(len(syms), func(k int) bool { return syms[k].Addr > addr })
	// Symbols can nest (a section's start symbol): look a few back.
	for k := i - 1; k >= 0 && k >= i-16; k-- {
		s := syms[k]
		if s.Kind == symbols.Other || s.Size == 0 || addr >= s.Addr+s.Size {
			continue
		}
		if addr == s.Addr {
			return s.Name
		}
		return fmt.Sprintf("%s+%#x", s.Name, addr-s.Addr)
	}
	return ""
}
