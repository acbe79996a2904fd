package crashview

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ukdev/ukdev/devloop"
)

func TestCPUMode(t *testing.T) {
	tests := []struct {
		name string
		regs devloop.Registers
		want int
	}{
		{"long mode", devloop.Registers{CR0: 0x80000011, EFER: 0x500}, 64},
		{"protected mode", devloop.Registers{CR0: 0x11}, 32},
		{"real mode", devloop.Registers{CR0: 0x10}, 16},
	}
	for _, tt := range tests {
		if got := cpuMode(tt.regs); got != tt.want {
			t.Errorf("%s: cpuMode = %d, want %d", tt.name, got, tt.want)
		}
	}
}

// The decode lands on the PC even when the code read starts inside an
// instruction, and keeps at most before/after instructions around it.
func TestDisassemble(t *testing.T) {
	// 48 c7 c0 2a 00 00 00: mov $0x2a,%rax; 55: push %rbp;
	// 48 89 e5: mov %rsp,%rbp; cc: int3; c3: ret; 90: nop
	code := []byte{0x48, 0xc7, 0xc0, 0x2a, 0x00, 0x00, 0x00, 0x55, 0x48, 0x89, 0xe5, 0xcc, 0xc3, 0x90}
	const base = 0x1000
	tests := []struct {
		name          string
		from          int // where the read starts in code
		pc            uint64
		before, after int
		wantAddrs     []uint64
		wantPC        string
	}{
		{"from an instruction boundary", 0, base + 11, 6, 6, []uint64{base, base + 7, base + 8, base + 11, base + 12, base + 13}, "int3"},
		// 2a 00: sub (%rax),%al; 00 00: add %al,(%rax); then in step.
		{"from inside an instruction", 3, base + 11, 6, 6, []uint64{base + 3, base + 5, base + 7, base + 8, base + 11, base + 12, base + 13}, "int3"},
		{"limited around the PC", 0, base + 8, 1, 2, []uint64{base + 7, base + 8, base + 11}, "mov %rsp,%rbp"},
		{"the PC first", 0, base, 3, 1, []uint64{base}, "mov $0x2a,%rax"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := disassemble(code[tt.from:], base+uint64(tt.from), tt.pc, 64, tt.before, tt.after, symbolizer{})
			var addrs []uint64
			for _, l := range got {
				addrs = append(addrs, l.addr)
				if l.pc != (l.addr == tt.pc) {
					t.Errorf("%#x marked pc=%v", l.addr, l.pc)
				}
				if l.pc && l.text != tt.wantPC {
					t.Errorf("the PC's instruction is %q, want %q", l.text, tt.wantPC)
				}
			}
			if !slices.Equal(addrs, tt.wantAddrs) {
				t.Errorf("addresses %#x, want %#x", addrs, tt.wantAddrs)
			}
		})
	}
	if got := disassemble(code, base, base+100, 64, 3, 3, symbolizer{}); got != nil {
		t.Errorf("a PC outside the code gave %v", got)
	}
}

// testELF builds a small static program with debug information, or skips.
func testELF(t *testing.T) (symbolizer, *devloop.SymbolTable) {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not installed")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "prog.c")
	const code = "int leaf(int x) { return x * 3; }\n" +
		"int caller(int x) { return leaf(x) + 1; }\n" +
		"void _start(void) { caller(1); for (;;); }\n"
	if err := os.WriteFile(src, []byte(code), 0o600); err != nil {
		t.Fatal(err)
	}
	// An assembly label: no type, no size, lines from the assembler.
	asm := filepath.Join(dir, "label.S")
	if err := os.WriteFile(asm, []byte(".text\n.globl label\nlabel:\n\tnop\n\tnop\n\tret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "prog")
	if out, err := exec.Command(gcc, "-g", "-O0", "-static", "-nostdlib", "-fno-pie", "-no-pie", "-o", bin, src, asm).CombinedOutput(); err != nil {
		t.Skipf("gcc cannot build a static program here: %v\n%s", err, out)
	}
	syms, err := devloop.LoadSymbols(bin)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := devloop.LoadLineTable(bin)
	if err != nil {
		t.Fatal(err)
	}
	return newSymbolizer(syms, lines), syms
}

func TestSymbolizer(t *testing.T) {
	sym, syms := testELF(t)
	leaf, _ := syms.Lookup("leaf")
	caller, _ := syms.Lookup("caller")
	label, _ := syms.Lookup("label")
	l, ok := sym.loc(leaf.Addr + 4)
	if !ok || l.fn != "leaf" || l.off != 4 || filepath.Base(l.file) != "prog.c" || l.line != 1 {
		t.Errorf("loc(leaf+4) = %+v, %v", l, ok)
	}
	if got := l.String(); got != "leaf+0x4 (prog.c:1)" {
		t.Errorf("String = %q", got)
	}
	if l, ok := sym.loc(label.Addr + 1); !ok || l.fn != "label" || l.off != 1 || filepath.Base(l.file) != "label.S" || l.line != 5 {
		t.Errorf("loc(label+1) = %+v, %v; want the assembly label and its line", l, ok)
	}
	if _, ok := sym.loc(caller.Addr + caller.Size + 0x10000); ok {
		t.Error("an address past every function was symbolised")
	}
	// A return address into caller names caller's line.
	r, ok := sym.returnLoc(caller.Addr + caller.Size - 1)
	if !ok || r.fn != "caller" || r.line != 2 {
		t.Errorf("returnLoc(caller's end) = %+v, %v", r, ok)
	}
	name, base := sym.lookup(leaf.Addr + 2)
	if name != "leaf" || base != leaf.Addr {
		t.Errorf("lookup = %s, %#x", name, base)
	}

	// The stack words that point into code, 8 and 4 bytes wide.
	words := []uint64{0, leaf.Addr + 4, 0xdeadbeef, caller.Addr + 1}
	stack := make([]byte, 8*len(words))
	for i, w := range words {
		binary.LittleEndian.PutUint64(stack[8*i:], w)
	}
	got := textWords(stack, 8, 10, sym)
	if len(got) != 2 || got[0].off != 8 || got[0].value != leaf.Addr+4 || got[0].loc.fn != "leaf" || got[1].off != 24 || got[1].loc.fn != "caller" {
		t.Errorf("textWords = %+v", got)
	}
	if got := textWords(stack, 8, 1, sym); len(got) != 1 {
		t.Errorf("textWords kept %d words, want at most 1", len(got))
	}
	stack32 := make([]byte, 8)
	binary.LittleEndian.PutUint32(stack32[4:], uint32(leaf.Addr))
	if got := textWords(stack32, 4, 10, sym); len(got) != 1 || got[0].off != 4 {
		t.Errorf("textWords (32-bit) = %+v", got)
	}
}

func TestReportLoc(t *testing.T) {
	tests := []struct {
		frame string
		file  string
		line  int
		ok    bool
	}{
		{"main.crash+0x12 (/src/main.go:12)", "/src/main.go", 12, true},
		{"ukarch_halt+0x4 (arch/x86/halt.c:7)", "arch/x86/halt.c", 7, true},
		{"0xffffffff80012345", "", 0, false},
		{"kmain+0x10", "", 0, false},
	}
	for _, tt := range tests {
		file, line, ok := reportLoc(tt.frame)
		if file != tt.file || line != tt.line || ok != tt.ok {
			t.Errorf("reportLoc(%q) = %s, %d, %v", tt.frame, file, line, ok)
		}
	}
}
