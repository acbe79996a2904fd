package unikraft

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ukdev/ukdev/crash"
	"github.com/ukdev/ukdev/guestexit"
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/image/imagetest"
	"github.com/ukdev/ukdev/symbols"
)

func TestParseConsole(t *testing.T) {
	tests := []struct {
		file    string
		kind    crash.Kind
		message string
		rip     uint64
		regs    map[string]uint64 // a few registers to check
		frames  []uint64
		fault   uint64 // the faulting address, when hasFault
		// hasFault says the report prints the faulting address.
		hasFault bool
	}{
		{
			file: "unikraft-trap.txt", kind: CrashTrap,
			message: "Unhandled Trap 6 (invalid opcode), error code=0x0",
			rip:     0x109a2b,
			regs:    map[string]uint64{"rsp": 0x1ffe10, "rbp": 0x1ffe30, "cs": 8, "ss": 0x10, "eflags": 0x10246, "rcx": 0xa, "r09": 0x10},
			frames:  []uint64{0x109a2b, 0x109b10, 0x1061c4},
		},
		{
			file: "unikraft-crashscreen.txt", kind: CrashTrap,
			message: "Unhandled Trap 14 (page fault), error code=0x2",
			rip:     0x109a2b,
			regs:    map[string]uint64{"rsp": 0x3fe1ff10, "cs": 8, "ss": 0x10, "orig_rax": 0xffffffffffffffff, "rcx": 0xa, "rdi": 1, "r09": 0x10},
			frames:  []uint64{0x109a2b, 0x109b0f, 0x1061c3},
		},
		{
			file: "unikraft-assert.txt", kind: CrashAssertion,
			message: "Assertion failure: buf != NULL (main.c:17)",
			frames:  []uint64{0x109b10, 0x1061c4},
		},
		{
			// 0.17: no trap line, registers, the walk, hex dumps.
			file: "unikraft-pagefault.txt", kind: CrashPageFault, message: "page fault",
			rip:    0x10b1c3,
			regs:   map[string]uint64{"rsp": 0x11f10, "rax": 0x10, "rbp": 0x11f40, "r09": 0x10, "eflags": 0x10246},
			frames: []uint64{0x10b1c3, 0x11ee2d, 0x1061c4},
		},
		{
			// Registers in another order, the program's output between
			// the report's lines.
			file: "unikraft-pagefault-reordered.txt", kind: CrashPageFault, message: "page fault",
			rip:    0x10b1c3,
			regs:   map[string]uint64{"rax": 0xdeadbeef, "rsp": 0x11f10, "cs": 8, "r15": 0},
			frames: []uint64{0x10b1c3, 0x11ee2d, 0x10a010, 0x1061c4},
		},
		{
			// The console lost the RIP line and everything after the
			// first hex dump line.
			file: "unikraft-pagefault-truncated.txt", kind: CrashPageFault, message: "page fault",
			regs:   map[string]uint64{"rsp": 0x11f10},
			frames: []uint64{0x11ee2d},
		},
		{
			// No timestamps, no source locations, colours, a thread
			// name, the dump starting at R13, CR2 printed.
			file: "unikraft-pagefault-plain.txt", kind: CrashPageFault, message: "page fault",
			rip:    0x200a10,
			regs:   map[string]uint64{"rsp": 0xfe1ff10, "r13": 0, "cr2": 0x20},
			frames: []uint64{0x200a10, 0x200b27},
			fault:  0x20, hasFault: true,
		},
		{
			// A second fault while crashing: the first report is the one,
			// and it takes the address printed before it.
			file: "unikraft-pagefault-twice.txt", kind: CrashPageFault, message: "page fault",
			rip:    0x10b1c3,
			regs:   map[string]uint64{"rsp": 0x11f10},
			frames: []uint64{0x10b1c3, 0x11ee2d},
			fault:  0x18, hasFault: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c, ok := ParseConsole(readLines(t, tt.file))
			if !ok {
				t.Fatal("no crash found")
			}
			if c.Kind != tt.kind || c.Message != tt.message || c.RIP != tt.rip {
				t.Errorf("crash = %s %q RIP %#x, want %s %q RIP %#x", c.Kind, c.Message, c.RIP, tt.kind, tt.message, tt.rip)
			}
			for r, v := range tt.regs {
				if c.Registers[r] != v {
					t.Errorf("register %s = %#x, want %#x", r, c.Registers[r], v)
				}
			}
			var got []uint64
			for _, f := range c.Frames {
				got = append(got, f.Addr)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.frames) {
				t.Errorf("frames = %#x, want %#x", got, tt.frames)
			}
			if len(c.Lines) == 0 || strings.Contains(strings.Join(c.Lines, "\n"), "Unikraft halted") {
				t.Errorf("report lines = %q", c.Lines)
			}
			if c.FaultAddr != tt.fault || c.HasFaultAddr != tt.hasFault {
				t.Errorf("fault address = %#x (%v), want %#x (%v)", c.FaultAddr, c.HasFaultAddr, tt.fault, tt.hasFault)
			}
		})
	}

	for _, f := range []string{"unikraft-hello.txt", "unikraft-hwrng.txt", "unikraft-ukcrash.txt", "unikraft-ukcrash-nohalt.txt"} {
		if c, ok := ParseConsole(readLines(t, f)); ok {
			t.Errorf("%s: found a crash: %+v", f, c)
		}
	}
	// A program's own output that looks like registers or a memory dump.
	own := []string{"Calling main", "RAX: 1", "RSP: 7fff", "10: 00 01 02", "Crashing is fun", "halted"}
	if c, ok := ParseConsole(own); ok {
		t.Errorf("program output: found a crash: %+v", c)
	}
}

