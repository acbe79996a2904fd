package crashview

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"golang.org/x/arch/x86/x86asm"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/tui/panel"
)

// What the view reads of the frozen machine.
const (
	// codeBefore and codeAfter are the instructions shown before the
	// faulting PC and from it on.
	codeBefore, codeAfter = 6, 6
	// codeLead is how far before the PC the code read starts when the
	// PC's function is unknown or starts further back: x86 code cannot
	// be decoded backwards, so the decode starts there and must land on
	// the PC.
	codeLead = 48
	// codeTail is how much code after the PC is read: codeAfter
	// instructions of at most 15 bytes.
	codeTail = codeAfter * 15
	// stackWords is how many words from the stack pointer up are read.
	stackWords = 128
	// stackShown is the most stack words pointing into code shown.
	stackShown = 24
	// readTimeout bounds all the reads of one snapshot.
	readTimeout = 10 * time.Second
)

// symLoc is an address symbolised: its function and offset, and its
// source line when the line table has one.
type symLoc struct {
	fn   string
	off  uint64
	file string
	line int
}

// String renders the location as "kmain+0x9da (main.c:228)": the file's
// base name, the whole path being for the editor.
func (s symLoc) String() string {
	out := s.fn
	if s.off != 0 {
		out += fmt.Sprintf("+%#x", s.off)
	}
	if s.file != "" {
		if out != "" {
			out += " "
		}
		out += fmt.Sprintf("(%s:%d)", filepath.Base(s.file), s.line)
	}
	return out
}

// codeLine is one disassembled instruction.
type codeLine struct {
	addr uint64
	at   string // its function and offset, "" when unknown
	text string // GNU syntax, as gdb and objdump print it
	pc   bool   // the faulting instruction
}

// stackWord is a word of the stack that points into code: a return
// address, or a function pointer.
type stackWord struct {
	off   uint64 // from the stack pointer
	value uint64
	loc   symLoc
}

// snapshot is what the view read of the machine, once per opening.
type snapshot struct {
	boot int
	// live: a machine was there to read (frozen or running).
	live    bool
	regs    devloop.Registers
	regsErr error
	mode    int // 16, 32 or 64 (bits), from the registers
	pc      symLoc
	code    []codeLine
	codeErr error
	stack   []stackWord
	// stackErr says why the stack could not be read.
	stackErr error
	// symErr says why the program's symbols could not be read.
	symErr error
}

// snapshotMsg carries a snapshot to Update.
type snapshotMsg snapshot

// symbolizer names code addresses from the guest's symbols and lines;
// code is empty and lines nil when they are unknown.
type symbolizer struct {
	code  []codeSym // by address
	lines *devloop.LineTable
}

// codeSym is a symbol in code: a function, or an assembly label (which
// has no type and often no size).
type codeSym struct {
	name       string
	addr, size uint64
}

// newSymbolizer indexes the code symbols of syms (nil: none).
func newSymbolizer(syms *devloop.SymbolTable, lines *devloop.LineTable) symbolizer {
	s := symbolizer{lines: lines}
	if syms == nil {
		return s
	}
	for _, sym := range syms.Symbols() {
		label := sym.Kind != devloop.SymObject && strings.HasPrefix(sym.Section, ".text") && sym.Name != ""
		if sym.Kind == devloop.SymFunc || label {
			s.code = append(s.code, codeSym{name: sym.Name, addr: sym.Addr, size: sym.Size})
		}
	}
	// At one address, prefer a sized symbol (a function over its label).
	slices.SortStableFunc(s.code, func(a, b codeSym) int {
		if c := cmp.Compare(a.addr, b.addr); c != 0 {
			return c
		}
		return cmp.Compare(b.size, a.size)
	})
	return s
}

// at returns the code symbol that starts last at or before addr.
func (s symbolizer) at(addr uint64) (codeSym, bool) {
	n := sort.Search(len(s.code), func(i int) bool { return s.code[i].addr > addr })
	if n == 0 {
		return codeSym{}, false
	}
	// Of the symbols at that address, the first (sized) one.
	i := n - 1
	for i > 0 && s.code[i-1].addr == s.code[n-1].addr {
		i--
	}
	return s.code[i], true
}

