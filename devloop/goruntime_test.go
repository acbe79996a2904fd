package devloop

import (
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ukdev/ukdev/metrics"
)

// buildGoProgram builds a small Go program with the installed go command,
// skipping without one.
func buildGoProgram(t *testing.T) string {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not installed")
	}
	dir := t.TempDir()
	files := map[string]string{
		"main.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hi\") }\n",
		"go.mod":  "module example.com/rt\n\ngo 1.22\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "rt")
	cmd := exec.Command(goCmd, "build", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

func TestGoStatsSample(t *testing.T) {
	path := buildGoProgram(t)
	tab, err := LoadSymbols(path)
	if err != nil {
		t.Fatal(err)
	}
	m := newFakeMemory(t, path, SpaceVirtual)
	le := binary.LittleEndian
	m.poke(t, field(t, tab, "runtime.memstats", ".numgc"), le.AppendUint32(nil, 2))
	m.poke(t, field(t, tab, "runtime.allglen", ""), le.AppendUint64(nil, 6))
	m.poke(t, field(t, tab, "runtime.gcController", ".heapInUse"), le.AppendUint64(nil, 1<<20))
	g := &goStats{ops: memOps{src: m, tables: &memTables{}}}

	pts, err := g.Sample(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got := make(map[string]metrics.GuestPoint)
	for _, p := range pts {
		got[p.Name] = p
	}
	want := []metrics.GuestPoint{
		{Name: "go.heap_inuse", Unit: "B", Value: 1 << 20},
		{Name: "go.heap_objects"},
		{Name: "go.gc_cycles", Value: 2, Counter: true},
		{Name: "go.gc_pause", Unit: "ns"},
		{Name: "go.goroutines", Value: 6},
	}
	for _, w := range want {
		if got[w.Name] != w {
			t.Errorf("%s = %+v, want %+v", w.Name, got[w.Name], w)
		}
	}
	if len(pts) != len(want) {
		t.Errorf("Sample() = %+v: %d points, want %d", pts, len(pts), len(want))
	}
	// A few small reads: the runtime's variables, each read once.
	if n := len(m.reads); n < 2 || n > 6 { // the image check reads once too
		t.Errorf("reads = %q", m.reads)
	}

	// Reads that fail say so; no stale numbers.
	m.err = errors.New("memsave failed")
	if pts, err := g.Sample(t.Context()); err == nil || len(pts) != 0 {
		t.Errorf("Sample() with failing reads = %+v, %v; want an error", pts, err)
	}
	// No VM: ErrNoVM.
	m.err, m.running = nil, false
	if _, err := g.Sample(t.Context()); !errors.Is(err, ErrNoVM) {
		t.Errorf("Sample() without a VM: %v, want ErrNoVM", err)
	}
}

// A program that is not Go gives no points and no error.
func TestGoStatsNotGo(t *testing.T) {
	path := buildMemELF(t)
	m := newFakeMemory(t, path, SpacePhysical)
	g := &goStats{ops: memOps{src: m, tables: &memTables{}}}
	pts, err := g.Sample(t.Context())
	if err != nil || len(pts) != 0 {
		t.Errorf("Sample(C program) = %+v, %v; want nothing", pts, err)
	}
}
