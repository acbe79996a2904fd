package goruntime

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ukdev/ukdev/symbols"
)

// buildProgram builds a small Go program with the installed go command
// (skipping without one), with extra ldflags.
func buildProgram(t *testing.T, ldflags string) string {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not installed")
	}
	dir := t.TempDir()
	files := map[string]string{
		"main.go": "package main\n\nimport \"fmt\"\n\nvar sink []byte\n\nfunc main() {\n\tsink = make([]byte, 1<<20)\n\tfmt.Println(len(sink))\n}\n",
		"go.mod":  "module example.com/rt\n\ngo 1.22\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "rt")
	cmd := exec.Command(goCmd, "build", "-ldflags="+ldflags, "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

// elfMemory returns the n bytes at addr as the ELF loads them (zeros in
// .bss).
func elfMemory(t *testing.T, path string, addr, n uint64) []byte {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, s := range f.Sections {
		if s.Flags&elf.SHF_ALLOC == 0 || addr < s.Addr || addr+n > s.Addr+s.Size {
			continue
		}
		b := make([]byte, n)
		if s.Type == elf.SHT_NOBITS {
			return b
		}
		if _, err := s.ReadAt(b, int64(addr-s.Addr)); err != nil {
			t.Fatal(err)
		}
		return b
	}
	t.Fatalf("no section holds %#x+%d", addr, n)
	return nil
}

// memory is what a reading read: Ranges and their bytes, patched by
// address as a running program would have written them.
type memory struct {
	ranges []Range
	data   [][]byte
}

func (m memory) put(t *testing.T, addr, v uint64, size int) {
	t.Helper()
	for i, r := range m.ranges {
		if addr >= r.Addr && addr+uint64(size) <= r.Addr+r.Size {
			b := m.data[i][addr-r.Addr:]
			switch size {
			case 4:
				binary.LittleEndian.PutUint32(b, uint32(v))
			case 8:
				binary.LittleEndian.PutUint64(b, v)
			default:
				t.Fatalf("size %d", size)
			}
			return
		}
	}
	t.Fatalf("%#x is not in the ranges read %v", addr, m.ranges)
}

// fieldAddr returns the address and size of a flattened member of a
// runtime variable.
func fieldAddr(t *testing.T, tab *symbols.Table, name, field string) (uint64, int) {
	t.Helper()
	v, err := tab.Variable(name)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range v.Fields {
		if f.Name == field {
			return v.Addr + f.Offset, int(f.Size)
		}
	}
	var names []string
	for _, f := range v.Fields {
		names = append(names, f.Name)
	}
	t.Fatalf("%s has no field %s: %s", name, field, strings.Join(names, " "))
	return 0, 0
}

func TestReadBuiltProgram(t *testing.T) {
	path := buildProgram(t, "")
	tab, err := symbols.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(tab)
	if err != nil {
		t.Fatal(err)
	}
	ranges := r.Ranges()
	if len(ranges) == 0 || len(ranges) > 4 {
		t.Fatalf("Ranges() = %v, want 1 to 4", ranges)
	}
	var total uint64
	m := memory{ranges: ranges}
	for _, rg := range ranges {
		total += rg.Size
		m.data = append(m.data, elfMemory(t, path, rg.Addr, rg.Size))
	}
	if total > 16<<10 {
		t.Errorf("a reading reads %d bytes, want at most 16 KiB", total)
	}

	// The runtime's statistics start zero in the ELF's data; every one is
	// found in the DWARF of what the installed Go builds.
	s := r.Decode(m.data)
	for st := range numStats {
		if v, ok := s.Get(st); !ok || v != 0 {
			t.Errorf("%v = %d, %v in the ELF's data; want 0, known", st, v, ok)
		}
	}

	// A running program's values, written where the runtime keeps them.
	put := func(name, field string, v uint64) {
		addr, size := fieldAddr(t, tab, name, field)
		m.put(t, addr, v, size)
	}
	put("runtime.memstats", ".numgc", 3)
	pauses, _ := fieldAddr(t, tab, "runtime.memstats", ".pause_ns")
	m.put(t, pauses+2*8, 85_000, 8)
	m.put(t, pauses+1*8, 1, 8) // an older pause
	put("runtime.gcController", ".heapInUse", 4<<20)
	put("runtime.gcController", ".gcPercentHeapGoal.value", 8<<20)
	put("runtime.gcController", ".totalAlloc.value", 123456)
	put("runtime.allglen", "", 10)
	put("runtime.sched", ".gFree.stack.size", 2)
	put("runtime.sched", ".gFree.noStack.size", 1)
	put("runtime.sched", ".ngsys.value", 4)
	// heapStatsDelta: 5 byte deltas, tinyAllocCount, largeAlloc,
	// largeAllocCount, smallAllocCount[68], largeFree, largeFreeCount,
	// smallFreeCount[68].
	gens, size := fieldAddr(t, tab, "runtime.memstats", ".heapStats.stats")
	const deltaSize = 8 * (8 + 68 + 2 + 68)
	if size != 3*deltaSize {
		t.Fatalf("memstats.heapStats.stats is %d bytes, want 3×%d: update the offsets of this test", size, deltaSize)
	}
	m.put(t, gens+7*8, 5, 8)                     // gen 0 largeAllocCount
	m.put(t, gens+(8+1)*8, 100, 8)               // gen 0 smallAllocCount[1]
	m.put(t, gens+5*8, 1000, 8)                  // gen 0 tinyAllocCount: not an object
	m.put(t, gens+deltaSize+(8+68+2+1)*8, 30, 8) // gen 1 smallFreeCount[1]

	s = r.Decode(m.data)
	want := map[Stat]uint64{HeapInUse: 4 << 20, HeapObjects: 75, GCCycles: 3, LastPause: 85_000,
		Goroutines: 3, NextGC: 8 << 20, TotalAlloc: 123456}
	for st := range numStats {
		if v, ok := s.Get(st); !ok || v != want[st] {
			t.Errorf("%v = %d, %v; want %d", st, v, ok, want[st])
		}
	}
	if got, wantLine := s.Line(), "heap 4.0MiB · 75 objs · gc 3 (pause 85µs) · 3 goroutines · next gc 8.0MiB"; got != wantLine {
		t.Errorf("Line() = %q, want %q", got, wantLine)
	}

	// A failed read leaves what it held unknown.
	partial := make([][]byte, len(m.data))
	s = r.Decode(partial)
	if s.Known() {
		t.Errorf("Decode(nothing read) = %+v", s)
	}
}

func TestNewNotGo(t *testing.T) {
	path := buildProgram(t, "-w") // no DWARF
	tab, err := symbols.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(tab); !errors.Is(err, ErrNotGo) {
		t.Errorf("New(no DWARF) = %v, want ErrNotGo", err)
	}
}

// Value tree builders for the variants' table.
func u(name string, v uint64) symbols.Value {
	return symbols.Value{Name: name, Kind: symbols.KindUint, Uint: v}
}

func i32(name string, v int64) symbols.Value {
	return symbols.Value{Name: name, Kind: symbols.KindInt, Int: v}
}

func st(name string, elems ...symbols.Value) symbols.Value {
	return symbols.Value{Name: name, Kind: symbols.KindStruct, Elems: elems}
}

func arr(name string, vals ...uint64) symbols.Value {
	a := symbols.Value{Name: name, Kind: symbols.KindArray, Len: int64(len(vals))}
	for _, v := range vals {
		a.Elems = append(a.Elems, u("", v))
	}
	return a
}

// atomic is an atomic.Uint64 as DWARF shows it: padding, then value.
func atomic(name string, v uint64) symbols.Value {
	return st(name, st("_"), st("_"), u("value", v))
}

func TestVariants(t *testing.T) {
	go126 := map[string]symbols.Value{
		"gcController": st("", u("heapInUse", 1000), atomic("gcPercentHeapGoal", 4000), atomic("totalAlloc", 9000)),
		"memstats": st("",
			st("heapStats", symbols.Value{Name: "stats", Kind: symbols.KindArray, Len: 2, Elems: []symbols.Value{
				st("", u("largeAllocCount", 2), arr("smallAllocCount", 10, 20), u("largeFreeCount", 1), arr("smallFreeCount", 5, 5)),
				st("", u("largeAllocCount", 0), arr("smallAllocCount", 0, 1), u("largeFreeCount", 0), arr("smallFreeCount", 2, 0)),
			}}),
			arr("pause_ns", 7, 8, 9, 10), u("numgc", 6)),
		"allglen": u("", 20),
		"sched":   st("", st("gFree", st("stack", i32("size", 3)), st("noStack", i32("size", 2))), st("ngsys", i32("value", 5))),
	}
	old := map[string]symbols.Value{
		"memstats": st("", u("heap_inuse", 1100), u("heap_objects", 44), u("next_gc", 4100), u("total_alloc", 9100),
			u("numgc", 1), arr("pause_ns", 70, 80)),
		"allglen": u("", 8),
		"sched":   st("", st("gFree", i32("n", 2)), u("ngsys", 1)),
	}
	mid := map[string]symbols.Value{
		"gcController": st("", u("heapGoal", 4200), st("totalAlloc", st("_"), u("value", 9200))),
		"memstats":     st("", st("heapInUse", u("value", 1200)), u("numgc", 0), arr("pause_ns", 1, 2)),
		"allglen":      u("", 4),
		"sched":        st("", st("gFree", i32("n", 5))), // more free than made: unknown
	}
	noSched := map[string]symbols.Value{"memstats": old["memstats"], "allglen": u("", 3)}
	wrapped := map[string]symbols.Value{"memstats": st("", u("numgc", 4), arr("pause_ns", 11, 12, 13))}
	tests := []struct {
		name string
		vals map[string]symbols.Value
		want map[Stat]uint64 // statistics absent here are unknown
	}{
		{"go1.26", go126, map[Stat]uint64{HeapInUse: 1000, HeapObjects: 2 + 30 - 1 - 10 + 1 - 2, GCCycles: 6,
			LastPause: 8, Goroutines: 20 - 3 - 2 - 5, NextGC: 4000, TotalAlloc: 9000}},
		{"old memstats", old, map[Stat]uint64{HeapInUse: 1100, HeapObjects: 44, GCCycles: 1, LastPause: 70,
			Goroutines: 8 - 2 - 1, NextGC: 4100, TotalAlloc: 9100}},
		{"gcController without atomics", mid, map[Stat]uint64{HeapInUse: 1200, GCCycles: 0, LastPause: 0, NextGC: 4200, TotalAlloc: 9200}},
		{"no sched", noSched, map[Stat]uint64{HeapInUse: 1100, HeapObjects: 44, GCCycles: 1, LastPause: 70, NextGC: 4100, TotalAlloc: 9100}},
		{"pause ring wraps", wrapped, map[Stat]uint64{GCCycles: 4, LastPause: 11}},
		{"nothing", map[string]symbols.Value{}, map[Stat]uint64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := compute(tt.vals)
			for st := range numStats {
				v, ok := s.Get(st)
				w, known := tt.want[st]
				if ok != known || v != w {
					t.Errorf("%v = %d, %v; want %d, %v", st, v, ok, w, known)
				}
			}
		})
	}
}

func TestPoints(t *testing.T) {
	var s Stats
	s.set(GCCycles, 4)
	s.set(HeapInUse, 2048)
	got := s.Points()
	want := []Point{{Name: "go.heap_inuse", Unit: "B", Value: 2048}, {Name: "go.gc_cycles", Value: 4, Counter: true}}
	if len(got) != len(want) {
		t.Fatalf("Points() = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Points()[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	// The last pause is unknown: the line does not show one.
	if line := s.Line(); line != "heap 2.0KiB · gc 4" {
		t.Errorf("Line() = %q", line)
	}
}

func TestPointsGraphed(t *testing.T) {
	var s Stats
	for st := range numStats {
		s.set(st, 1)
	}
	var got []string
	for _, p := range s.Points(Graphed...) {
		got = append(got, p.Name)
	}
	want := "go.heap_inuse go.heap_objects go.gc_cycles go.gc_pause go.goroutines"
	if strings.Join(got, " ") != want {
		t.Errorf("Points(Graphed...) = %v, want %s", got, want)
	}
}
