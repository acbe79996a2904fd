package linux

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/ukdev/ukdev/crash"
	"github.com/ukdev/ukdev/guestexit"
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/symbols"
)

var (
	linuxPrefix    = regexp.MustCompile(`^\[\s*\d+\.\d+\]\s?`)
	linuxPanic     = regexp.MustCompile(`^Kernel panic - not syncing: (.*?)\s*$`)
	linuxKillInit  = regexp.MustCompile(`^Attempted to kill init! exitcode=0x([0-9a-fA-F]+)`)
	linuxOopsStart = regexp.MustCompile(`^(BUG: |Oops: |general protection fault|kernel BUG at |Unable to handle |divide error: |invalid opcode: |stack segment: )`)
	linuxTraceLine = regexp.MustCompile(`^\s*(\? )?([A-Za-z0-9_.$]+)\+0x([0-9a-fA-F]+)/0x[0-9a-fA-F]+(?: \[[^\]]+\])?\s*$`)
	linuxRIPFunc   = regexp.MustCompile(`^RIP: [0-9a-fA-F]{4}:([A-Za-z0-9_.$]+)\+0x([0-9a-fA-F]+)/0x[0-9a-fA-F]+`)
	linuxRIPAddr   = regexp.MustCompile(`^RIP: ([0-9a-fA-F]{4}):(?:0x)?([0-9a-fA-F]+)\s*$`)
	linuxRegister  = regexp.MustCompile(`\b(R[A-Z0-9]{1,2}|EFLAGS|CR[0-4]): ([0-9a-fA-F]{8,16})\b`)
	linuxOffset    = regexp.MustCompile(`^Kernel Offset: 0x([0-9a-fA-F]+) from`)
	linuxEnd       = regexp.MustCompile(`^---\[ end Kernel panic`)
)

// Panic is what a Linux console says about the panic that ended a
// boot.
type Panic struct {
	// Message is the panic's text after "Kernel panic - not syncing: ".
	Message string
	// InitExited says /init ended ("Attempted to kill init!"); InitStatus
	// is then its wait status: exit code in bits 8-15, killing signal in
	// bits 0-6.
	InitExited bool
	InitStatus int
	// Crash is the report: the panic line (from the oops before it, if
	// any) through the end of the trace, with the call trace as Frames.
	Crash *crash.Crash
}

// ParseConsole finds the last kernel panic in the console lines of a
// Linux boot (lines may keep their "[    1.234] " prefix) and returns it,
// unsymbolised, or false when the console shows none.
func ParseConsole(lines []string) (*Panic, bool) {
	clean := make([]string, len(lines))
	for i, l := range lines {
		clean[i] = strings.TrimSpace(linuxPrefix.ReplaceAllString(strings.TrimRight(l, "\r\n"), ""))
	}
	at := -1
	var msg string
	for i := len(clean) - 1; i >= 0; i-- {
		if m := linuxPanic.FindStringSubmatch(clean[i]); m != nil {
			at, msg = i, m[1]
			break
		}
	}
	if at < 0 {
		return nil, false
	}
	p := &Panic{Message: msg}
	if m := linuxKillInit.FindStringSubmatch(msg); m != nil {
		if v, err := strconv.ParseUint(m[1], 16, 32); err == nil {
			p.InitExited, p.InitStatus = true, int(v)
		}
	}
	start := at
	for i := at - 1; i >= 0 && at-i <= 200; i-- {
		if linuxOopsStart.MatchString(clean[i]) {
			start = i
			break
		}
		if linuxPanic.MatchString(clean[i]) {
			break
		}
	}
	p.Crash = parseLinuxReport(clean[start:], msg)
	return p, true
}

