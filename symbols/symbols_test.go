package symbols

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// symbolsSource is a freestanding program with one variable of each shape
// the memory view shows.
const symbolsSource = `#include <stdint.h>
struct point { int16_t x; int16_t y; };
struct rec {
	uint8_t flag;
	uint32_t count;
	struct point pos;
	uint16_t hist[3];
	char name[8];
	unsigned low:3;
	unsigned high:5;
	double ratio;
	void *next;
};
struct rec rec = {1};
volatile uint64_t counter;
static int32_t local_count = 5;
unsigned char blob[100];
int use(void) { return local_count + blob[0]; }
void _start(void) { for (;;) { counter++; local_count += use(); } }
`

// buildELF compiles symbolsSource with gcc; strip removes the DWARF.
func buildELF(t *testing.T, strip bool) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not installed")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "t.c")
	if err := os.WriteFile(src, []byte(symbolsSource), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "t.elf")
	args := []string{"-O0", "-nostdlib", "-static", "-no-pie", "-o", out, src}
	if !strip {
		args = append([]string{"-g"}, args...)
	}
	if b, err := exec.Command(gcc, args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, b)
	}
	return out
}

func TestLoadSymbolsLookup(t *testing.T) {
	tab, err := Load(buildELF(t, false))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		wantKind   Kind
		wantSize   uint64
		wantGlobal bool
		wantWrite  bool
	}{
		{"rec", Object, 48, true, true},
		{"counter", Object, 8, true, true},
		{"local_count", Object, 4, false, true},
		{"blob", Object, 100, true, true},
		{"use", Func, 24, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, ok := tab.Lookup(tt.name)
			if !ok {
				t.Fatalf("Lookup(%q) found nothing", tt.name)
			}
			if s.Kind != tt.wantKind || s.Global != tt.wantGlobal || s.Writable != tt.wantWrite || s.Addr == 0 {
				t.Errorf("Lookup(%q) = %+v", tt.name, s)
			}
			if tt.wantKind == Object && s.Size != tt.wantSize {
				t.Errorf("size = %d, want %d", s.Size, tt.wantSize)
			}
		})
	}
	if _, ok := tab.Lookup("nope"); ok {
		t.Error("Lookup(nope) found something")
	}
	if _, err := tab.Variable("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Variable(nope) error = %v, want ErrNotFound", err)
	}
}

func TestSymbolFuncAt(t *testing.T) {
	tab, err := Load(buildELF(t, true))
	if err != nil {
		t.Fatal(err)
	}
	use, _ := tab.Lookup("use")
	start, _ := tab.Lookup("_start")
	tests := []struct {
		addr       uint64
		wantName   string
		wantOffset uint64
		wantOK     bool
	}{
		{use.Addr, "use", 0, true},
		{use.Addr + 5, "use", 5, true},
		{start.Addr + 3, "_start", 3, true},
		{use.Addr - 1, "", 0, false},
	}
	for _, tt := range tests {
		s, off, ok := tab.FuncAt(tt.addr)
		if ok != tt.wantOK || s.Name != tt.wantName || off != tt.wantOffset {
			t.Errorf("FuncAt(%#x) = %q+%d %v, want %q+%d %v", tt.addr, s.Name, off, ok, tt.wantName, tt.wantOffset, tt.wantOK)
		}
	}
}

func TestSymbolDataObjects(t *testing.T) {
	tab, err := Load(buildELF(t, true))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range tab.DataObjects(0) {
		names = append(names, s.Name)
	}
	// Globals first, smallest first; the static last.
	want := []string{"counter", "rec", "blob", "local_count"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("DataObjects = %v, want %v", names, want)
	}
	if got := tab.DataObjects(2); len(got) != 2 {
		t.Errorf("DataObjects(2) returned %d", len(got))
	}
}