// loc symbolises addr; ok is false when addr is in no known code. A
// symbol without a size (an assembly label) covers addr when the line
// table does; an address the line table covers but no symbol names is
// code too.
func (s symbolizer) loc(addr uint64) (symLoc, bool) {
	var l symLoc
	if s.lines != nil {
		if file, line, ok := s.lines.LineFor(addr); ok {
			l.file, l.line = file, line
		}
	}
	sym, ok := s.at(addr)
	off := addr - sym.addr
	if !ok || (sym.size > 0 && off >= sym.size) || (sym.size == 0 && l.file == "") {
		return l, l.file != ""
	}
	l.fn, l.off = sym.name, off
	return l, true
}

// returnLoc symbolises a stack word as a return address: its function
// and offset are its own, its line the call's (the instruction before).
func (s symbolizer) returnLoc(addr uint64) (symLoc, bool) {
	l, ok := s.loc(addr)
	if !ok || addr == 0 {
		return l, ok
	}
	if c, cok := s.loc(addr - 1); cok && c.file != "" && c.fn == l.fn {
		l.file, l.line = c.file, c.line
	}
	return l, ok
}

// lookup is x86asm's symbol lookup: a branch target's function.
func (s symbolizer) lookup(addr uint64) (string, uint64) {
	if l, ok := s.loc(addr); ok && l.fn != "" {
		return l.fn, addr - l.off
	}
	return "", 0
}

// cpuMode is the vCPU's code size in bits: 64 in long mode, 32 in
// protected mode, 16 in real mode. (A 32-bit program under a 64-bit
// kernel, compatibility mode, shows as 64.)
func cpuMode(r devloop.Registers) int {
	const efferLMA, cr0PE = 1 << 10, 1
	switch {
	case r.EFER&efferLMA != 0:
		return 64
	case r.CR0&cr0PE != 0:
		return 32
	}
	return 16
}

// disassemble decodes code, read at base, around pc: at most before
// instructions that lead up to pc and after from pc on. x86 code does not
// decode backwards, so the decode starts at base, or at the first later
// byte from which it lands exactly on pc; without one it starts at pc.
func disassemble(code []byte, base, pc uint64, mode, before, after int, sym symbolizer) []codeLine {
	if pc < base || pc >= base+uint64(len(code)) {
		return nil
	}
	start := pc
	for s := base; s < pc; s++ {
		if landsOn(code[s-base:], s, pc, mode) {
			start = s
			break
		}
	}
	var out []codeLine
	pcAt := -1
	for addr := start; addr < base+uint64(len(code)); {
		if pcAt >= 0 && len(out)-pcAt >= after {
			break
		}
		inst, err := x86asm.Decode(code[addr-base:], mode)
		l := codeLine{addr: addr, pc: addr == pc}
		if at, ok := sym.loc(addr); ok {
			l.at = symLoc{fn: at.fn, off: at.off}.String()
		}
		size := uint64(1)
		if err != nil {
			l.text = fmt.Sprintf("(bad) .byte %#02x", code[addr-base])
		} else {
			size = uint64(inst.Len)
			l.text = x86asm.GNUSyntax(inst, addr, sym.lookup)
		}
		if l.pc {
			pcAt = len(out)
		}
		out = append(out, l)
		addr += size
	}
	if pcAt > before {
		out = out[pcAt-before:]
	}
	return out
}

// landsOn reports whether decoding code (at addr) instruction by
// instruction reaches pc exactly, with no undecodable byte on the way.
func landsOn(code []byte, addr, pc uint64, mode int) bool {
	for addr < pc {
		inst, err := x86asm.Decode(code, mode)
		if err != nil {
			return false
		}
		addr += uint64(inst.Len)
		code = code[inst.Len:]
	}
	return addr == pc
}