func TestParseConsoleGenericCrash(t *testing.T) {
	tests := []struct {
		name    string
		lines   []string
		message string
	}{
		{"UK_CRASH message before the crash screen", []string{
			"[    0.2] CRIT: [libvfscore] <main.c @ 40> Failed to mount /: -22",
			"Unikraft Crash - Pan (0.17.0)",
			"Registers:",
			" rip: 0008:0000000000101000",
		}, "Failed to mount /: -22"},
		{"crash screen alone", []string{"Unikraft Crash - Pan (0.17.0)", "Registers:", " rip: 0008:0000000000101000"}, "Unikraft Crash - Pan (0.17.0)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := ParseConsole(tt.lines)
			if !ok {
				t.Fatal("no crash found")
			}
			if c.Kind != crash.Kernel || c.Message != tt.message || c.RIP != 0x101000 {
				t.Errorf("crash = %s %q RIP %#x, want kernel %q RIP 0x101000", c.Kind, c.Message, c.RIP, tt.message)
			}
		})
	}
}

func TestParseCrashMessage(t *testing.T) {
	tests := []struct {
		name    string
		lines   []string
		message string
		frame   string // the frame's String, "" for none
	}{
		{"UK_CRASH before the halt", readLines(t, "unikraft-ukcrash.txt"), "boom (main.c:30)", "main.c:30"},
		{"no halt line, a thread name, output after it", readLines(t, "unikraft-ukcrash-nohalt.txt"),
			"Failed to mount initrd at /data: -2 (rootfs.c:118)", "rootfs.c:118"},
		{"without source locations", []string{"CRIT: [appx] out of buffers", "Unikraft halted"}, "out of buffers", ""},
		{"the last critical message, not furniture after it", []string{
			"[ 0.1] CRIT: [appx] <a.c @ 7> first",
			"[ 0.2] CRIT: [appx] <b.c @ 9> second",
			"[ 0.3] CRIT: [libkvmplat] <traps.c @ 113> Crashing",
			"Unikraft halted",
			"[ 0.4] CRIT: [appx] <c.c @ 1> after the halt",
		}, "second (b.c:9)", "b.c:9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := ParseCrashMessage(tt.lines)
			if !ok {
				t.Fatal("no message found")
			}
			if c.Kind != CrashMessage || c.Message != tt.message || c.Summary() != tt.message {
				t.Errorf("crash = %s %q (summary %q), want %q", c.Kind, c.Message, c.Summary(), tt.message)
			}
			var frame string
			if len(c.Frames) > 0 {
				frame = c.Frames[0].String()
			}
			if frame != tt.frame || len(c.Frames) > 1 {
				t.Errorf("frames = %v, want %q", c.Frames, tt.frame)
			}
		})
	}
	for _, f := range []string{"unikraft-hello.txt"} {
		if c, ok := ParseCrashMessage(readLines(t, f)); ok {
			t.Errorf("%s: found %+v", f, c)
		}
	}
	// A critical message that Unikraft went on after (a triple fault
	// later) is not the crash's.
	later := []string{"[ 0.1] CRIT: [appx] <a.c @ 7> heap not aligned", "[ 0.2] Info: [libukboot] <boot.c @ 277> Calling main(1, ['x'])", "hi"}
	if c, ok := ParseCrashMessage(later); ok {
		t.Errorf("an early critical message: found %+v", c)
	}
}