func TestVariableDWARF(t *testing.T) {
	tab, err := Load(buildELF(t, false))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := tab.Variable("rec")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Type != "struct rec" {
		t.Errorf("rec type = %q", rec.Type)
	}
	want := []Field{
		{Name: ".flag", Offset: 0, Size: 1, Type: "uint8_t", Encoding: EncUnsigned},
		{Name: ".count", Offset: 4, Size: 4, Type: "uint32_t", Encoding: EncUnsigned},
		{Name: ".pos.x", Offset: 8, Size: 2, Type: "int16_t", Encoding: EncSigned},
		{Name: ".pos.y", Offset: 10, Size: 2, Type: "int16_t", Encoding: EncSigned},
		{Name: ".hist[0]", Offset: 12, Size: 2, Type: "uint16_t", Encoding: EncUnsigned},
		{Name: ".hist[1]", Offset: 14, Size: 2, Type: "uint16_t", Encoding: EncUnsigned},
		{Name: ".hist[2]", Offset: 16, Size: 2, Type: "uint16_t", Encoding: EncUnsigned},
		{Name: ".name", Offset: 18, Size: 8, Type: "char [8]", Encoding: EncCString},
		{Name: ".low", Offset: 24, Size: 4, Type: "unsigned int:3", Encoding: EncUnsigned, BitSize: 3, BitOffset: 16},
		{Name: ".high", Offset: 24, Size: 4, Type: "unsigned int:5", Encoding: EncUnsigned, BitSize: 5, BitOffset: 19},
		{Name: ".ratio", Offset: 32, Size: 8, Type: "double", Encoding: EncFloat},
		{Name: ".next", Offset: 40, Size: 8, Type: "void *", Encoding: EncPointer, Pointee: "void"},
	}
	if !reflect.DeepEqual(rec.Fields, want) {
		t.Errorf("rec fields:\n got %+v\nwant %+v", rec.Fields, want)
	}

	tests := []struct {
		name      string
		wantType  string
		wantField Field
	}{
		{"counter", "volatile uint64_t", Field{Size: 8, Type: "volatile uint64_t", Encoding: EncUnsigned}},
		{"local_count", "int32_t", Field{Size: 4, Type: "int32_t", Encoding: EncSigned}},
		{"blob", "unsigned char [100]", Field{Size: 100, Type: "unsigned char [100]", Encoding: EncBytes}},
	}
	for _, tt := range tests {
		v, err := tab.Variable(tt.name)
		if err != nil {
			t.Fatal(err)
		}
		if v.Type != tt.wantType || len(v.Fields) != 1 || !reflect.DeepEqual(v.Fields[0], tt.wantField) {
			t.Errorf("Variable(%q) = type %q fields %+v, want %q %+v", tt.name, v.Type, v.Fields, tt.wantType, tt.wantField)
		}
	}
}

func TestVariableWithoutDWARF(t *testing.T) {
	tab, err := Load(buildELF(t, true))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		want       Field
		data       []byte
		wantString string
	}{
		{"counter", Field{Size: 8, Type: "u64", Encoding: EncUnsigned}, []byte{1, 2, 0, 0, 0, 0, 0, 0}, "513"},
		{"rec", Field{Size: 48, Type: "48 bytes", Encoding: EncBytes}, make([]byte, 48), "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 …"},
	}
	for _, tt := range tests {
		v, err := tab.Variable(tt.name)
		if err != nil {
			t.Fatal(err)
		}
		if v.Type != "" || !reflect.DeepEqual(v.Fields, []Field{tt.want}) {
			t.Errorf("Variable(%q) = %q %+v, want one field %+v", tt.name, v.Type, v.Fields, tt.want)
		}
		// Without DWARF a value is decoded from its one field.
		if got := tab.Decode(v, tt.data); got.Name != tt.name || got.String() != tt.wantString {
			t.Errorf("Decode(%q) = %q %s, want %s", tt.name, got.Name, got.String(), tt.wantString)
		}
	}
}

