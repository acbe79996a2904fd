package unikraft

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/ukdev/ukdev/crash"
	"github.com/ukdev/ukdev/guestexit"
	"github.com/ukdev/ukdev/symbols"
)

// The kinds of crash a Unikraft console shows, besides crash.Kernel (a
// crash screen or a report that says no more).
const (
	// CrashTrap: "Unhandled Trap N (name), error code=0x..".
	CrashTrap crash.Kind = "trap"
	// CrashAssertion: a UK_ASSERT failed ("Assertion failure: cond").
	CrashAssertion crash.Kind = "assertion"
	// CrashPageFault: a page fault, which Unikraft 0.17 reports without
	// an "Unhandled Trap" line: registers, the frame walk, hex dumps of
	// the stack and "Crashing".
	CrashPageFault crash.Kind = "page-fault"
	// CrashMessage: a UK_CRASH, whose only trace is its critical message
	// ("CRIT: [lib] <file.c @ line> message") before the halt.
	CrashMessage crash.Kind = "uk-crash"
)

// maxReportLines bounds the transcript kept in Crash.Lines.
const maxReportLines = 200

var (
	ukTrap     = regexp.MustCompile(`Unhandled Trap (\d+) \(([^)]*)\)(?:, error code=(0x[0-9a-fA-F]+|\d+))?`)
	ukAssert   = regexp.MustCompile(`Assertion failure: (.*)$`)
	ukCaller   = regexp.MustCompile(`base is (0x[0-9a-fA-F]+|0)\b.*?caller is (0x[0-9a-fA-F]+|0)\b`)
	ukTraceEnt = regexp.MustCompile(`^\s*\[(0x[0-9a-fA-F]+)\]\s*$`)
	// ukRegister matches one "name: value" pair of either register dump:
	// "RIP: 000000000010a2b1 CS: 0008" (traps.c) or
	// " rip: 0008:000000000010a2b1" and " rcx:0000..." (ukdebug).
	ukRegister = regexp.MustCompile(`(?i)\b(rip|rsp|rbp|rax|rbx|rcx|rdx|rsi|rdi|r0?8|r0?9|r1[0-5]|eflags|cs|ss|orig_rax|cr2):\s*(?:([0-9a-f]{4}):)?([0-9a-f]{1,16})\b`)
	// ukRegDump matches a line of the platform's register dump, whichever
	// register it starts with (the dump prints every value with 16
	// digits, which keeps a program's own "RAX: 1" out).
	ukRegDump = regexp.MustCompile(`^\s*(?:RIP|RSP|RBP|RAX|RBX|RCX|RDX|RSI|RDI|R0?8|R0?9|R1[0-5]|CR2|EFLAGS|ORIG_RAX): [0-9a-fA-F]{16}\b`)
	// ukRIP matches the line giving RIP in either register dump.
	ukRIP = regexp.MustCompile(`(?i)^\s*rip:\s*(?:[0-9a-f]{4}:)?[0-9a-f]{1,16}\b`)
	// ukHexDump matches a line of a memory dump: "11f10: 40 1f 01 00 ..."
	// or ukdebug's " 3fe1ff10  00 00 ...  |........|".
	ukHexDump = regexp.MustCompile(`^\s*(?:0x)?[0-9a-fA-F]{1,16}:?(?:\s+[0-9a-fA-F]{2})+\s*(?:\|.*\|)?\s*$`)
	// ukFaultAddr finds a faulting address where a report prints one.
	ukFaultAddr = regexp.MustCompile(`(?i)\b(?:fault(?:ing)?\s+(?:address|at)|vaddr|addr)\s*[=:]?\s*(0x[0-9a-f]+)`)
	ukStart     = regexp.MustCompile(`Unhandled Trap \d+|Assertion failure: |^Unikraft Crash\b|^Registers:\s*$|^\s*rip: [0-9a-fA-F]{4}:[0-9a-fA-F]+|base is (?:0x[0-9a-fA-F]+|0)\b.*caller is`)
	ukHWRNG     = regexp.MustCompile(`Could not initiali[sz]e the HWRNG(?: \((-?\d+)\))?`)
)