func TestExplain(t *testing.T) {
	ukcrash := readLines(t, "unikraft-ukcrash.txt")
	earlyCrit := []string{"[ 0.1] CRIT: [appx] <a.c @ 7> heap not aligned", "[ 0.2] Info: [libukboot] <boot.c @ 277> Calling main(1, ['x'])"}
	reset := guestexit.Exit{Reason: guestexit.ReasonCrash, Detail: "triple fault or guest reset; VM paused for inspection"}
	pagefault := readLines(t, "unikraft-pagefault-twice.txt")
	crash := readLines(t, "unikraft-trap.txt")
	hwrng := readLines(t, "unikraft-hwrng.txt")
	hello := readLines(t, "unikraft-hello.txt")
	halted := guestexit.Exit{Reason: guestexit.ReasonExit, HasCode: true, Detail: "Unikraft halted"}
	crashed := guestexit.Exit{Reason: guestexit.ReasonCrash, Detail: "Unikraft crashed (QEMU status 85)"}
	tests := []struct {
		name      string
		e         guestexit.Exit
		console   []string
		want      guestexit.Exit
		wantCrash bool
	}{
		{"clean exit stays clean", halted, hello, halted, false},
		{"HWRNG failure after a clean-looking exit", halted, hwrng,
			guestexit.Exit{Reason: guestexit.ReasonQEMUError, Detail: HWRNGDetail + " (Could not initialize the HWRNG (-95))"}, false},
		{"HWRNG failure after a crash exit", crashed, hwrng,
			guestexit.Exit{Reason: guestexit.ReasonQEMUError, Detail: HWRNGDetail + " (Could not initialize the HWRNG (-95))"}, false},
		{"crash report after status 85", crashed, crash,
			guestexit.Exit{Reason: guestexit.ReasonCrash, Detail: "Unikraft: Unhandled Trap 6 (invalid opcode), error code=0x0"}, true},
		{"crash report after a power-off", halted, crash,
			guestexit.Exit{Reason: guestexit.ReasonCrash, Detail: "Unikraft: Unhandled Trap 6 (invalid opcode), error code=0x0"}, true},
		{"crash report with pvpanic", guestexit.Exit{Reason: guestexit.ReasonPanic}, crash,
			guestexit.Exit{Reason: guestexit.ReasonPanic, Detail: "Unikraft: Unhandled Trap 6 (invalid opcode), error code=0x0"}, true},
		{"UK_CRASH after status 85", crashed, ukcrash,
			guestexit.Exit{Reason: guestexit.ReasonCrash, Detail: "Unikraft: boom (main.c:30)"}, true},
		{"UK_CRASH with pvpanic", guestexit.Exit{Reason: guestexit.ReasonPanic}, ukcrash,
			guestexit.Exit{Reason: guestexit.ReasonPanic, Detail: "Unikraft: boom (main.c:30)"}, true},
		{"a critical message before a clean halt is no crash", halted, ukcrash, halted, false},
		{"a triple fault after an early critical message keeps its detail", reset, earlyCrit, reset, false},
		{"page fault without a trap line", crashed, pagefault,
			guestexit.Exit{Reason: guestexit.ReasonCrash, Detail: "Unikraft: page fault at fault address 0x18"}, true},
		{"QEMU error stays", guestexit.Exit{Reason: guestexit.ReasonQEMUError, Detail: "x"}, crash, guestexit.Exit{Reason: guestexit.ReasonQEMUError, Detail: "x"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, c := Explain(tt.e, tt.console, nil, nil)
			if got != tt.want {
				t.Errorf("exit = %+v\nwant   %+v", got, tt.want)
			}
			if (c != nil) != tt.wantCrash {
				t.Errorf("crash = %+v, want one: %v", c, tt.wantCrash)
			}
		})
	}
}

