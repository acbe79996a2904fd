package memview

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/tui/panel/paneltest"
)

// pointerSource has pointers on their own and as struct members.
const pointerSource = `#include <stdint.h>
struct stats { uint32_t a, b, c; } stats;
struct node { uint32_t value; struct stats *where; uint32_t *last; } node;
volatile uint32_t ticks;
uint32_t *cursor;
void _start(void) { for (;;) ticks++; }
`

func TestFormatFieldPointer(t *testing.T) {
	tab, err := devloop.LoadSymbols(buildGuest(t, pointerSource))
	if err != nil {
		t.Fatal(err)
	}
	addr := func(name string) uint64 {
		s, ok := tab.Lookup(name)
		if !ok {
			t.Fatalf("no %s", name)
		}
		return s.Addr
	}
	le := binary.LittleEndian
	ptr := devloop.Field{Size: 4, Encoding: devloop.EncPointer}
	stats := addr("stats")
	tests := []struct {
		name string
		f    devloop.Field
		p    uint64
		tab  *devloop.SymbolTable
		want string
	}{
		{"to a symbol", ptr, stats, tab, fmt.Sprintf("0x%08x → stats", stats)},
		{"inside a symbol", ptr, stats + 4, tab, fmt.Sprintf("0x%08x → stats+0x4", stats+4)},
		{"to code", ptr, addr("_start") + 1, tab, fmt.Sprintf("0x%08x → _start+0x1", addr("_start")+1)},
		{"null", ptr, 0, tab, "0x00000000"},
		{"to no symbol", ptr, 0xdead0000, tab, "0xdead0000"},
		{"without symbols", ptr, stats, nil, fmt.Sprintf("0x%08x", stats)},
		{"an integer is no pointer", devloop.Field{Size: 4, Encoding: devloop.EncUnsigned}, stats, tab,
			fmt.Sprintf("%d (0x%x)", stats, stats)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := formatField(tt.f, le.AppendUint32(nil, uint32(tt.p)), le, tt.tab); got != tt.want {
				t.Errorf("formatField = %q, want %q", got, tt.want)
			}
		})
	}
}

// The watch list shows where pointers point, on their own and as fields,
// and a pointer that moves is a change.
func TestMemViewPointers(t *testing.T) {
	path := buildGuest(t, pointerSource)
	tab, err := devloop.LoadSymbols(path)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeInspector{
		info:    devloop.VMInfo{Boot: 1, Build: 1, PID: 4242, Machine: "microvm", Accel: "tcg", MemoryMiB: 64, Symbols: path},
		running: true,
		ram:     make(map[uint64]byte),
	}
	addr := func(name string) uint64 {
		s, ok := tab.Lookup(name)
		if !ok {
			t.Fatalf("no %s", name)
		}
		return s.Addr
	}
	le := binary.LittleEndian
	stats, ticks, node := addr("stats"), addr("ticks"), addr("node")
	f.poke(addr("cursor"), le.AppendUint32(nil, uint32(stats+8)))
	f.poke(node+4, le.AppendUint32(nil, uint32(stats)))
	f.poke(node+8, le.AppendUint32(nil, uint32(ticks)))

	m := newModel(f)
	m.SetSize(100, 24)
	refresh(t, m)
	v := plain(m)
	paneltest.WantText(t, v,
		fmt.Sprintf("0x%08x → stats+0x8", stats+8),
		fmt.Sprintf(".where +4     0x%08x → stats", stats),
		fmt.Sprintf(".last  +8     0x%08x → ticks", ticks),
	)
	paneltest.CheckSize(t, v, 100, 24)

	f.poke(addr("cursor"), le.AppendUint32(nil, uint32(stats+4)))
	refresh(t, m)
	if v := plain(m); !strings.Contains(v, fmt.Sprintf("0x%08x → stats+0x4", stats+4)) {
		t.Errorf("the moved pointer is not shown:\n%s", v)
	}
	if !m.changes.changed[fieldKey{"cursor", ""}] {
		t.Error("a pointer that moved is not marked changed")
	}
}