// reportStarts says whether a console line, whose message (prefix
// removed) is msg, starts or belongs to the head of a crash report.
// "Crashing" counts only when Unikraft printed it, not the program.
func reportStarts(line, msg string) bool {
	if ukStart.MatchString(msg) || ukRegDump.MatchString(msg) {
		return true
	}
	if !strings.HasPrefix(msg, "Crashing") {
		return false
	}
	l, ok := ParseLine(line)
	return ok && l.Level == UnikraftCrit
}

// ParseConsole looks for a crash report in the console lines of a
// Unikraft boot (log prefixes and colour codes are allowed, and other
// output may come between the report's lines) and returns the first one,
// unsymbolised. It understands both report styles: the platform's
// ("Unhandled Trap", register lines in any order, "base is .. caller is
// .." frames, hex dumps, "Crashing"; a page fault prints no trap line)
// and ukdebug's crash screen ("Unikraft Crash", "Registers:", " rip:
// cs:addr", "Call Trace:" entries). A second report after the first (a
// fault while crashing) ends the first. It returns false when the
// console shows none; a UK_CRASH prints no report (see
// ParseCrashMessage).
func ParseConsole(lines []string) (*crash.Crash, bool) {
	msgs := make([]string, len(lines))
	start := -1
	for i, l := range lines {
		msgs[i] = message(l)
		if start < 0 && reportStarts(l, msgs[i]) {
			start = i
		}
	}
	if start < 0 {
		return nil, false
	}
	c := &crash.Crash{Kind: crash.Kernel, Registers: map[string]uint64{}}
	var callers []uint64
	inTrace := false
	var sawRIP, sawDump, sawScreen, sawCrashing bool
	end := len(lines)
	for i := start; i < len(lines); i++ {
		msg := msgs[i]
		t := strings.TrimSpace(msg)
		if t == "Unikraft halted" {
			end = i
			break
		}
		if i > start && secondReport(lines[i], msg, c.Kind, sawRIP, sawDump, sawScreen, sawCrashing) {
			end = i
			break
		}
		if len(c.Lines) < maxReportLines {
			c.Lines = append(c.Lines, msg)
		}
		switch {
		case t == "Call Trace:":
			inTrace = true
			continue
		case inTrace:
			if m := ukTraceEnt.FindStringSubmatch(msg); m != nil {
				if a := crash.ParseHex(m[1]); a != 0 {
					callers = append(callers, a)
				}
				continue
			}
			inTrace = false
		}
		if strings.HasPrefix(t, "Unikraft Crash") {
			sawScreen = true
		}
		if strings.HasPrefix(t, "Crashing") {
			sawCrashing = true
		}
		if m := ukTrap.FindStringSubmatch(msg); m != nil && c.Kind != CrashTrap {
			c.Kind = CrashTrap
			c.Message = m[0]
			continue
		}
		if m := ukAssert.FindStringSubmatch(msg); m != nil && c.Kind == crash.Kernel {
			c.Kind = CrashAssertion
			c.Message = "Assertion failure: " + strings.TrimSpace(m[1])
			if l, ok := ParseLine(lines[i]); ok && l.File != "" {
				c.Message += fmt.Sprintf(" (%s:%d)", l.File, l.Line)
			}
			continue
		}
		if m := ukCaller.FindStringSubmatch(msg); m != nil {
			sawDump = true
			if a := crash.ParseHex(m[2]); a != 0 {
				callers = append(callers, a)
			}
			continue
		}
		if ukHexDump.MatchString(msg) {
			continue
		}
		regs := ukRegister.FindAllStringSubmatch(msg, -1)
		if ukRegDump.MatchString(msg) || ukRIP.MatchString(msg) {
			sawDump = true
		}
		for _, m := range regs {
			name := strings.ToLower(m[1])
			switch name {
			case "r8", "r9":
				name = "r0" + name[1:]
			case "rip":
				sawRIP = true
			}
			c.Registers[name] = crash.ParseHex(m[3])
			if m[2] != "" {
				// " rip: 0008:..." carries the code segment.
				switch name {
				case "rip":
					c.Registers["cs"] = crash.ParseHex(m[2])
				case "rsp":
					c.Registers["ss"] = crash.ParseHex(m[2])
				}
			}
		}
		if len(regs) > 0 || c.Message != "" {
			continue
		}
		if l, ok := ParseLine(lines[i]); ok && l.Level == UnikraftCrit && !isCrashNoise(t) {
			c.Message = t
		}
	}
	if c.Kind == crash.Kernel && !sawScreen && sawDump {
		// Unikraft 0.17 reports a page fault with the registers and the
		// frame walk only.
		c.Kind = CrashPageFault
		c.Message = "page fault"
	}
	if c.Message == "" {
		c.Message = precedingCrit(lines, start)
	}
	if c.Message == "" && strings.HasPrefix(strings.TrimSpace(msgs[start]), "Unikraft Crash") {
		c.Message = strings.TrimSpace(msgs[start])
	}
	if c.Message == "" {
		c.Message = "Unikraft crash"
	}
	for len(c.Lines) > 1 && strings.TrimSpace(c.Lines[len(c.Lines)-1]) == "" {
		c.Lines = c.Lines[:len(c.Lines)-1]
	}
	c.FaultAddr, c.HasFaultAddr = faultAddress(c, msgs[max(0, start-3):end])
	c.RIP = c.Registers["rip"]
	if c.RIP != 0 {
		c.Frames = append(c.Frames, crash.Frame{Addr: c.RIP})
	}
	for _, a := range callers {
		if len(c.Frames) == 1 && a == c.RIP {
			// ukdebug's call trace starts with RIP itself.
			continue
		}
		c.Frames = append(c.Frames, crash.Frame{Addr: a})
	}
	return c, true
}