// exampleKernel builds examples/hello in a temporary copy and splits it the
// way a Unikraft build does: a fully stripped image to boot and a .dbg
// beside it with the symbols and DWARF.
func exampleKernel(t *testing.T) (kernelImage, dbg, src string) {
	t.Helper()
	for _, tool := range []string{"make", "gcc", "objcopy", "strip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: %v", tool, err)
		}
	}
	src = t.TempDir()
	for _, f := range []string{"Makefile", "boot.S", "main.c", "x86.c", "x86.h", "linker.ld"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "examples", "hello", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = src
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	run("make", "-s", "CC=gcc")
	kernelImage = filepath.Join(src, "build", "hello_qemu-x86_64")
	dbg = kernelImage + ".dbg"
	run("objcopy", "--only-keep-debug", "build/hello.elf", dbg)
	run("strip", "--strip-all", "-o", kernelImage, "build/hello.elf")
	return kernelImage, dbg, src
}

// copyAway copies the kernel image at path into a new directory, where
// no debug file stands beside it, and returns the copy's path.
func copyAway(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return imagetest.WriteTemp(t, "other_qemu-x86_64", b)
}

// lineOf returns the 1-based number of the first line of file containing s.
func lineOf(t *testing.T, file, s string) int {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if strings.Contains(sc.Text(), s) {
			return n
		}
	}
	t.Fatalf("%s: no line contains %q", file, s)
	return 0
}

