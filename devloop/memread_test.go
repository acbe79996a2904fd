package devloop

import (
	"context"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ukdev/ukdev/symbols"
	"github.com/ukdev/ukdev/vm"
)

func TestParseMemExpr(t *testing.T) {
	tests := []struct {
		in      string
		want    MemExpr
		wantErr bool
	}{
		{in: "ticks", want: MemExpr{Symbol: "ticks"}},
		{in: "ed.0", want: MemExpr{Symbol: "ed.0"}},
		{in: "stats+4", want: MemExpr{Symbol: "stats", Offset: 4}},
		{in: "stats+0x10", want: MemExpr{Symbol: "stats", Offset: 16}},
		{in: " stats + 8 ", want: MemExpr{Symbol: "stats", Offset: 8}},
		{in: "0x1052a0", want: MemExpr{Addr: 0x1052a0}},
		{in: "0X1052A0+0x4", want: MemExpr{Addr: 0x1052a0, Offset: 4}},
		{in: "1070000", want: MemExpr{Addr: 1070000}},
		{in: "_Zfoo$bar", want: MemExpr{Symbol: "_Zfoo$bar"}},
		{in: "", wantErr: true},
		{in: "+4", wantErr: true},
		{in: "stats+", wantErr: true},
		{in: "stats+x", wantErr: true},
		{in: "0xzz", wantErr: true},
		{in: "12ab", wantErr: true},
		{in: "*ptr", wantErr: true},
		{in: "a b", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseMemExpr(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrBadExpr) {
					t.Fatalf("ParseMemExpr(%q) = %+v, %v; want ErrBadExpr", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseMemExpr(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
			// String reads back to the same expression.
			if again, err := ParseMemExpr(got.String()); err != nil || again != got {
				t.Errorf("ParseMemExpr(%q.String() = %q) = %+v, %v", tt.in, got.String(), again, err)
			}
		})
	}
}

func TestParseMemType(t *testing.T) {
	tests := []struct {
		in       string
		wantName string
		wantSize uint64
		wantErr  bool
	}{
		{in: "u8", wantName: "u8", wantSize: 1},
		{in: "u16", wantName: "u16", wantSize: 2},
		{in: "U32", wantName: "u32", wantSize: 4},
		{in: "u64", wantName: "u64", wantSize: 8},
		{in: "i32", wantName: "i32", wantSize: 4},
		{in: "s16", wantName: "s16", wantSize: 2},
		{in: "f64", wantName: "f64", wantSize: 8},
		{in: "bool", wantName: "bool", wantSize: 1},
		{in: "ptr", wantName: "ptr", wantSize: 8},
		{in: "char", wantName: "char", wantSize: 1},
		{in: "char[16]", wantName: "char [16]", wantSize: 16},
		{in: "u32[4]", wantName: "u32 [4]", wantSize: 16},
		{in: "bytes[3]", wantName: "3 bytes", wantSize: 3},
		{in: "bytes", wantErr: true},
		{in: "u24", wantErr: true},
		{in: "int", wantErr: true},
		{in: "u8[0]", wantErr: true},
		{in: "u64[100000]", wantErr: true},
		{in: "u8[1025]", wantErr: true},
		{in: "char[4096]", wantName: "char [4096]", wantSize: 4096},
		{in: "u8[", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseMemType(tt.in, 8)
			if tt.wantErr {
				if !errors.Is(err, ErrBadExpr) {
					t.Fatalf("parseMemType(%q) = %+v, %v; want ErrBadExpr", tt.in, got, err)
				}
				return
			}
			if err != nil || got.name != tt.wantName || got.size() != tt.wantSize {
				t.Fatalf("parseMemType(%q) = %q size %d, %v; want %q size %d", tt.in, got.name, got.size(), err, tt.wantName, tt.wantSize)
			}
		})
	}
}

func TestValueJSON(t *testing.T) {
	le := binary.LittleEndian
	tests := []struct {
		name   string
		fields []Field
		data   []byte
		want   string
	}{
		{"unsigned scalar", []Field{{Size: 4, Encoding: EncUnsigned}}, le.AppendUint32(nil, 42), `42`},
		{"signed scalar", []Field{{Size: 2, Encoding: EncSigned}}, le.AppendUint16(nil, 0xfffe), `-2`},
		{"u64 past int64", []Field{{Size: 8, Encoding: EncUnsigned}}, le.AppendUint64(nil, 1<<63), `9223372036854775808`},
		{"bool", []Field{{Size: 1, Encoding: EncBool}}, []byte{1}, `true`},
		{"pointer", []Field{{Size: 8, Encoding: EncPointer}}, le.AppendUint64(nil, 0x1000), `4096`},
		{"float", []Field{{Size: 4, Encoding: EncFloat}}, le.AppendUint32(nil, 0x3fc00000), `1.5`},
		{"NaN", []Field{{Size: 4, Encoding: EncFloat}}, le.AppendUint32(nil, 0x7fc00000), `"NaN"`},
		{"C string", []Field{{Size: 6, Type: "volatile char [6]", Encoding: EncBytes}}, []byte("hi\x00xyz"), `"hi"`},
		{"unterminated C string", []Field{{Size: 2, Type: "char [2]", Encoding: EncBytes}}, []byte("ab"), `"ab"`},
		{"long array of ints", []Field{{Size: 8, Type: "int16_t [4]", Encoding: EncBytes}},
			[]byte{1, 0, 0xff, 0xff, 3, 0, 4, 0}, `[1,-1,3,4]`},
		{"long array of unsigned", []Field{{Size: 4, Type: "const unsigned short [2]", Encoding: EncBytes}},
			[]byte{0xff, 0xff, 2, 0}, `[65535,2]`},
		{"raw bytes", []Field{{Size: 3, Type: "3 bytes", Encoding: EncBytes}}, []byte{1, 2, 255}, `[1,2,255]`},
		{"array of structs is bytes", []Field{{Size: 2, Type: "struct s [2]", Encoding: EncBytes}}, []byte{7, 8}, `[7,8]`},
		{"past the data", []Field{{Offset: 4, Size: 4, Encoding: EncUnsigned}}, []byte{1}, `null`},
		{"struct in order", []Field{
			{Name: ".z", Offset: 0, Size: 1, Encoding: EncUnsigned},
			{Name: ".a", Offset: 1, Size: 1, Encoding: EncSigned},
		}, []byte{5, 0xff}, `{"z":5,"a":-1}`},
		{"nested structs and arrays", []Field{
			{Name: ".pos.x", Offset: 0, Size: 1, Encoding: EncUnsigned},
			{Name: ".pos.y", Offset: 1, Size: 1, Encoding: EncUnsigned},
			{Name: ".hist[0]", Offset: 2, Size: 1, Encoding: EncUnsigned},
			{Name: ".hist[1]", Offset: 3, Size: 1, Encoding: EncUnsigned},
			{Name: ".pts[0].x", Offset: 4, Size: 1, Encoding: EncUnsigned},
			{Name: ".pts[1].x", Offset: 5, Size: 1, Encoding: EncUnsigned},
			{Name: ".name", Offset: 6, Size: 2, Type: "char [2]", Encoding: EncBytes},
		}, []byte{1, 2, 3, 4, 5, 6, 'o', 'k'}, `{"pos":{"x":1,"y":2},"hist":[3,4],"pts":[{"x":5},{"x":6}],"name":"ok"}`},
		{"top-level array", []Field{
			{Name: "[0]", Offset: 0, Size: 1, Encoding: EncUnsigned},
			{Name: "[1]", Offset: 1, Size: 1, Encoding: EncUnsigned},
		}, []byte{9, 8}, `[9,8]`},
		{"bit fields", []Field{
			{Name: ".low", Size: 4, Encoding: EncUnsigned, BitOffset: 0, BitSize: 3},
			{Name: ".high", Size: 4, Encoding: EncSigned, BitOffset: 3, BitSize: 5},
		}, le.AppendUint32(nil, 0b11111_101), `{"low":5,"high":-1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := valueJSON(tt.fields, tt.data, le)
			if err != nil || string(got) != tt.want {
				t.Errorf("valueJSON = %s, %v; want %s", got, err, tt.want)
			}
			if !json.Valid(got) {
				t.Errorf("valueJSON = %s: not JSON", got)
			}
		})
	}
}

func TestSymbolMatcher(t *testing.T) {
	tests := []struct {
		pattern string
		matches []string
		misses  []string
	}{
		{"", []string{"ticks", "x"}, nil},
		{"tick", []string{"ticks", "irqs_this_tick.1", "TICKER"}, []string{"stats"}},
		{"rx_*", []string{"rx_head", "rx_ring"}, []string{"my_rx_head"}},
		{"?d.0", []string{"ed.0"}, []string{"red.0"}},
	}
	for _, tt := range tests {
		match, err := symbolMatcher(tt.pattern)
		if err != nil {
			t.Fatalf("symbolMatcher(%q): %v", tt.pattern, err)
		}
		for _, n := range tt.matches {
			if !match(n) {
				t.Errorf("%q does not match %q", tt.pattern, n)
			}
		}
		for _, n := range tt.misses {
			if match(n) {
				t.Errorf("%q matches %q", tt.pattern, n)
			}
		}
	}
	if _, err := symbolMatcher("[a"); !errors.Is(err, ErrBadExpr) {
		t.Errorf("symbolMatcher([a) = %v, want ErrBadExpr", err)
	}
}

// memProgram is a freestanding program with variables of the shapes the
// memory reads shape as JSON, and read-only data the symbols check.
const memProgram = `#include <stdint.h>
struct point { int16_t x; int16_t y; };
struct rec {
	uint8_t flag;
	uint32_t count;
	struct point pos;
	uint16_t hist[3];
	char name[8];
};
struct rec rec = {1};
volatile uint64_t counter;
int32_t big[40];
const char banner[] = "a read-only banner the symbols check compares";
const char *use(void) { return banner; }
void _start(void) { for (;;) { counter++; use(); } }
`

// buildMemELF compiles memProgram with gcc.
func buildMemELF(t *testing.T) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not installed")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "m.c")
	if err := os.WriteFile(src, []byte(memProgram), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "m.elf")
	if b, err := exec.Command(gcc, "-g", "-O0", "-nostdlib", "-static", "-no-pie", "-o", out, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, b)
	}
	return out
}

// fakeMemory is a VM whose memory is the ELF's loaded segments.
type fakeMemory struct {
	info    VMInfo
	running bool
	segs    []fakeSegment
	// err, when set, fails every read.
	err   error
	reads []string
}

type fakeSegment struct {
	addr uint64
	data []byte
}

func newFakeMemory(t *testing.T, path, space string) *fakeMemory {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := &fakeMemory{info: VMInfo{Boot: 1, Symbols: path, SymbolSpace: space, MemoryMiB: 64}, running: true}
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD {
			continue
		}
		data := make([]byte, p.Memsz)
		if _, err := p.ReadAt(data[:p.Filesz], 0); err != nil {
			t.Fatal(err)
		}
		m.segs = append(m.segs, fakeSegment{addr: p.Vaddr, data: data})
	}
	return m
}

func (m *fakeMemory) Current() (VMInfo, bool) { return m.info, m.running }

func (m *fakeMemory) ReadMemory(_ context.Context, addr, size uint64, virtual bool) ([]byte, error) {
	m.reads = append(m.reads, fmt.Sprintf("%#x+%d virtual=%v", addr, size, virtual))
	if m.err != nil {
		return nil, m.err
	}
	for _, s := range m.segs {
		if addr >= s.addr && addr+size <= s.addr+uint64(len(s.data)) {
			return append([]byte(nil), s.data[addr-s.addr:addr-s.addr+size]...), nil
		}
	}
	return nil, errors.New("fake: Invalid addr")
}

// poke writes b at addr.
func (m *fakeMemory) poke(t *testing.T, addr uint64, b []byte) {
	t.Helper()
	for _, s := range m.segs {
		if addr >= s.addr && addr+uint64(len(b)) <= s.addr+uint64(len(s.data)) {
			copy(s.data[addr-s.addr:], b)
			return
		}
	}
	t.Fatalf("poke %#x: not in a segment", addr)
}

// field returns the address of a variable's member.
func field(t *testing.T, tab *SymbolTable, name, member string) uint64 {
	t.Helper()
	v, err := tab.Variable(name)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range v.Fields {
		if f.Name == member {
			return v.Addr + f.Offset
		}
	}
	t.Fatalf("%s has no member %q: %+v", name, member, v.Fields)
	return 0
}

func TestMemOpsRead(t *testing.T) {
	path := buildMemELF(t)
	tab, err := LoadSymbols(path)
	if err != nil {
		t.Fatal(err)
	}
	m := newFakeMemory(t, path, SpacePhysical)
	le := binary.LittleEndian
	m.poke(t, field(t, tab, "rec", ".count"), le.AppendUint32(nil, 7))
	m.poke(t, field(t, tab, "rec", ".pos.x"), le.AppendUint16(nil, 0xfffe))
	m.poke(t, field(t, tab, "rec", ".pos.y"), le.AppendUint16(nil, 3))
	m.poke(t, field(t, tab, "rec", ".hist[1]"), le.AppendUint16(nil, 9))
	m.poke(t, field(t, tab, "rec", ".name"), []byte("ab\x00"))
	m.poke(t, field(t, tab, "counter", ""), le.AppendUint64(nil, 1234))
	big, _ := tab.Lookup("big")
	m.poke(t, big.Addr+4, le.AppendUint32(nil, 0xfffffffb))
	rec, _ := tab.Lookup("rec")
	counter, _ := tab.Lookup("counter")

	ops := memOps{src: m, tables: &memTables{}}
	tests := []struct {
		expr, typ   string
		phys        bool
		wantSymbol  string
		wantAddr    uint64
		wantType    string
		wantSize    uint64
		wantValue   string
		wantErr     error
		wantErrText string
	}{
		{expr: "counter", wantSymbol: "counter", wantAddr: counter.Addr, wantType: "volatile uint64_t", wantSize: 8, wantValue: `1234`},
		{expr: "rec", wantSymbol: "rec", wantAddr: rec.Addr, wantType: "struct rec", wantSize: rec.Size,
			wantValue: `{"flag":1,"count":7,"pos":{"x":-2,"y":3},"hist":[0,9,0],"name":"ab"}`},
		{expr: "rec+4", wantSymbol: "rec+0x4", wantAddr: rec.Addr + 4, wantType: "uint32_t", wantSize: 4, wantValue: `7`},
		{expr: "rec+4", typ: "u8[2]", wantSymbol: "rec+0x4", wantAddr: rec.Addr + 4, wantType: "u8 [2]", wantSize: 2, wantValue: `[7,0]`},
		{expr: fmt.Sprintf("%#x", counter.Addr), typ: "u64", wantSymbol: "counter", wantAddr: counter.Addr, wantType: "u64", wantSize: 8, wantValue: `1234`},
		{expr: fmt.Sprintf("%#x+4", rec.Addr), typ: "i32", wantSymbol: "rec+0x4", wantAddr: rec.Addr + 4, wantType: "i32", wantSize: 4, wantValue: `7`},
		{expr: "big", wantSymbol: "big", wantAddr: big.Addr, wantType: "int32_t [40]", wantSize: 160,
			wantValue: `[0,-5` + strings.Repeat(",0", 38) + `]`},
		{expr: "banner", typ: "char[6]", wantSymbol: "banner", wantType: "char [6]", wantSize: 6, wantValue: `"a read"`},
		{expr: "nosuch", wantErr: symbols.ErrNotFound},
		{expr: "rec+3", wantErr: ErrBadExpr, wantErrText: "no member of rec starts at +0x3"},
		{expr: "0x1000", wantErr: ErrBadExpr, wantErrText: "--type"},
		{expr: "0x7fff0000", typ: "u32", wantErr: ErrUnmapped},
		{expr: "0x5000000", typ: "u32", phys: true, wantErr: ErrUnmapped, wantErrText: "64 MiB of RAM"},
	}
	for _, tt := range tests {
		t.Run(tt.expr+" "+tt.typ, func(t *testing.T) {
			vals, err := ops.read(t.Context(), MemReadRequest{Exprs: []string{tt.expr}, Type: tt.typ, Phys: tt.phys})
			if err != nil || len(vals) != 1 {
				t.Fatalf("read = %+v, %v", vals, err)
			}
			v := vals[0]
			if tt.wantErr != nil {
				// The error crosses the control socket as text: it must
				// say what went wrong.
				if v.Err == "" || !strings.Contains(v.Err, tt.wantErrText) || !strings.Contains(v.Err, strings.TrimPrefix(tt.wantErr.Error(), "devloop: ")) {
					t.Fatalf("read %q: Err = %q, want %q and %q", tt.expr, v.Err, tt.wantErr, tt.wantErrText)
				}
				return
			}
			if v.Err != "" {
				t.Fatalf("read %q: %s", tt.expr, v.Err)
			}
			if v.Symbol != tt.wantSymbol || (tt.wantAddr != 0 && v.Address != tt.wantAddr) || v.Type != tt.wantType || v.Size != tt.wantSize || string(v.Value) != tt.wantValue {
				t.Errorf("read %q = symbol %q addr %#x type %q size %d value %s\nwant symbol %q addr %#x type %q size %d value %s",
					tt.expr, v.Symbol, v.Address, v.Type, v.Size, v.Value, tt.wantSymbol, tt.wantAddr, tt.wantType, tt.wantSize, tt.wantValue)
			}
			if v.Boot != 1 || v.Virtual {
				t.Errorf("read %q: boot %d virtual %v, want boot 1 physical", tt.expr, v.Boot, v.Virtual)
			}
		})
	}

	// Text per member, as the memory panel shows them.
	vals, err := ops.read(t.Context(), MemReadRequest{Exprs: []string{"rec"}})
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, f := range vals[0].Fields {
		texts = append(texts, f.Name+"="+f.Text)
	}
	want := `.flag=1 (0x1) .count=7 (0x7) .pos.x=-2 (0xfffe) .pos.y=3 (0x3) .hist[0]=0 (0x0) .hist[1]=9 (0x9) .hist[2]=0 (0x0) .name="ab"`
	if got := strings.Join(texts, " "); got != want {
		t.Errorf("rec's members:\n%s\nwant\n%s", got, want)
	}
}

func TestMemOpsErrors(t *testing.T) {
	path := buildMemELF(t)
	le := binary.LittleEndian
	read := func(m *fakeMemory, req MemReadRequest) ([]MemValue, error) {
		return memOps{src: m, tables: &memTables{}}.read(t.Context(), req)
	}

	t.Run("no VM", func(t *testing.T) {
		m := newFakeMemory(t, path, SpacePhysical)
		m.running = false
		if _, err := read(m, MemReadRequest{Exprs: []string{"counter"}}); !errors.Is(err, ErrNoVM) {
			t.Errorf("read = %v, want ErrNoVM", err)
		}
	})
	t.Run("VM exited during the read", func(t *testing.T) {
		m := newFakeMemory(t, path, SpacePhysical)
		m.err = fmt.Errorf("qemu: qmp pmemsave: %w", vm.ErrExited)
		if _, err := read(m, MemReadRequest{Exprs: []string{"counter"}}); !errors.Is(err, ErrNoVM) {
			t.Errorf("read = %v, want ErrNoVM", err)
		}
	})
	t.Run("no symbols", func(t *testing.T) {
		m := newFakeMemory(t, path, SpacePhysical)
		m.info.Symbols = ""
		if _, err := read(m, MemReadRequest{Exprs: []string{"counter"}}); !errors.Is(err, ErrNoSymbols) {
			t.Errorf("read = %v, want ErrNoSymbols", err)
		}
	})
	t.Run("symbols of another build", func(t *testing.T) {
		m := newFakeMemory(t, path, SpacePhysical)
		for i := range m.segs {
			if segmentReadOnly(t, path, m.segs[i].addr) {
				m.segs[i].data[0] ^= 0xff
			}
		}
		if _, err := read(m, MemReadRequest{Exprs: []string{"counter"}}); !errors.Is(err, ErrSymbolsMismatch) {
			t.Errorf("read = %v, want ErrSymbolsMismatch", err)
		}
		// A variable that changed is no mismatch.
		m = newFakeMemory(t, path, SpacePhysical)
		counter, _ := mustTable(t, path).Lookup("counter")
		m.poke(t, counter.Addr, le.AppendUint64(nil, 99))
		if vals, err := read(m, MemReadRequest{Exprs: []string{"counter"}}); err != nil || string(vals[0].Value) != "99" {
			t.Errorf("read = %+v, %v", vals, err)
		}
	})
	t.Run("a process's symbols", func(t *testing.T) {
		m := newFakeMemory(t, path, SpaceNone)
		vals, err := read(m, MemReadRequest{Exprs: []string{"counter"}})
		if err != nil || !strings.Contains(vals[0].Err, "not readable from the host") {
			t.Errorf("read = %+v, %v; want not readable", vals, err)
		}
		// --phys still reads physical memory.
		counter, _ := mustTable(t, path).Lookup("counter")
		m.poke(t, counter.Addr, le.AppendUint64(nil, 5))
		vals, err = read(m, MemReadRequest{Exprs: []string{fmt.Sprintf("%#x", counter.Addr)}, Type: "u64", Phys: true})
		if err != nil || string(vals[0].Value) != "5" {
			t.Errorf("read --phys = %+v, %v", vals, err)
		}
	})
	t.Run("virtual space", func(t *testing.T) {
		m := newFakeMemory(t, path, SpaceVirtual)
		vals, err := read(m, MemReadRequest{Exprs: []string{"counter"}})
		if err != nil || vals[0].Err != "" || !vals[0].Virtual {
			t.Errorf("read = %+v, %v; want a virtual read", vals, err)
		}
		for _, r := range m.reads {
			if !strings.HasSuffix(r, "virtual=true") {
				t.Errorf("read %s, want every read virtual", r)
			}
		}
	})
	t.Run("too much for one request", func(t *testing.T) {
		m := newFakeMemory(t, path, SpacePhysical)
		vals, err := read(m, MemReadRequest{Exprs: []string{"counter", "counter", "counter"}, Type: "bytes[65536]"})
		if err != nil || len(vals) != 3 || vals[2].Err == "" || !strings.Contains(vals[2].Err, "one request") || len(m.reads) > 3 { // the symbols check and two reads
			t.Errorf("read = %+v, %v; reads %q; want the third refused unread", vals, err, m.reads)
		}
	})
	t.Run("bad type", func(t *testing.T) {
		m := newFakeMemory(t, path, SpacePhysical)
		if _, err := read(m, MemReadRequest{Exprs: []string{"counter"}, Type: "u12"}); !errors.Is(err, ErrBadExpr) {
			t.Errorf("read = %v, want ErrBadExpr", err)
		}
	})
}

func mustTable(t *testing.T, path string) *SymbolTable {
	t.Helper()
	tab, err := LoadSymbols(path)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

// segmentReadOnly says whether the loaded segment at addr is the one
// checkImage compares: not writable, and not code when there is another.
func segmentReadOnly(t *testing.T, path string, addr uint64) bool {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Vaddr == addr {
			return p.Flags&elf.PF_W == 0 && p.Flags&elf.PF_X == 0 && p.Filesz > 0
		}
	}
	return false
}

func TestMemOpsSyms(t *testing.T) {
	path := buildMemELF(t)
	m := newFakeMemory(t, path, SpacePhysical)
	ops := memOps{src: m, tables: &memTables{}}
	got, err := ops.syms(t.Context(), "RE")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range got {
		names = append(names, s.Name)
		if s.Name == "rec" && (s.Type != "struct rec" || s.Section != ".data" || s.Size == 0 || s.Address == 0) {
			t.Errorf("rec = %+v", s)
		}
	}
	if !reflect.DeepEqual(names, []string{"rec"}) {
		t.Errorf("syms RE = %q, want rec", names)
	}
	got, err = ops.syms(t.Context(), "b*")
	if err != nil {
		t.Fatal(err)
	}
	names = nil
	for _, s := range got {
		names = append(names, s.Name)
	}
	if len(names) != 2 || !strings.Contains(strings.Join(names, " "), "big") || !strings.Contains(strings.Join(names, " "), "banner") {
		t.Errorf("syms b* = %q, want big and banner", names)
	}
	if len(m.reads) != 0 {
		t.Errorf("syms read memory: %q", m.reads)
	}
}

func TestMemOpsDump(t *testing.T) {
	path := buildMemELF(t)
	tab := mustTable(t, path)
	m := newFakeMemory(t, path, SpacePhysical)
	ops := memOps{src: m, tables: &memTables{}}
	rec, _ := tab.Lookup("rec")
	m.poke(t, rec.Addr, []byte{0xaa, 0xbb})

	d, err := ops.dump(t.Context(), MemDumpRequest{Expr: "rec"})
	if err != nil {
		t.Fatal(err)
	}
	if d.Address != rec.Addr || uint64(len(d.Data)) != rec.Size || d.Data[0] != 0xaa || d.Virtual {
		t.Errorf("dump rec = %+v", d)
	}
	if len(d.Lines) != int((rec.Size+DumpLine-1)/DumpLine) || d.Lines[0] != "rec" || d.Lines[1] != "rec+0x10" {
		t.Errorf("dump rec lines = %q", d.Lines)
	}

	d, err = ops.dump(t.Context(), MemDumpRequest{Expr: "rec+2", Len: 4})
	if err != nil || d.Address != rec.Addr+2 || len(d.Data) != 4 || d.Lines[0] != "rec+0x2" {
		t.Errorf("dump rec+2 4 = %+v, %v", d, err)
	}

	// A line before a symbol names the one starting within it.
	if got := lineSymbol(tab, rec.Addr-4, rec.Addr+12); got != "rec@+0x4" {
		t.Errorf("the line before rec = %q, want rec@+0x4", got)
	}
	if got := describe(tab, rec.Addr+rec.Size+0x1000000); got != "" {
		t.Errorf("far past every symbol = %q, want none", got)
	}

	if _, err := ops.dump(t.Context(), MemDumpRequest{Expr: "rec", Len: MaxMemRead + 1}); !errors.Is(err, ErrBadExpr) {
		t.Errorf("dump of too much = %v, want ErrBadExpr", err)
	}
	if _, err := ops.dump(t.Context(), MemDumpRequest{Expr: "nosuch"}); !errors.Is(err, symbols.ErrNotFound) {
		t.Errorf("dump nosuch = %v, want ErrNotFound", err)
	}
	if _, err := ops.dump(t.Context(), MemDumpRequest{Expr: "0x7fff0000", Len: 16}); !errors.Is(err, ErrUnmapped) {
		t.Errorf("dump unmapped = %v, want ErrUnmapped", err)
	}
}