// parseLinuxReport reads an oops or panic report: its lines up to the end
// marker, the call trace's reliable frames (those without "? "), the
// RIP, the registers and the kernel's load offset.
func parseLinuxReport(lines []string, msg string) *crash.Crash {
	c := &crash.Crash{Kind: crash.Kernel, Message: msg, Registers: map[string]uint64{}}
	for _, l := range lines {
		c.Lines = append(c.Lines, l)
		switch m := linuxTraceLine.FindStringSubmatch(l); {
		case m != nil && m[1] == "":
			c.Frames = append(c.Frames, crash.Frame{Func: m[2], Offset: crash.ParseHex(m[3]), Kernel: true})
		case m != nil:
			// "? func+0x.." is a stale return address found on the stack,
			// not a frame.
		}
		if m := linuxRIPFunc.FindStringSubmatch(l); m != nil && len(c.Frames) == 0 {
			c.Frames = append(c.Frames, crash.Frame{Func: m[1], Offset: crash.ParseHex(m[2]), Kernel: true})
		}
		if m := linuxRIPAddr.FindStringSubmatch(l); m != nil {
			c.Registers["rip"] = crash.ParseHex(m[2])
			if m[1] == "0033" {
				// User mode: where the program was, in its own code.
				c.Frames = append(c.Frames, crash.Frame{Addr: crash.ParseHex(m[2])})
			}
		}
		for _, m := range linuxRegister.FindAllStringSubmatch(l, -1) {
			c.Registers[strings.ToLower(m[1])] = crash.ParseHex(m[2])
		}
		if m := linuxOffset.FindStringSubmatch(l); m != nil {
			c.KernelOffset = crash.ParseHex(m[1])
		}
		if linuxEnd.MatchString(l) {
			break
		}
	}
	c.RIP = c.Registers["rip"]
	return c
}

// Explain implements flavor.ConsoleExplainer. A kernel panic (with panic=-1 it
// resets the guest, decoded as a crash) is explained from the console:
// /init exiting with code N becomes exit N; /init killed by a signal and
// any other panic become a crash with the panic's report. A Go panic
// printed before /init exited is returned as the crash, symbolised
// against the program.
func (l *Kernel) Explain(e guestexit.Exit, console []string, img image.Image) (guestexit.Exit, *crash.Crash) {
	if e.Reason != guestexit.ReasonCrash && e.Reason != guestexit.ReasonPanic {
		return e, nil
	}
	p, ok := ParseConsole(console)
	if !ok {
		return e, nil
	}
	var program *symbols.Table
	if img.Symbols != "" {
		program, _ = symbols.Load(img.Symbols)
	}
	out, c := Explain(p, console)
	if c != nil {
		c.Symbolize(program, nil)
	}
	return out, c
}

// Explain turns a parsed panic into an exit and the crash to show
// (nil for a clean exit of /init). console is searched for a Go panic
// when /init exited with code 2, Go's code for an unrecovered panic. It
// is pure: the caller symbolises the crash.
func Explain(p *Panic, console []string) (guestexit.Exit, *crash.Crash) {
	if !p.InitExited {
		return guestexit.Exit{Reason: guestexit.ReasonCrash, Detail: "kernel panic: " + p.Message}, p.Crash
	}
	if sig := p.InitStatus & 0x7f; sig != 0 {
		d := "/init killed by " + crash.SignalName(sig)
		if p.InitStatus&0x80 != 0 {
			d += " (core dumped)"
		}
		return guestexit.Exit{Reason: guestexit.ReasonCrash, Detail: d}, p.Crash
	}
	code := p.InitStatus >> 8 & 0xff
	e := guestexit.Exit{Reason: guestexit.ReasonExit, Code: code, HasCode: true, Detail: "/init exited"}
	if code == 2 {
		if c := findGoPanic(console); c != nil {
			e.Detail = c.Summary()
			return e, c
		}
	}
	if code != 0 {
		e.Detail = fmt.Sprintf("/init exited with status %d", code)
	}
	return e, nil
}

// findGoPanic returns the last Go panic report on the console, nil when
// none.
func findGoPanic(console []string) *crash.Crash {
	clean := make([]string, len(console))
	for i, l := range console {
		clean[i] = linuxPrefix.ReplaceAllString(strings.TrimRight(l, "\r\n"), "")
	}
	for i := len(clean) - 1; i >= 0; i-- {
		if crash.GoPanicStarts(clean[i]) {
			return crash.ParseGoPanic(clean[i:])
		}
	}
	return nil
}
