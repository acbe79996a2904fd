package crash

import (
	"debug/elf"
	"io"

	"github.com/ukdev/ukdev/symbols"
)

// StackWord is one word of a raw stack dump: where it sits on the stack
// and what it holds.
type StackWord struct {
	Addr  uint64
	Value uint64
}

// codeAddr returns the address to look a frame's function and line up
// at: the faulting PC itself, or one byte before a return address, which
// is the call's last byte (a return address may be the first byte of the
// next function after a call that does not return).
func (c *Crash) codeAddr(f Frame) uint64 {
	if f.Addr != c.RIP && f.Addr > 0 {
		return f.Addr - 1
	}
	return f.Addr
}

// AddStackCallers turns a raw stack dump into frames when the report gave
// no frame trace (a program built without frame pointers): the callers
// that CallersInStack finds in c.Stack are appended to c.Frames. It
// returns how many frames it added: none when the report already had
// callers, no stack, or program is nil.
func (c *Crash) AddStackCallers(program *symbols.Table) int {
	if program == nil || len(c.Stack) == 0 {
		return 0
	}
	for _, f := range c.Frames {
		if f.Addr == 0 || f.Addr != c.RIP {
			return 0
		}
	}
	callers := CallersInStack(c.Stack, program)
	c.Frames = append(c.Frames, callers...)
	return len(callers)
}

// CallersInStack returns, innermost first, the frames that the words of a
// raw stack (innermost first) hold as return addresses into the program's
// text, named from program (which gives the text's addresses: a static
// program's, or any ELF loaded at its link addresses). A word is taken for
// a return address when the byte before it lies inside a sized function,
// the word is not itself a function's entry (a function pointer), and,
// when program's file holds its code, the instruction that ends just
// before it is a call. Words pointing elsewhere (the stack, data, shared
// libraries, the kernel) are skipped. Without frame pointers this is a
// heuristic: a stale return address left on the stack by an earlier call
// is found too.
func CallersInStack(stack []StackWord, program *symbols.Table) []Frame {
	if program == nil {
		return nil
	}
	entries := map[uint64]bool{}
	for _, s := range program.Symbols() {
		if s.Kind == symbols.Func {
			entries[s.Addr] = true
		}
	}
	text := openText(program.Path())
	if text != nil {
		defer text.close()
	}
	var frames []Frame
	for _, w := range stack {
		a := w.Value
		if a == 0 || entries[a] || isUpperHalf(a) {
			continue
		}
		s, _, ok := program.FuncAt(a - 1)
		if !ok || s.Size == 0 || a-1-s.Addr >= s.Size {
			continue
		}
		if text != nil && !text.callEndsAt(a) {
			continue
		}
		frames = append(frames, Frame{Addr: a, Func: s.Name, Offset: a - s.Addr})
	}
	return frames
}

// SymbolizeLines gives the program's frames their source file and line
// from lines (the DWARF line tables of the program's ELF); a return
// address gets the line of its call. Frames that already have a file
// (Go's traces) and kernel frames are left as they are. lines may be nil.
func (c *Crash) SymbolizeLines(lines *symbols.LineTable) {
	if lines == nil {
		return
	}
	for i := range c.Frames {
		f := &c.Frames[i]
		if f.Kernel || f.File != "" || f.Addr == 0 {
			continue
		}
		if file, line, ok := lines.LineFor(c.codeAddr(*f)); ok {
			f.File, f.Line = file, line
		}
	}
}

// isUpperHalf says whether addr is in the upper half of the address
// space, where kernels live.
func isUpperHalf(addr uint64) bool { return addr >= 0xffff800000000000 }

// elfText reads the executable sections of an ELF file.
type elfText struct {
	f    *elf.File
	secs []*elf.Section
}

// openText opens the ELF at path for reading its code; nil when it
// cannot (then return addresses are not checked for a call before them).
func openText(path string) *elfText {
	if path == "" {
		return nil
	}
	f, err := elf.Open(path)
	if err != nil {
		return nil
	}
	t := &elfText{f: f}
	for _, s := range f.Sections {
		if s.Flags&elf.SHF_EXECINSTR != 0 && s.Type == elf.SHT_PROGBITS {
			t.secs = append(t.secs, s)
		}
	}
	if len(t.secs) == 0 {
		// A debug-only file (objcopy --only-keep-debug) has no code.
		f.Close()
		return nil
	}
	return t
}

func (t *elfText) close() { t.f.Close() }

// callEndsAt says whether an x86-64 call instruction ends just before
// addr: a direct call (E8 rel32) or an indirect one (FF /2, through a
// register or memory, any addressing form). When the bytes cannot be
// read it says yes, so as not to lose a frame.
func (t *elfText) callEndsAt(addr uint64) bool {
	const maxCall = 7
	for _, s := range t.secs {
		if addr <= s.Addr || addr > s.Addr+s.Size {
			continue
		}
		start := max(s.Addr, addr-min(addr, maxCall))
		b := make([]byte, addr-start)
		if _, err := s.ReadAt(b, int64(start-s.Addr)); err != nil && err != io.EOF {
			return true
		}
		return endsWithCall(b)
	}
	return false
}

// endsWithCall says whether the bytes b end with a whole call
// instruction.
func endsWithCall(b []byte) bool {
	n := len(b)
	if n >= 5 && b[n-5] == 0xe8 {
		return true
	}
	for k := 2; k <= 7 && k <= n; k++ {
		if b[n-k] == 0xff && callLen(b[n-k+1:]) == k {
			return true
		}
	}
	return false
}

// callLen is the length of an FF /2 call whose ModRM byte (and what
// follows) is b, counting the FF; 0 when b's ModRM is not a call's.
func callLen(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	modrm := b[0]
	mod, reg, rm := modrm>>6, (modrm>>3)&7, modrm&7
	if reg != 2 {
		return 0
	}
	switch mod {
	case 3:
		return 2
	case 0:
		switch rm {
		case 4:
			if len(b) > 1 && b[1]&7 == 5 {
				return 7 // SIB without base: disp32
			}
			return 3
		case 5:
			return 6 // RIP-relative
		}
		return 2
	case 1:
		if rm == 4 {
			return 4
		}
		return 3
	default:
		if rm == 4 {
			return 7
		}
		return 6
	}
}