// secondReport says whether msg starts another crash report after the
// one being read: another trap or assertion, another register dump or
// crash screen, or anything that starts a report once "Crashing" was
// printed.
func secondReport(line, msg string, kind crash.Kind, sawRIP, sawDump, sawScreen, sawCrashing bool) bool {
	t := strings.TrimSpace(msg)
	switch {
	case ukTrap.MatchString(msg):
		return kind != crash.Kernel || sawDump || sawScreen
	case ukAssert.MatchString(msg):
		return kind != crash.Kernel || sawDump || sawScreen
	case strings.HasPrefix(t, "Unikraft Crash"):
		return sawScreen || sawDump
	case ukRIP.MatchString(msg):
		return sawRIP
	}
	return sawCrashing && reportStarts(line, msg) && !strings.HasPrefix(t, "Crashing")
}

// faultAddress is the faulting address a report gives: the CR2 register
// when dumped, else an address printed as the fault's ("vaddr=0x..",
// "fault address 0x..") in the report or just before it.
func faultAddress(c *crash.Crash, msgs []string) (uint64, bool) {
	if v, ok := c.Registers["cr2"]; ok {
		return v, true
	}
	for _, m := range msgs {
		if ukCaller.MatchString(m) {
			continue
		}
		if f := ukFaultAddr.FindStringSubmatch(m); f != nil {
			return crash.ParseHex(f[1]), true
		}
	}
	return 0, false
}

// ParseCrashMessage finds what a UK_CRASH leaves on the console when no
// report follows it: a critical message ("CRIT: [lib] <file.c @ line>
// message") as the last thing Unikraft printed before the halt ("Unikraft
// halted", or the end of the console when that line was lost); the
// program's own output may follow it. The crash's message is that
// message and, when printed, where ("boom (main.c:30)"); its one frame is
// the source location. It returns false when Unikraft's last line is not
// a critical one. Only a boot known to have crashed (QEMU status 85, a
// guest panic) should be explained by it: an init function's failure also
// ends with a critical message, and halts cleanly.
func ParseCrashMessage(lines []string) (*crash.Crash, bool) {
	end := len(lines)
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.TrimSpace(message(lines[i])) == "Unikraft halted" {
			end = i
			break
		}
	}
	for i := end - 1; i >= 0; i-- {
		l, ok := ParseLine(lines[i])
		msg := strings.TrimSpace(l.Message)
		if !ok || l.Level == UnikraftCrit && isCrashNoise(msg) {
			continue
		}
		if l.Level != UnikraftCrit {
			// Unikraft went on after its last critical message.
			return nil, false
		}
		c := &crash.Crash{Kind: CrashMessage, Message: msg, Lines: []string{msg}}
		if l.File != "" {
			c.Message += fmt.Sprintf(" (%s:%d)", l.File, l.Line)
			c.Frames = []crash.Frame{{File: l.File, Line: l.Line}}
		}
		return c, true
	}
	return nil, false
}

