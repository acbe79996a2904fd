package nanos

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ukdev/ukdev/crash"
	"github.com/ukdev/ukdev/guestexit"
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/symbols"
)

func readTranscript(t *testing.T, name string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimRight(string(data), "\n"), "\n")
}

func frameAddrs(fs []crash.Frame) []uint64 {
	var out []uint64
	for _, f := range fs {
		out = append(out, f.Addr)
	}
	return out
}

func TestParseConsoleTranscripts(t *testing.T) {
	tests := []struct {
		file      string
		found     bool
		kind      crash.Kind
		signal    int
		tid       int
		fault     uint64
		hasFault  bool
		rip       uint64
		offset    uint64
		addrs     []uint64
		funcs     []string
		message   string
		regs      map[string]uint64 // a few of the registers
		lastLines string            // the report's last line
		stack     []uint64          // the stack trace's words
	}{
		{
			file: "nanos-sigsegv.txt", found: true, kind: crash.Signal, signal: 11, tid: 2,
			fault: 0x10, hasFault: true, rip: 0x401136, offset: 0xffffffff7f600000,
			addrs:     []uint64{0x401136, 0x401162, 0x7ffff7db0d90, 0x401065},
			message:   "signal 11 received by tid 2, errno 0, code 1",
			regs:      map[string]uint64{"rsp": 0x7fffffffebb0, "r8": 0, "r15": 0x7ffff7ffd000, "fsbase": 0x7ffff7d8a740, "cs": 0x23},
			lastLines: "00007fffffffebb8:   0000000000401162",
			stack:     []uint64{0x7fffffffebd0, 0x401162},
		},
		{
			// Built without frame pointers: an empty frame trace, the
			// callers are among the stack trace's words.
			file: "nanos-sigsegv-nofp.txt", found: true, kind: crash.Signal, signal: 11, tid: 2,
			fault: 0x18, hasFault: true, rip: 0x401156, offset: 0xffffffff7f600000,
			addrs:     []uint64{0x401156},
			message:   "signal 11 received by tid 2, errno 0, code 1",
			regs:      map[string]uint64{"rsp": 0x7fffffffeb90, "rbp": 1, "r14": 0x403e18},
			lastLines: "00007fffffffebc8:   ffffffff80a12345",
			stack:     []uint64{0, 0x40118d, 0x7fffffffecd8, 0x402004, 1, 0x4011c3, 0x7ffff7db0d90, 0xffffffff80a12345},
		},
		{
			// Registers in another order, no blank lines, other threads'
			// output between the lines, a second report after the first.
			file: "nanos-sigsegv-interleaved.txt", found: true, kind: crash.Signal, signal: 11, tid: 3,
			fault: 0xdeadbeef, hasFault: true, rip: 0x401156, offset: 0xffffffff7f600000,
			addrs:     []uint64{0x401156},
			message:   "signal 11 received by tid 3, errno 0, code 2",
			regs:      map[string]uint64{"rsp": 0x7fffffffeb90, "rax": 0xdeadbeef, "rflags": 0x10246},
			lastLines: "0x00007fffffffebb8:   0x00000000004011c3",
			stack:     []uint64{0x40118d, 0x4011c3},
		},
		{
			// The console kept neither the frame trace nor the klibs.
			file: "nanos-sigsegv-truncated.txt", found: true, kind: crash.Signal, signal: 11, tid: 2,
			fault: 0x18, hasFault: true, rip: 0x401156,
			addrs:     []uint64{0x401156},
			message:   "signal 11 received by tid 2, errno 0, code 1",
			lastLines: "00007fffffffeb98:   000000000040118d",
			stack:     []uint64{0, 0x40118d},
		},
		{
			file: "nanos-gopanic.txt", found: true, kind: crash.GoPanic, signal: 11, fault: 0x8, hasFault: true, rip: 0x6a1b2c,
			funcs:     []string{"main.(*server).handle", "net/http.HandlerFunc.ServeHTTP"},
			message:   "panic: runtime error: invalid memory address or nil pointer dereference",
			lastLines: "\t/usr/local/go/src/net/http/server.go:3454 +0x485",
		},
		{
			file: "nanos-kernel-fault.txt", found: true, kind: crash.Kernel, fault: 0, rip: 0xffffffff80a12345,
			offset: 0xffffffff00000000, addrs: []uint64{0xffffffff80a12345, 0xffffffff80a23456, 0xffffffff80a01000},
			message: "kernel page fault", lastLines: "loaded klibs:",
		},
		{file: "nanos-oom.txt", found: true, kind: crash.Kernel, message: "kernel heap: out of memory", lastLines: "kernel heap: out of memory"},
		{file: "nanos-exit.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c, ok := ParseConsole(readTranscript(t, tt.file))
			if ok != tt.found {
				t.Fatalf("found = %v, want %v (%+v)", ok, tt.found, c)
			}
			if !ok {
				return
			}
			if c.Kind != tt.kind || c.Signal != tt.signal || c.TID != tt.tid || c.Message != tt.message {
				t.Errorf("kind %s signal %d tid %d message %q; want %s %d %d %q", c.Kind, c.Signal, c.TID, c.Message,
					tt.kind, tt.signal, tt.tid, tt.message)
			}
			if c.FaultAddr != tt.fault || c.HasFaultAddr != tt.hasFault || c.RIP != tt.rip || c.KernelOffset != tt.offset {
				t.Errorf("fault %#x (%v) rip %#x offset %#x; want %#x (%v) %#x %#x", c.FaultAddr, c.HasFaultAddr, c.RIP,
					c.KernelOffset, tt.fault, tt.hasFault, tt.rip, tt.offset)
			}
			if tt.addrs != nil && !reflect.DeepEqual(frameAddrs(c.Frames), tt.addrs) {
				t.Errorf("frame addresses %#x, want %#x", frameAddrs(c.Frames), tt.addrs)
			}
			if tt.funcs != nil {
				var funcs []string
				for _, f := range c.Frames {
					funcs = append(funcs, f.Func)
				}
				if !reflect.DeepEqual(funcs, tt.funcs) {
					t.Errorf("frame funcs %q, want %q", funcs, tt.funcs)
				}
			}
			for r, v := range tt.regs {
				if c.Registers[r] != v {
					t.Errorf("register %s = %#x, want %#x", r, c.Registers[r], v)
				}
			}
			if last := c.Lines[len(c.Lines)-1]; last != tt.lastLines {
				t.Errorf("report ends with %q, want %q", last, tt.lastLines)
			}
			var stack []uint64
			for _, w := range c.Stack {
				stack = append(stack, w.Value)
			}
			if !reflect.DeepEqual(stack, tt.stack) {
				t.Errorf("stack words %#x, want %#x", stack, tt.stack)
			}
			for _, l := range c.Lines {
				if strings.Contains(l, "worker") {
					t.Errorf("report has the program's output %q", l)
				}
			}
			if tt.kind == crash.Kernel {
				for _, f := range c.Frames {
					if !f.Kernel {
						t.Errorf("kernel crash frame %#x not marked kernel", f.Addr)
					}
				}
			}
		})
	}
}

