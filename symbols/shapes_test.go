package symbols

import (
	"debug/dwarf"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
)

// shapesHeader declares a global the way a library header does: the
// DWARF gets a declaration here and a definition with only
// DW_AT_specification and DW_AT_location in shapes.c.
const shapesHeader = `#include <stdint.h>
struct alloc_stats {
	uint64_t last_alloc_size;
	uint64_t cur_mem_free;
	uint32_t nb_allocs;
	int32_t nb_enomem;
};
extern struct alloc_stats alloc_stats_global;
`

// shapesSource has one variable of each shape the decoder knows.
const shapesSource = `#include "shapes.h"
typedef uint32_t u32_t;
typedef u32_t counter_t;
typedef volatile counter_t vcounter_t;
enum color { RED, GREEN = 5, BLUE = -1 };
union word { uint32_t u; float f; uint8_t b[4]; };
struct flags { unsigned ready:1; unsigned mode:3; int level:4; };
struct node { int value; struct node *next; const char *label; };
struct anon { int kind; union { int i; float f; }; };

__attribute__((used)) struct alloc_stats alloc_stats_global = {64, 4096, 3, -2};
volatile char ring[16] = "hello";
vcounter_t hits = 42;
enum color color = GREEN;
enum color shade = BLUE;
union word word = { .u = 0x3f800000 };
struct flags flags = {1, 5, -3};
struct node tail = {2, 0, "tail"};
struct node head = {1, &tail, "head"};
struct anon anon = {1, { .i = 9 }};
int (*handler)(int, const char *);
const char *message = "hi there";
char *nothing;
int grid[2][3] = {{1, 2, 3}, {4, 5, 6}};

static inline int bump(void) { static int calls __attribute__((used)) = 7; return ++calls; }
int tick(void) { static struct alloc_stats state __attribute__((used)) = {1, 2, 3, 4}; state.nb_allocs++; return (int)state.nb_allocs; }
int (*tick_ref)(void) = tick;

void _start(void)
{
	for (;;) {
		alloc_stats_global.nb_allocs += bump() + tick();
		hits++;
		ring[0]++;
		color = shade;
		word.u++;
		flags.mode++;
		head.value += tail.value + anon.kind + grid[1][2];
		if (handler)
			handler(message[0], nothing);
	}
}
`

// buildShapes compiles the shapes program with gcc and extra flags; it
// skips the test when gcc (or, for LTO, its plugin) is missing.
func buildShapes(t *testing.T, flags ...string) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not installed")
	}
	dir := t.TempDir()
	for name, text := range map[string]string{"shapes.h": shapesHeader, "shapes.c": shapesSource} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "shapes.elf")
	args := append([]string{"-g", "-nostdlib", "-static", "-no-pie", "-fno-pic"}, flags...)
	args = append(args, "-o", out, filepath.Join(dir, "shapes.c"))
	if b, err := exec.Command(gcc, args...).CombinedOutput(); err != nil {
		t.Skipf("gcc %v: %v\n%s", flags, err, b)
	}
	return out
}

// elfMemory reads n bytes at a virtual address from an ELF's allocated
// sections, as the guest's memory holds them before it runs (.bss as
// zeros).
func elfMemory(t *testing.T, path string, addr, n uint64) []byte {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, s := range f.Sections {
		if s.Flags&elf.SHF_ALLOC == 0 || addr < s.Addr || addr >= s.Addr+s.Size {
			continue
		}
		n = min(n, s.Addr+s.Size-addr)
		if s.Type == elf.SHT_NOBITS {
			return make([]byte, n)
		}
		b := make([]byte, n)
		if _, err := s.ReadAt(b, int64(addr-s.Addr)); err != nil {
			t.Fatal(err)
		}
		return b
	}
	t.Fatalf("no section holds %#x", addr)
	return nil
}

// readVariable decodes a variable from the ELF's initial memory and
// completes it as a memory reader would: Follow, read, Complete.
func readVariable(t *testing.T, tab *Table, path, name string) (Variable, Value) {
	t.Helper()
	v, err := tab.Variable(name)
	if err != nil {
		t.Fatal(err)
	}
	val := tab.Decode(v, elfMemory(t, path, v.Addr, v.Size))
	for range 100 {
		addr, size, ok := tab.Follow(val)
		if !ok {
			return v, val
		}
		tab.Complete(&val, elfMemory(t, path, addr, size))
	}
	t.Fatalf("%s: Follow never ends", name)
	return v, val
}

// requireShape fails the test unless the ELF's DWARF has a variable entry
// with a fixed address that carries attr and no DW_AT_type: the shape
// (a definition that names its declaration or its abstract origin) the
// test is about.
func requireShape(t *testing.T, path string, attr dwarf.Attr) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := f.DWARF()
	if err != nil {
		t.Fatal(err)
	}
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if e == nil {
			t.Fatalf("%s: no DW_TAG_variable with %v, a location and no type", filepath.Base(path), attr)
		}
		if e.Tag == dwarf.TagVariable && e.Val(attr) != nil && e.Val(dwarf.AttrLocation) != nil && e.Val(dwarf.AttrType) == nil {
			return
		}
	}
}