// precedingCrit returns the message of the nearest critical line in the
// few lines before a report starts: the message of a UK_CRASH printed
// before ukdebug's crash screen.
func precedingCrit(lines []string, start int) string {
	for i := start - 1; i >= 0 && i >= start-5; i-- {
		if l, ok := ParseLine(lines[i]); ok && l.Level == UnikraftCrit && !isCrashNoise(strings.TrimSpace(l.Message)) {
			return strings.TrimSpace(l.Message)
		}
	}
	return ""
}

// isCrashNoise says whether a critical line is part of the report's
// furniture rather than its message.
func isCrashNoise(t string) bool {
	return strings.HasPrefix(t, "Crashing") || strings.HasPrefix(t, "Regs address") || t == "" ||
		ukHexDump.MatchString(t) || ukCaller.MatchString(t) || ukRegDump.MatchString(t)
}

// Symbolize names c's frames from the .dbg's symbols and
// gives each its source line from the DWARF line tables; either may be
// nil. Unikraft on x86_64 runs at its link addresses (identity-mapped),
// so the printed addresses apply as they are. A caller's address is a
// return address: its function and line are those of the call, found one
// byte earlier; the offset shown stays relative to the printed address.
func Symbolize(c *crash.Crash, syms *symbols.Table, lines *symbols.LineTable) {
	for i := range c.Frames {
		f := &c.Frames[i]
		at := f.Addr
		if (i > 0 || f.Addr != c.RIP) && at > 0 {
			at--
		}
		if syms != nil && f.Func == "" {
			if s, _, ok := syms.FuncAt(at); ok && (s.Size == 0 || at-s.Addr < s.Size) {
				f.Func, f.Offset = s.Name, f.Addr-s.Addr
			}
		}
		if lines != nil && f.File == "" {
			if file, line, ok := lines.LineFor(at); ok {
				f.File, f.Line = file, line
			}
		}
	}
}

// HWRNGDetail is the advice given when Unikraft could not start
// its random number generator: QEMU before 8.0 does not emulate RDSEED
// under TCG, which LIBUKRANDOM needs since Unikraft 0.17.
const HWRNGDetail = "Unikraft could not initialize the HWRNG: this QEMU's TCG has no RDSEED; " +
	"build without LIBUKRANDOM, or use QEMU ≥ 8 (RDSEED under TCG) or KVM"

// hwrngFailure returns the console line reporting the HWRNG failure.
func hwrngFailure(lines []string) (string, bool) {
	for _, l := range lines {
		msg := message(l)
		if ukHWRNG.MatchString(msg) {
			return strings.TrimSpace(msg), true
		}
	}
	return "", false
}

// Explain refines a decoded exit with the end of a Unikraft
// console, and returns the crash the console shows (nil when none),
// symbolised with syms and lines (either may be nil):
//   - "Could not initialize the HWRNG" makes the exit a qemu-error whose
//     detail says what to do (the guest stops at init and QEMU exits as if
//     all went well);
//   - a crash report makes an exit, a crash or a kill a crash, and a
//     panic keeps its reason, with the report's summary as detail;
//   - a crash or a panic without a report (a UK_CRASH) gets the last
//     critical message and where it was printed as detail.
//
// Any other exit is returned unchanged.
func Explain(e guestexit.Exit, console []string, syms *symbols.Table, lines *symbols.LineTable) (guestexit.Exit, *crash.Crash) {
	c, ok := ParseConsole(console)
	if ok {
		Symbolize(c, syms, lines)
	}
	if msg, bad := hwrngFailure(console); bad && (e.Reason == guestexit.ReasonExit || e.Reason == guestexit.ReasonCrash) {
		return guestexit.Exit{Reason: guestexit.ReasonQEMUError, Detail: HWRNGDetail + " (" + msg + ")"}, c
	}
	if !ok && (e.Reason == guestexit.ReasonCrash || e.Reason == guestexit.ReasonPanic) {
		c, ok = ParseCrashMessage(console)
	}
	if !ok {
		return e, nil
	}
	switch e.Reason {
	case guestexit.ReasonExit, guestexit.ReasonCrash, guestexit.ReasonKilled:
		return guestexit.Exit{Reason: guestexit.ReasonCrash, Detail: "Unikraft: " + c.Summary()}, c
	case guestexit.ReasonPanic:
		return guestexit.Exit{Reason: guestexit.ReasonPanic, Detail: "Unikraft: " + c.Summary()}, c
	}
	return e, c
}