func TestParseGoPanicFileLines(t *testing.T) {
	c, ok := ParseConsole(readTranscript(t, "nanos-gopanic.txt"))
	if !ok {
		t.Fatal("no crash")
	}
	want := []crash.Frame{
		{Func: "main.(*server).handle", File: "/home/me/app/server.go", Line: 41, Offset: 0x2c},
		{Func: "net/http.HandlerFunc.ServeHTTP", File: "/usr/local/go/src/net/http/server.go", Line: 2294, Offset: 0x29},
	}
	if !reflect.DeepEqual(c.Frames, want) {
		t.Errorf("frames\n%+v\nwant\n%+v", c.Frames, want)
	}
	if got := c.Summary(); got != "Go panic: runtime error: invalid memory address or nil pointer dereference in main.(*server).handle+0x2c (/home/me/app/server.go:41)" {
		t.Errorf("Summary = %q", got)
	}
}

// goCrasher panics in main.explode, called from main.main, at a known line.
const goCrasher = `package main

import (
	"fmt"
	"os"
)

//go:noinline
func explode(n int) {
	if n > 0 {
		panic(fmt.Sprintf("boom %d", n)) // line 11
	}
}

func main() {
	fmt.Println("hello from go")
	explode(len(os.Args)) // line 17
}
`