func TestWithExampleKernel(t *testing.T) {
	kernelImage, dbg, src := exampleKernel(t)
	if _, err := symbols.Load(kernelImage); !errors.Is(err, symbols.ErrNoTable) {
		t.Fatalf("symbols.Load(stripped image) = %v, want symbols.ErrNoTable", err)
	}
	if _, err := symbols.LoadLineTable(kernelImage); !errors.Is(err, symbols.ErrNoLineTable) {
		t.Fatalf("symbols.LoadLineTable(stripped image) = %v, want symbols.ErrNoLineTable", err)
	}
	syms, err := symbols.Load(dbg)
	if err != nil {
		t.Fatal(err)
	}
	kmain, ok := syms.Lookup("kmain")
	if !ok {
		t.Fatal("no kmain in the .dbg")
	}
	kmainLine := lineOf(t, filepath.Join(src, "main.c"), "void kmain(")

	u, err := New(Options{KernelArgs: "env.vars=[A=1]", AppArgs: "-v"})
	if err != nil {
		t.Fatal(err)
	}
	img, err := u.Prepare(t.Context(), &image.Store{Dir: filepath.Join(t.TempDir(), "store"), Keep: 2}, 4, image.Artifacts{Kernel: kernelImage, Cmdline: "ignored"})
	if err != nil {
		t.Fatal(err)
	}
	if img.Machine != "pc" || !img.DebugExit || !img.PVPanic || img.Cmdline != "env.vars=[A=1] -- -v" {
		t.Errorf("image = %+v", img)
	}
	if img.Symbols == "" || img.Symbols == img.Kernel || filepath.Dir(img.Symbols) != filepath.Dir(img.Kernel) {
		t.Errorf("symbols = %q, want a copy of the .dbg beside the kernel copy %q", img.Symbols, img.Kernel)
	}

	// A made-up trap in kmain, called from kmain+0x10 (a return address).
	console := []string{
		"Booting from ROM..",
		"[    0.105911] CRIT: [libkvmplat] <traps.c @   84> Unhandled Trap 13 (general protection), error code=0x0",
		fmt.Sprintf("[    0.106301] CRIT: [libkvmplat] <trace.c @   39> RIP: %016x CS: 0008", kmain.Addr),
		fmt.Sprintf("[    0.106601] CRIT: [libkvmplat] <trace.c @   79> base is 0x1ffe30 caller is %#x", kmain.Addr+0x10),
		"[    0.106712] CRIT: [libkvmplat] <traps.c @   88> Crashing",
	}
	e, c := u.Explain(u.Decode(image.Outcome{Kind: image.QEMUExited, Status: 85}), console, img)
	if c == nil || len(c.Frames) != 2 {
		t.Fatalf("crash = %+v, want two frames", c)
	}
	top := c.Frames[0]
	// GCC gives a function's first instruction the line of its declarator
	// or of its opening brace.
	if top.Func != "kmain" || top.Offset != 0 || filepath.Base(top.File) != "main.c" || top.Line < kmainLine || top.Line > kmainLine+1 {
		t.Errorf("RIP frame = %s, want kmain (main.c:%d or %d)", top, kmainLine, kmainLine+1)
	}
	caller := c.Frames[1]
	if caller.Func != "kmain" || caller.Offset != 0x10 || filepath.Base(caller.File) != "main.c" || caller.Line < kmainLine {
		t.Errorf("caller frame = %s, want kmain+0x10 (main.c:>=%d)", caller, kmainLine)
	}
	want := fmt.Sprintf("Unikraft: Unhandled Trap 13 (general protection), error code=0x0 in kmain (%s:%d)", top.File, top.Line)
	if e.Reason != guestexit.ReasonCrash || e.Detail != want {
		t.Errorf("exit = %+v, want crash %q", e, want)
	}

	t.Run("page fault without a trap line", func(t *testing.T) {
		console := []string{
			"[    0.104881] Info: [libukboot] <boot.c @  277> Calling main(1, ['hello'])",
			"[    0.106301] CRIT: [libkvmplat] <trace.c @   42> RAX: 0000000000000010 RBX: 0000000000000000 RCX: 0000000000000000",
			fmt.Sprintf("[    0.106302] CRIT: [libkvmplat] <trace.c @   39> RIP: %016x CS: 0008", kmain.Addr),
			fmt.Sprintf("[    0.106601] CRIT: [libkvmplat] <trace.c @   79> base is 0x1ffe30 caller is %#x", kmain.Addr+0x10),
			"[    0.106602] CRIT: [libkvmplat] <trace.c @   79> base is 0x1ffe70 caller is 0",
			"[    0.106701] CRIT: [libkvmplat] <trace.c @   66> 1ffe10: 40 1f 01 00 00 00 00 00 c7 f2 10 00 00 00 00 00",
			"[    0.106712] CRIT: [libkvmplat] <traps.c @  113> Crashing",
			"Unikraft halted",
		}
		e, c := u.Explain(u.Decode(image.Outcome{Kind: image.QEMUExited, Status: 85}), console, img)
		if c == nil || len(c.Frames) != 2 || c.Frames[0].Func != "kmain" || c.Frames[0].File == "" {
			t.Fatalf("crash = %+v, want kmain with its line, and its caller", c)
		}
		want := fmt.Sprintf("Unikraft: page fault in kmain (%s:%d)", c.Frames[0].File, c.Frames[0].Line)
		if e.Reason != guestexit.ReasonCrash || e.Detail != want {
			t.Errorf("exit = %+v, want crash %q", e, want)
		}
	})

	t.Run("explicit debug file", func(t *testing.T) {
		u, err := New(Options{Debug: dbg})
		if err != nil {
			t.Fatal(err)
		}
		other := copyAway(t, kernelImage)
		img, err := u.Prepare(t.Context(), &image.Store{Dir: filepath.Join(t.TempDir(), "store"), Keep: 1}, 1, image.Artifacts{Kernel: other, Cmdline: "-- hi"})
		if err != nil {
			t.Fatal(err)
		}
		if img.Cmdline != "-- hi" {
			t.Errorf("cmdline = %q, want the artifacts' when no arguments are configured", img.Cmdline)
		}
		if _, err := symbols.LoadLineTable(img.Symbols); err != nil {
			t.Errorf("symbols %q: %v", img.Symbols, err)
		}
	})

	t.Run("no debug file", func(t *testing.T) {
		other := copyAway(t, kernelImage)
		img, err := (&Kernel{}).Prepare(t.Context(), &image.Store{Dir: filepath.Join(t.TempDir(), "store"), Keep: 1}, 1, image.Artifacts{Kernel: other})
		if err != nil {
			t.Fatal(err)
		}
		// Without symbols the crash is still reported, unnamed.
		e, c := (&Kernel{}).Explain(guestexit.Exit{Reason: guestexit.ReasonCrash}, console, img)
		if c == nil || c.Frames[0].Func != "" || e.Reason != guestexit.ReasonCrash {
			t.Errorf("exit %+v, crash %+v", e, c)
		}
	})
}