func TestVariableShapes(t *testing.T) {
	path := buildShapes(t, "-O0")
	requireShape(t, path, dwarf.AttrSpecification)
	tab, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		wantType  string
		wantScope string
		wantField []Field
	}{
		{"alloc_stats_global", "struct alloc_stats", "", []Field{
			{Name: ".last_alloc_size", Offset: 0, Size: 8, Type: "uint64_t", Encoding: EncUnsigned},
			{Name: ".cur_mem_free", Offset: 8, Size: 8, Type: "uint64_t", Encoding: EncUnsigned},
			{Name: ".nb_allocs", Offset: 16, Size: 4, Type: "uint32_t", Encoding: EncUnsigned},
			{Name: ".nb_enomem", Offset: 20, Size: 4, Type: "int32_t", Encoding: EncSigned},
		}},
		{"ring", "volatile char [16]", "", []Field{{Size: 16, Type: "volatile char [16]", Encoding: EncCString}}},
		{"hits", "vcounter_t", "", []Field{{Size: 4, Type: "vcounter_t", Encoding: EncUnsigned}}},
		{"color", "enum color", "", []Field{{Size: 4, Type: "enum color", Encoding: EncSigned,
			Enum: []Enumerator{{"RED", 0}, {"GREEN", 5}, {"BLUE", -1}}}}},
		{"word", "union word", "", []Field{
			{Name: ".u", Size: 4, Type: "uint32_t", Encoding: EncUnsigned},
			{Name: ".f", Size: 4, Type: "float", Encoding: EncFloat},
			{Name: ".b", Size: 4, Type: "uint8_t [4]", Encoding: EncBytes},
		}},
		{"handler", "int (*)(int, const char *)", "", []Field{{Size: 8, Type: "int (*)(int, const char *)", Encoding: EncPointer, Pointee: "int (int, const char *)"}}},
		{"message", "const char *", "", []Field{{Size: 8, Type: "const char *", Encoding: EncPointer, Pointee: "const char"}}},
		{"calls.0", "int", "bump", []Field{{Size: 4, Type: "int", Encoding: EncSigned}}},
		{"state.1", "struct alloc_stats", "tick", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := tab.Variable(tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if v.Type != tt.wantType || v.Scope != tt.wantScope {
				t.Errorf("Variable(%q) type %q scope %q, want %q %q", tt.name, v.Type, v.Scope, tt.wantType, tt.wantScope)
			}
			if v.Unit != filepath.Join(filepath.Dir(path), "shapes.c") {
				t.Errorf("Variable(%q) unit %q, want shapes.c beside %s", tt.name, v.Unit, path)
			}
			if tt.wantField != nil && !reflect.DeepEqual(v.Fields, tt.wantField) {
				t.Errorf("fields:\n got %+v\nwant %+v", v.Fields, tt.wantField)
			}
		})
	}
}

// TestVariableAbstractOrigin: with link-time optimisation the static
// local's definition is a concrete copy that names its type and its
// function only through DW_AT_abstract_origin, in another unit.
func TestVariableAbstractOrigin(t *testing.T) {
	for _, flags := range [][]string{{"-O2"}, {"-O2", "-flto"}} {
		t.Run(flags[len(flags)-1], func(t *testing.T) {
			path := buildShapes(t, flags...)
			if len(flags) > 1 {
				requireShape(t, path, dwarf.AttrAbstractOrigin)
			}
			tab, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			found := 0
			for _, s := range tab.DataObjects(0) {
				v, err := tab.Variable(s.Name)
				if err != nil {
					t.Fatal(err)
				}
				want := map[string]struct{ typ, scope string }{
					"alloc_stats_global": {"struct alloc_stats", ""},
					"calls":              {"int", "bump"},
					"state":              {"struct alloc_stats", "tick"},
				}[staticName(s.Name)]
				if want.typ == "" {
					continue
				}
				found++
				if v.Type != want.typ || v.Scope != want.scope {
					t.Errorf("Variable(%q) type %q scope %q, want %q %q", s.Name, v.Type, v.Scope, want.typ, want.scope)
				}
				// Under LTO the definition is in an artificial unit; the
				// source is the declaration's.
				if filepath.Base(v.Unit) != "shapes.c" {
					t.Errorf("Variable(%q) unit %q, want shapes.c", s.Name, v.Unit)
				}
			}
			if found != 3 {
				t.Errorf("found %d of the 3 variables", found)
			}
		})
	}
}

// staticName strips the ".N" a compiler appends to a static local.
func staticName(sym string) string {
	for i := len(sym) - 1; i > 0; i-- {
		if sym[i] == '.' {
			return sym[:i]
		}
		if sym[i] < '0' || sym[i] > '9' {
			break
		}
	}
	return sym
}