// textWords returns the words of stack that point into code, at most
// max, each symbolised as a return address; off is from the stack's
// start.
func textWords(stack []byte, wordSize, max int, sym symbolizer) []stackWord {
	var out []stackWord
	for off := 0; off+wordSize <= len(stack) && len(out) < max; off += wordSize {
		var v uint64
		if wordSize == 8 {
			v = binary.LittleEndian.Uint64(stack[off:])
		} else {
			v = uint64(binary.LittleEndian.Uint32(stack[off:]))
		}
		if l, ok := sym.returnLoc(v); ok {
			out = append(out, stackWord{off: uint64(off), value: v, loc: l})
		}
	}
	return out
}

// load reads the machine for boot: its registers, the code around its
// PC and its stack, symbolised with the program's symbols. It runs in a
// tea.Cmd.
func load(ctx context.Context, in panel.Inspector, boot int) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, readTimeout)
		defer cancel()
		return snapshotMsg(read(ctx, in, boot))
	}
}

// read takes the snapshot that load sends.
func read(ctx context.Context, in panel.Inspector, boot int) snapshot {
	s := snapshot{boot: boot}
	info, ok := in.Current()
	if !ok || info.Boot != boot {
		s.regsErr = fmt.Errorf("the machine of boot #%d is gone", boot)
		return s
	}
	s.live = true
	s.regs, s.regsErr = in.Registers(ctx)
	if s.regsErr != nil {
		return s
	}
	s.mode = cpuMode(s.regs)
	var sym symbolizer
	if info.Symbols == "" {
		s.symErr = fmt.Errorf("this flavor names no symbol file")
	} else {
		syms, err := devloop.LoadSymbols(info.Symbols)
		s.symErr = err
		// A program without DWARF lines still gets function names.
		lines, _ := devloop.LoadLineTable(info.Symbols)
		sym = newSymbolizer(syms, lines)
	}
	pc := s.regs.RIP
	if s.mode == 16 {
		// Real mode: no symbols apply, but the code still shows.
		sym = symbolizer{}
	}
	s.pc, _ = sym.loc(pc)
	s.code, s.codeErr = readCode(ctx, in, pc, s.mode, sym)
	s.stack, s.stackErr = readStack(ctx, in, s.regs.RSP, s.mode, sym)
	return s
}

// readCode reads and disassembles the code around pc, starting at its
// function when that is close, else codeLead bytes before. When the
// bytes before pc cannot be read (pc at the start of a mapped page), the
// code from pc on still shows.
func readCode(ctx context.Context, in panel.Inspector, pc uint64, mode int, sym symbolizer) ([]codeLine, error) {
	lead := uint64(codeLead)
	if l, ok := sym.loc(pc); ok && l.fn != "" && l.off < lead {
		lead = l.off
	}
	lead = min(lead, pc)
	code, err := in.ReadMemory(ctx, pc-lead, lead+codeTail, true)
	if err != nil && lead > 0 {
		lead = 0
		code, err = in.ReadMemory(ctx, pc, codeTail, true)
	}
	if err != nil {
		return nil, err
	}
	return disassemble(code, pc-lead, pc, mode, codeBefore, codeAfter, sym), nil
}

// readStack reads the stack from sp up and keeps the words that point
// into code. A stack near the top of its mapping is read to the end of
// sp's page.
func readStack(ctx context.Context, in panel.Inspector, sp uint64, mode int, sym symbolizer) ([]stackWord, error) {
	ws := mode / 8
	if mode == 16 {
		return nil, fmt.Errorf("the vCPU is in real mode")
	}
	size := uint64(stackWords * ws)
	data, err := in.ReadMemory(ctx, sp, size, true)
	if err != nil {
		const page = 4096
		if rest := page - sp%page; rest < size {
			data, err = in.ReadMemory(ctx, sp, rest, true)
		}
	}
	if err != nil {
		return nil, err
	}
	return textWords(data, ws, stackShown, sym), nil
}
