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
// UK_CRASH, or a fault reported without "Unhandled Trap").
const (
	// CrashTrap: "Unhandled Trap N (name), error code=0x..".
	CrashTrap crash.Kind = "trap"
	// CrashAssertion: a UK_ASSERT failed ("Assertion failure: cond").
	CrashAssertion crash.Kind = "assertion"
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
	ukStart    = regexp.MustCompile(`Unhandled Trap \d+|Assertion failure: |^Unikraft Crash\b|^Registers:\s*$|^\s*RIP: [0-9a-fA-F]+|^\s*rip: [0-9a-fA-F]{4}:[0-9a-fA-F]+|^Crashing\b`)
	ukHWRNG    = regexp.MustCompile(`Could not initiali[sz]e the HWRNG(?: \((-?\d+)\))?`)
)

// ParseConsole looks for a crash report in the console lines of a
// Unikraft boot (log prefixes and colour codes are allowed) and returns
// it, unsymbolised. It understands both report styles: the platform's
// ("Unhandled Trap", "RIP:" register lines, "base is .. caller is .."
// frames, "Crashing") and ukdebug's crash screen ("Unikraft Crash",
// "Registers:", " rip: cs:addr", "Call Trace:" entries). It returns false
// when the console shows none.
func ParseConsole(lines []string) (*crash.Crash, bool) {
	msgs := make([]string, len(lines))
	start := -1
	for i, l := range lines {
		msgs[i] = message(l)
		if start < 0 && ukStart.MatchString(msgs[i]) {
			start = i
		}
	}
	if start < 0 {
		return nil, false
	}
	c := &crash.Crash{Kind: crash.Kernel, Registers: map[string]uint64{}}
	var callers []uint64
	inTrace := false
	for i := start; i < len(lines); i++ {
		msg := msgs[i]
		t := strings.TrimSpace(msg)
		if t == "Unikraft halted" {
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
			if a := crash.ParseHex(m[2]); a != 0 {
				callers = append(callers, a)
			}
			continue
		}
		regs := ukRegister.FindAllStringSubmatch(msg, -1)
		for _, m := range regs {
			name := strings.ToLower(m[1])
			switch name {
			case "r8", "r9":
				name = "r0" + name[1:]
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
	return strings.HasPrefix(t, "Crashing") || strings.HasPrefix(t, "Regs address") || t == ""
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
//     panic keeps its reason, with the report's summary as detail.
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