// TestVariableHello reads the example unikernel: a 32-bit kernel whose
// symbol addresses are its physical addresses.
func TestVariableHello(t *testing.T) {
	elfPath := filepath.Join("..", "examples", "hello", "build", "hello.elf")
	if _, err := os.Stat(elfPath); err != nil {
		if _, err := exec.LookPath("make"); err != nil {
			t.Skip("make not installed and hello.elf not built")
		}
		if b, err := exec.Command("make", "-C", filepath.Join("..", "examples", "hello")).CombinedOutput(); err != nil {
			t.Skipf("cannot build examples/hello: %v\n%s", err, b)
		}
	}
	tab, err := Load(elfPath)
	if err != nil {
		t.Fatal(err)
	}
	if tab.PointerSize() != 4 {
		t.Errorf("PointerSize = %d, want 4", tab.PointerSize())
	}
	ticks, err := tab.Variable("ticks")
	if err != nil {
		t.Fatal(err)
	}
	if phys, ok := tab.PhysAddr(ticks.Addr); !ok || phys != ticks.Addr {
		t.Errorf("PhysAddr(ticks %#x) = %#x %v, want the same address", ticks.Addr, phys, ok)
	}
	if len(ticks.Fields) != 1 || ticks.Fields[0].Encoding != EncUnsigned || ticks.Fields[0].Size != 4 {
		t.Errorf("ticks = %+v", ticks)
	}
	stats, err := tab.Variable("stats")
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(stats.Unit) || !strings.HasSuffix(stats.Unit, "/examples/hello/main.c") {
		t.Errorf("stats unit = %q, want the absolute path of examples/hello/main.c", stats.Unit)
	}
	if stats.Type != "volatile struct stats" || len(stats.Fields) != 9 || stats.Fields[1].Name != ".timer_irqs" || stats.Fields[1].Offset != 4 {
		t.Errorf("stats = %q %+v", stats.Type, stats.Fields)
	}
	// A function-local static is found by address despite its ELF name,
	// ed.N with gcc's counter for N.
	edName := ""
	for _, sym := range tab.Symbols() {
		if n, ok := strings.CutPrefix(sym.Name, "ed."); ok && n != "" && strings.Trim(n, "0123456789") == "" {
			edName = sym.Name
		}
	}
	if edName == "" {
		t.Fatal("hello.elf has no ed.N symbol (kmain's static line editor)")
	}
	ed, err := tab.Variable(edName)
	if err != nil {
		t.Fatal(err)
	}
	if ed.Type != "struct line_editor" || ed.Scope != "kmain" {
		t.Errorf("%s type = %q scope %q, want struct line_editor in kmain", edName, ed.Type, ed.Scope)
	}
	// A qualified array names its qualifier once.
	ring, err := tab.Variable("rx_ring")
	if err != nil {
		t.Fatal(err)
	}
	if ring.Type != "volatile char [256]" || ring.Scope != "" || len(ring.Fields) != 1 || ring.Fields[0].Encoding != EncCString {
		t.Errorf("rx_ring = %q scope %q %+v", ring.Type, ring.Scope, ring.Fields)
	}
	serial, ok := tab.Lookup("serial_interrupt")
	if !ok {
		t.Fatal("no serial_interrupt in hello.elf")
	}
	if f, off, ok := tab.FuncAt(serial.Addr + 4); !ok || f.Name != "serial_interrupt" || off != 4 {
		t.Errorf("FuncAt(serial_interrupt+4 = %#x) = %q+%d %v", serial.Addr+4, f.Name, off, ok)
	}
}

func TestLoadSymbolsErrors(t *testing.T) {
	dir := t.TempDir()
	notELF := filepath.Join(dir, "not.elf")
	if err := os.WriteFile(notELF, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(notELF); err == nil {
		t.Error("Load(not ELF) succeeded")
	}
	if _, err := Load(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want ErrNotExist", err)
	}
}
