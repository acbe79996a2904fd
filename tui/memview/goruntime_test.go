package memview

import (
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/tui/panel"
)

// goGuest builds a small Go program, skipping without the go command.
func goGuest(t *testing.T) string {
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

// memberAddr is the address of a flattened member of a variable.
func memberAddr(t *testing.T, tab *devloop.SymbolTable, name, member string) uint64 {
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
	t.Fatalf("%s has no member %q", name, member)
	return 0
}

// goLineOf is the header line about the Go runtime, "" when none.
func goLineOf(m *Model) string {
	for _, l := range strings.Split(plain(m), "\n") {
		if strings.HasPrefix(l, "go runtime: ") {
			return strings.TrimRight(l, " ")
		}
	}
	return ""
}

func TestMemViewGoRuntime(t *testing.T) {
	path := goGuest(t)
	tab, err := devloop.LoadSymbols(path)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeInspector{
		info:    devloop.VMInfo{Boot: 1, PID: 4242, MemoryMiB: 64, Symbols: path, SymbolSpace: devloop.SpaceVirtual},
		running: true,
		ram:     make(map[uint64]byte),
	}
	le := binary.LittleEndian
	f.poke(memberAddr(t, tab, "runtime.memstats", ".numgc"), le.AppendUint32(nil, 3))
	f.poke(memberAddr(t, tab, "runtime.allglen", ""), le.AppendUint64(nil, 5))
	f.poke(memberAddr(t, tab, "runtime.gcController", ".heapInUse"), le.AppendUint64(nil, 2<<20))
	f.poke(memberAddr(t, tab, "runtime.gcController", ".gcPercentHeapGoal.value"), le.AppendUint64(nil, 4<<20))
	m := newModel(f)
	m.SetSize(140, 30)
	refresh(t, m)
	want := "go runtime: heap 2.0MiB · 0 objs · gc 3 (pause 0ns) · 5 goroutines · next gc 4.0MiB"
	if got := goLineOf(m); got != want {
		t.Errorf("go line = %q, want %q\n%s", got, want, plain(m))
	}

	// The numbers move with the guest's memory.
	f.poke(memberAddr(t, tab, "runtime.memstats", ".numgc"), le.AppendUint32(nil, 4))
	drive(t, m, tickAt(800))
	if got := goLineOf(m); !strings.Contains(got, "gc 4") {
		t.Errorf("after a GC: go line = %q", got)
	}

	// A read that fails says so: no stale numbers.
	f.errs = map[string]error{"memsave": errors.New("memsave: not mapped")}
	drive(t, m, tickAt(1200))
	if got := goLineOf(m); strings.Contains(got, "heap") || !strings.Contains(got, "not mapped") {
		t.Errorf("failing reads: go line = %q", got)
	}
}

// A C program has no Go runtime line.
func TestMemViewNoGoRuntime(t *testing.T) {
	f, _ := newFake(t)
	m := newModel(f)
	m.SetSize(100, 30)
	refresh(t, m)
	if got := goLineOf(m); got != "" {
		t.Errorf("C guest: go line = %q", got)
	}
}

// tickAt is a tick ms milliseconds after epoch.
func tickAt(ms int) panel.TickMsg {
	return panel.TickMsg(epoch.Add(time.Duration(ms) * time.Millisecond))
}