func TestDecodeShapes(t *testing.T) {
	path := buildShapes(t, "-O0")
	tab, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	tail, _ := tab.Lookup("tail")
	tests := []struct {
		name       string
		wantString string
		wantJSON   string
	}{
		{"alloc_stats_global", "{last_alloc_size: 64, cur_mem_free: 4096, nb_allocs: 3, nb_enomem: -2}",
			`{"cur_mem_free":4096,"last_alloc_size":64,"nb_allocs":3,"nb_enomem":-2}`},
		{"ring", `"hello"`, `"hello"`},
		{"hits", "42", "42"},
		{"color", "GREEN", "5"},
		{"shade", "BLUE", "-1"},
		{"word", "{u: 1065353216, f: 1, b: [0, 0, 128, 63]}", `{"b":[0,0,128,63],"f":1,"u":1065353216}`},
		{"flags", "{ready: 1, mode: 5, level: -3}", `{"level":-3,"mode":5,"ready":1}`},
		{"head", `{value: 1, next: ` + pointerString(tail.Addr, "tail") + `, label: "head"}`,
			`{"label":"head","next":` + jsonNumber(tail.Addr) + `,"value":1}`},
		{"anon", "{kind: 1, {i: 9, f: 1.3e-44}}", `{"f":1.3e-44,"i":9,"kind":1}`},
		{"message", `"hi there"`, `"hi there"`},
		{"nothing", "0x0", "0"},
		{"grid", "[[1, 2, 3], [4, 5, 6]]", "[[1,2,3],[4,5,6]]"},
		{"calls.0", "7", "7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, val := readVariable(t, tab, path, tt.name)
			want := tt.wantString
			if got := val.String(); got != want {
				t.Errorf("String() = %s\n                 want %s", got, want)
			}
			b, err := json.Marshal(val.JSON())
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.wantJSON {
				t.Errorf("JSON() = %s, want %s", b, tt.wantJSON)
			}
		})
	}
}

func TestDecodeShort(t *testing.T) {
	path := buildShapes(t, "-O0")
	tab, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := tab.Variable("alloc_stats_global")
	if err != nil {
		t.Fatal(err)
	}
	val := tab.Decode(v, elfMemory(t, path, v.Addr, 12))
	if got, want := val.String(), "{last_alloc_size: 64, cur_mem_free: (not read), nb_allocs: (not read), nb_enomem: (not read)}"; got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
	b, _ := json.Marshal(val.JSON())
	if got, want := string(b), `{"cur_mem_free":null,"last_alloc_size":64,"nb_allocs":null,"nb_enomem":null}`; got != want {
		t.Errorf("JSON() = %s, want %s", got, want)
	}
	// A C string whose read fails ends the Follow loop as "not read".
	m, _ := tab.Variable("message")
	mv := tab.Decode(m, elfMemory(t, path, m.Addr, m.Size))
	if _, _, ok := tab.Follow(mv); !ok {
		t.Fatal("Follow(message) = false")
	}
	tab.Complete(&mv, nil)
	if _, _, ok := tab.Follow(mv); ok || mv.Err != "not read" {
		t.Errorf("after a failed read: Follow ok %v, Err %q", ok, mv.Err)
	}
}

func TestDescribe(t *testing.T) {
	path := buildShapes(t, "-O0")
	tab, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	tail, _ := tab.Lookup("tail")
	tick, _ := tab.Lookup("tick")
	tests := []struct {
		addr uint64
		want string
	}{
		{tail.Addr, "tail"},
		{tail.Addr + 8, "tail+0x8"},
		{tail.Addr + tail.Size - 1, "tail+0x17"},
		{tick.Addr + 4, "tick+0x4"},
		{0, ""},
	}
	for _, tt := range tests {
		if got := tab.Describe(tt.addr); got != tt.want {
			t.Errorf("Describe(%#x) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}

func jsonNumber(u uint64) string {
	b, _ := json.Marshal(u)
	return string(b)
}

// TestDecodeConcurrent reads and decodes variables from several
// goroutines at once, as the memory panel and the control socket do
// (run with -race).
func TestDecodeConcurrent(t *testing.T) {
	path := buildShapes(t, "-O0")
	tab, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"alloc_stats_global", "head", "word", "flags", "color", "grid", "anon"}
	data := make(map[string][]byte)
	for _, n := range names {
		s, _ := tab.Lookup(n)
		data[n] = elfMemory(t, path, s.Addr, s.Size)
	}
	want := make(map[string]string)
	for _, n := range names {
		v, err := tab.Variable(n)
		if err != nil {
			t.Fatal(err)
		}
		want[n] = tab.Decode(v, data[n]).String()
	}
	// A fresh table: its DWARF is loaded by the racing goroutines.
	tab, err = Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8*len(names))
	for range 8 {
		wg.Go(func() {
			for _, n := range names {
				v, err := tab.Variable(n)
				if err != nil {
					errs <- err.Error()
					return
				}
				if got := tab.Decode(v, data[n]).String(); got != want[n] {
					errs <- n + ": " + got
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
