// Package crash holds what a guest's console says about a crash, apart
// from any flavor: the crash, its stack frames, and their symbolisation
// from the program's and the kernel's symbols. Each flavor parses its own
// console into a Crash; the views show it.
package crash

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ukdev/ukdev/symbols"
)

// Kind says what crashed in a guest.
type Kind string

// The kinds of crash shared by the flavors; a flavor may add its own
// (Unikraft's traps and assertions).
const (
	// Signal: the program received a fatal signal (a fault); the kernel
	// printed the signal, the fault address, the registers and a frame
	// trace.
	Signal Kind = "signal"
	// GoPanic: a Go program panicked and printed Go's trace.
	GoPanic Kind = "go-panic"
	// Kernel: the kernel itself faulted or halted.
	Kernel Kind = "kernel"
)

// Frame is one entry of a crash's stack, symbolised where possible.
type Frame struct {
	// Addr is the code address; 0 when the trace gave none (Go traces
	// give a function and an offset, resolved to Addr by Symbolize).
	Addr uint64
	// Func is the function's name, "" when unknown.
	Func string
	// Offset is Addr's offset into Func.
	Offset uint64
	// File and Line locate the frame in the source, when the trace says.
	File string
	Line int
	// Kernel is true for an address in the kernel, not the program.
	Kernel bool
}

// String renders the frame like a debugger: "main.main+0x1d
// (/src/main.go:12)", or the bare address; a frame that is only a source
// location (a kernel's message printed with its file and line) is
// "main.c:30".
func (f Frame) String() string {
	if f.Addr == 0 && f.Func == "" && f.File != "" {
		return fmt.Sprintf("%s:%d", f.File, f.Line)
	}
	s := fmt.Sprintf("%#x", f.Addr)
	if f.Func != "" {
		s = f.Func
		if f.Offset != 0 {
			s += fmt.Sprintf("+%#x", f.Offset)
		}
	}
	if f.File != "" {
		s += fmt.Sprintf(" (%s:%d)", f.File, f.Line)
	}
	return s
}

// Crash is what a console transcript says about a crash.
type Crash struct {
	Kind Kind
	// Message is the first line of the report: the panic's message,
	// "signal 11 received by tid 2", the kernel's fault line.
	Message string
	// Signal is the signal number (11 for SIGSEGV), 0 when none.
	Signal int
	// TID is the thread that received the signal.
	TID int
	// FaultAddr is the faulting data address, when HasFaultAddr.
	FaultAddr    uint64
	HasFaultAddr bool
	// RIP is the faulting instruction, 0 when unknown.
	RIP uint64
	// Registers holds the register dump by lower-case name ("rip", "rsp").
	Registers map[string]uint64
	// KernelOffset is the printed kernel load offset: a kernel symbol's
	// address is its ELF address plus this.
	KernelOffset uint64
	// Frames are the stack, innermost first.
	Frames []Frame
	// Stack holds the words of a raw stack dump, innermost first, when
	// the report printed one (Nanos' "stack trace:"); AddStackCallers
	// finds the callers in it.
	Stack []StackWord
	// Lines are the transcript lines of the report, prefixes removed.
	Lines []string
}

// SignalName names a Linux signal number ("SIGSEGV"), or "signal N".
func SignalName(n int) string {
	names := map[int]string{1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT",
		7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE",
		14: "SIGALRM", 15: "SIGTERM", 31: "SIGSYS"}
	if s, ok := names[n]; ok {
		return s
	}
	return "signal " + strconv.Itoa(n)
}

// Symbolize names the crash's program frames from the program's symbols
// (a static program runs at its link addresses, so they apply as they
// are; a return address is named by the call before it, its offset kept
// relative to the printed address) and, when kernel is not nil, its
// kernel frames from the kernel's symbols moved by the printed load
// offset (KernelOffset). For Go frames that have a name and an offset but
// no address it fills in the address.
func (c *Crash) Symbolize(program, kernel *symbols.Table) {
	for i := range c.Frames {
		f := &c.Frames[i]
		switch {
		case f.Addr == 0 && f.Func != "" && program != nil:
			if s, ok := program.Lookup(f.Func); ok {
				f.Addr = s.Addr + f.Offset
			}
		case f.Kernel && kernel != nil:
			if s, off, ok := kernel.FuncAt(f.Addr - c.KernelOffset); ok {
				f.Func, f.Offset = s.Name, off
			}
		case !f.Kernel && program != nil && f.Func == "" && f.Addr != 0:
			at := c.codeAddr(*f)
			if s, off, ok := program.FuncAt(at); ok && (s.Size == 0 || off < s.Size) {
				f.Func, f.Offset = s.Name, f.Addr-s.Addr
			}
		}
	}
}

// Summary is one line for people: "SIGSEGV at fault address 0x0 in
// main.crash+0x12", "Go panic: runtime error: ...", "kernel fault ...".
func (c *Crash) Summary() string {
	var s string
	switch c.Kind {
	case Signal:
		s = SignalName(c.Signal)
	case GoPanic:
		s = "Go " + c.Message
	default:
		s = c.Message
	}
	if c.HasFaultAddr && c.Kind != GoPanic {
		s += fmt.Sprintf(" at fault address %#x", c.FaultAddr)
	}
	if f, ok := c.topFrame(); ok {
		s += " in " + f.String()
	}
	return s
}

// topFrame is the innermost named frame outside Go's runtime (which
// raises panics and signals on the program's behalf), else the innermost
// named one.
func (c *Crash) topFrame() (Frame, bool) {
	var first *Frame
	for i := range c.Frames {
		f := &c.Frames[i]
		if f.Func == "" {
			continue
		}
		if first == nil {
			first = f
		}
		if !strings.HasPrefix(f.Func, "runtime.") {
			return *f, true
		}
	}
	if first != nil {
		return *first, true
	}
	return Frame{}, false
}
