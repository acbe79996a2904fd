package goruntime

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ukdev/ukdev/symbols"
)

// liveSource is a program that sets up known runtime statistics, prints
// what the runtime itself says about them, and waits to be read.
const liveSource = `package main

import (
	"fmt"
	"os"
	"runtime"
	"time"
)

var keep [][]byte

func main() {
	for range 20 {
		go func() { select {} }()
	}
	for i := range 5000 {
		keep = append(keep, make([]byte, 64+i%512))
	}
	runtime.GC()
	runtime.GC()
	time.Sleep(50 * time.Millisecond) // the goroutines park
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("%d %d %d %d %d %d\n", ms.NumGC, ms.HeapInuse, ms.HeapObjects, runtime.NumGoroutine(), ms.PauseNs[(ms.NumGC+255)%256], ms.TotalAlloc)
	os.Stdout.Sync()
	select {}
}
`

// TestReadLiveProcess reads a running Go program's statistics through
// /proc/<pid>/mem (its addresses are its symbols': not PIE) and compares
// them with what the program's runtime.ReadMemStats said.
func TestReadLiveProcess(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not installed")
	}
	dir := t.TempDir()
	for name, text := range map[string]string{"main.go": liveSource, "go.mod": "module example.com/live\n\ngo 1.22\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "live")
	build := exec.Command(goCmd, "build", "-o", bin, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOFLAGS=", "GOMAXPROCS=1")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1", "GODEBUG=")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	var numGC, heapInuse, heapObjects, goroutines, pause, totalAlloc uint64
	if _, err := fmt.Sscan(line, &numGC, &heapInuse, &heapObjects, &goroutines, &pause, &totalAlloc); err != nil {
		t.Fatalf("program said %q: %v", line, err)
	}

	mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", cmd.Process.Pid))
	if err != nil {
		t.Skipf("cannot read the process's memory: %v", err)
	}
	defer mem.Close()
	tab, err := symbols.Load(bin)
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(tab)
	if err != nil {
		t.Fatal(err)
	}
	var data [][]byte
	for _, rg := range r.Ranges() {
		b := make([]byte, rg.Size)
		if _, err := mem.ReadAt(b, int64(rg.Addr)); err != nil {
			t.Skipf("cannot read the process's memory at %#x: %v", rg.Addr, err)
		}
		data = append(data, b)
	}
	s := r.Decode(data)
	get := func(st Stat) uint64 {
		v, ok := s.Get(st)
		if !ok {
			t.Errorf("%v unknown", st)
		}
		return v
	}
	// The program is idle: what ReadMemStats said holds, but for
	// ReadMemStats' own garbage and what the caches hold.
	if v := get(GCCycles); v != numGC {
		t.Errorf("gc cycles = %d, the runtime says %d", v, numGC)
	}
	if v := get(LastPause); v != pause {
		t.Errorf("last pause = %d, the runtime says %d", v, pause)
	}
	if v := get(HeapInUse); v < heapInuse/2 || v > heapInuse*2 {
		t.Errorf("heap in use = %d, the runtime says %d", v, heapInuse)
	}
	if v := get(HeapObjects); v < heapObjects || v > heapObjects+2000 {
		t.Errorf("heap objects = %d, the runtime says %d", v, heapObjects)
	}
	if v := get(Goroutines); v < goroutines || v > goroutines+4 {
		t.Errorf("goroutines = %d, the runtime says %d", v, goroutines)
	}
	if v := get(TotalAlloc); v < totalAlloc {
		t.Errorf("total alloc = %d, the runtime says %d", v, totalAlloc)
	}
	if _, ok := s.Get(NextGC); !ok {
		t.Error("next gc unknown")
	}
	t.Logf("read %s; the runtime said %s", s.Line(), strings.TrimSpace(line))
}