// buildGoProgram builds goCrasher as a static Go program.
func buildGoProgram(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not in PATH")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(goCrasher), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module crasher\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "crasher")
	cmd := exec.Command(goBin, "build", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

// TestNanosCrashRealGoProgram runs a real static Go program that panics,
// wraps its output in Nanos console lines, and symbolises the trace with
// the program's own symbol table; then it builds a Nanos signal report
// from the same program's addresses.
func TestCrashRealGoProgram(t *testing.T) {
	prog := buildGoProgram(t)
	syms, err := symbols.Load(prog)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(prog)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("program exit: %v, want status 2\n%s", err, out.String())
	}
	lines := []string{"[0.002871] en1: assigned 10.0.2.15"}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}

	t.Run("go panic", func(t *testing.T) {
		c, ok := ParseConsole(lines)
		if !ok || c.Kind != crash.GoPanic || c.Message != "panic: boom 1" {
			t.Fatalf("crash = %+v, %v\n%s", c, ok, strings.Join(lines, "\n"))
		}
		c.Symbolize(syms, nil)
		var explode, mainFrame *crash.Frame
		for i := range c.Frames {
			switch c.Frames[i].Func {
			case "main.explode":
				explode = &c.Frames[i]
			case "main.main":
				mainFrame = &c.Frames[i]
			}
		}
		if explode == nil || mainFrame == nil {
			t.Fatalf("frames %+v lack main.explode or main.main", c.Frames)
		}
		if filepath.Base(explode.File) != "main.go" || explode.Line != 11 || mainFrame.Line != 17 {
			t.Errorf("explode at %s:%d, main at %s:%d", explode.File, explode.Line, mainFrame.File, mainFrame.Line)
		}
		for _, f := range []*crash.Frame{explode, mainFrame} {
			s, _, ok := syms.FuncAt(f.Addr)
			if !ok || s.Name != f.Func || f.Offset == 0 {
				t.Errorf("frame %s: address %#x is in %q", f.Func, f.Addr, s.Name)
			}
		}
		e := Explain((&Kernel{}).Decode(image.Outcome{Kind: image.QEMUExited, Status: 5}), c)
		if e.Reason != guestexit.ReasonExit || e.Code != 2 || !strings.HasPrefix(e.Detail, "Go panic: boom 1 in main.explode+0x") {
			t.Errorf("Explain = %+v", e)
		}
	})

	t.Run("signal", func(t *testing.T) {
		mainSym, ok := syms.Lookup("main.main")
		explodeSym, ok2 := syms.Lookup("main.explode")
		if !ok || !ok2 {
			t.Fatal("no main.main or main.explode in the program")
		}
		const kernelOffset = 0xffffffff00000000
		transcript := fmt.Sprintf(`[0.002871] en1: assigned 10.0.2.15
*** signal 11 received by tid 1, errno 0, code 1
   fault address 0x0000000000000000
       rip: 0x%016x
       rsp: 0x000000c000050f40
frame trace:
000000c000050f48:   0x%016x
000000c000050f68:   0x%016x
kernel load offset %x
`, explodeSym.Addr+0x12, mainSym.Addr+0x20, kernelOffset+mainSym.Addr+4, uint64(kernelOffset))
		c, found := ParseConsole(strings.Split(transcript, "\n"))
		if !found {
			t.Fatal("no crash found")
		}
		// The program serves as the kernel's symbol table too: its
		// addresses moved into the upper half by the load offset.
		c.Symbolize(syms, syms)
		got := []string{c.Frames[0].String(), c.Frames[1].String(), c.Frames[2].String()}
		want := []string{"main.explode+0x12", "main.main+0x20", "main.main+0x4"}
		if !reflect.DeepEqual(got, want) || !c.Frames[2].Kernel || c.Frames[0].Kernel {
			t.Errorf("frames %q (%+v), want %q", got, c.Frames, want)
		}
		e := Explain((&Kernel{}).Decode(image.Outcome{Kind: image.QEMUExited, Status: 23}), c)
		wantExit := guestexit.Exit{Reason: guestexit.ReasonCrash, Detail: "SIGSEGV at fault address 0x0 in main.explode+0x12"}
		if e != wantExit {
			t.Errorf("Explain = %+v, want %+v", e, wantExit)
		}
	})
}

func TestExplain(t *testing.T) {
	sig := &crash.Crash{Kind: crash.Signal, Signal: 11, FaultAddr: 0x10, HasFaultAddr: true,
		Frames: []crash.Frame{{Addr: 0x401136, Func: "crash", Offset: 6}}}
	goPanic := &crash.Crash{Kind: crash.GoPanic, Message: "panic: boom", Frames: []crash.Frame{{Func: "runtime.gopanic"}, {Func: "main.main", File: "/a/main.go", Line: 3}}}
	kernel := &crash.Crash{Kind: crash.Kernel, Message: "kernel page fault"}
	exit := func(code int) guestexit.Exit {
		return guestexit.Exit{Reason: guestexit.ReasonExit, Code: code, HasCode: true}
	}
	tests := []struct {
		name string
		in   guestexit.Exit
		c    *crash.Crash
		want guestexit.Exit
	}{
		{"no crash", exit(3), nil, exit(3)},
		{"signal exit", exit(11), sig, guestexit.Exit{Reason: guestexit.ReasonCrash, Detail: "SIGSEGV at fault address 0x10 in crash+0x6"}},
		{"go panic", exit(2), goPanic, guestexit.Exit{Reason: guestexit.ReasonExit, Code: 2, HasCode: true, Detail: "Go panic: boom in main.main (/a/main.go:3)"}},
		{"go panic but another code", exit(1), goPanic, exit(1)},
		{"kernel fault", guestexit.Exit{Reason: guestexit.ReasonCrash, Detail: "Nanos kernel fault (QEMU status 253)"}, kernel,
			guestexit.Exit{Reason: guestexit.ReasonCrash, Detail: "Nanos kernel: kernel page fault"}},
		{"qemu error stays", guestexit.Exit{Reason: guestexit.ReasonQEMUError, Detail: "x"}, sig, guestexit.Exit{Reason: guestexit.ReasonQEMUError, Detail: "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Explain(tt.in, tt.c); got != tt.want {
				t.Errorf("Explain = %+v, want %+v", got, tt.want)
			}
		})
	}
}
