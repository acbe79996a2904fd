package nanos

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/ukdev/ukdev/crash"
	"github.com/ukdev/ukdev/guestexit"
)

var (
	klogPrefix   = regexp.MustCompile(`^\[\s*\d+\.\d+\]\s?`)
	signalLine   = regexp.MustCompile(`^\*\*\*\s*signal (\d+) received by tid (\d+)`)
	faultAddr    = regexp.MustCompile(`(?i)fault address:?\s+(?:0x)?([0-9a-f]+)`)
	loadOffset   = regexp.MustCompile(`(?i)kernel load offset:?\s+(?:0x)?([0-9a-f]+)`)
	registerLine = regexp.MustCompile(`^\s*(r[a-z0-9]{1,3}|rflags|cr2|fsbase|gsbase|cs|ss|ds|es|fs|gs)\s*:\s+(?:0x)?([0-9a-fA-F]{1,16})\b`)
	traceLine    = regexp.MustCompile(`^\s*(?:0x)?([0-9a-fA-F]{8,16}):\s+(?:0x)?([0-9a-fA-F]{1,16})\b`)
	kernelFault  = regexp.MustCompile(`(?i)^(\*\*\*\s*)?(kernel (page )?fault|unhandled (page fault|exception)|exception \d+|halt:|assertion .* failed)`)
	// reportLine matches the lines of a fault report outside its traces:
	// "fault address", the interrupt's description ("interrupt: 0e (Page
	// fault)", "frame: ...", "error code: ..."), registers, the kernel load
	// offset.
	reportLine = regexp.MustCompile(`(?i)^(\*\*\*|fault address|kernel load offset|loaded klibs|[a-z][a-z0-9_ ]{0,16}:\s)`)
	// klibLine matches an entry of the "loaded klibs:" list.
	klibLine = regexp.MustCompile(`^[A-Za-z0-9_./-]+(\s+(?:0x)?[0-9a-fA-F]+)*$`)
	// oomLine is recognised on kernel lines only: a program may well print
	// "out of memory" itself.
	oomLine = regexp.MustCompile(`(?i)\bout of memory\b`)
)

// ParseConsole looks for a crash report in the console lines of a
// Nanos boot (kernel lines may keep their "[1.234] " prefix) and returns
// the first one found, unsymbolised. It returns false when the console
// shows none.
func ParseConsole(lines []string) (*crash.Crash, bool) {
	clean := make([]string, len(lines))
	for i, l := range lines {
		clean[i] = klogPrefix.ReplaceAllString(strings.TrimRight(l, "\r\n"), "")
	}
	for i, l := range clean {
		fromKernel := klogPrefix.MatchString(lines[i])
		switch {
		case signalLine.MatchString(l):
			return parseSignalCrash(clean[i:]), true
		case crash.GoPanicStarts(l):
			return crash.ParseGoPanic(clean[i:]), true
		case kernelFault.MatchString(l) || fromKernel && oomLine.MatchString(l):
			c := parseSignalCrash(clean[i:])
			c.Kind = crash.Kernel
			c.Message = strings.TrimSpace(strings.TrimPrefix(l, "***"))
			for k := range c.Frames {
				c.Frames[k].Kernel = isKernelAddr(c.Frames[k].Addr)
			}
			return c, true
		}
	}
	return nil, false
}

// parseSignalCrash reads Nanos' fault report starting at lines[0]: the
// signal line, fault address, register dump (any order), frame trace,
// kernel load offset and raw stack trace, up to the end of the console or
// the start of another report. Lines of other output may come between the
// report's: they are left out of it.
func parseSignalCrash(lines []string) *crash.Crash {
	c := &crash.Crash{Kind: crash.Signal, Registers: map[string]uint64{}}
	if m := signalLine.FindStringSubmatch(lines[0]); m != nil {
		c.Signal, _ = strconv.Atoi(m[1])
		c.TID, _ = strconv.Atoi(m[2])
		c.Message = strings.TrimSpace(strings.TrimPrefix(lines[0], "***"))
	}
	section := ""
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if i > 0 && startsReport(t) {
			break
		}
		switch {
		case strings.HasPrefix(t, "frame trace"):
			section = "frame"
			c.Lines = append(c.Lines, l)
			continue
		case strings.HasPrefix(t, "stack trace"):
			section = "stack"
			c.Lines = append(c.Lines, l)
			continue
		case strings.HasPrefix(t, "loaded klibs"):
			section = "klibs"
		case section != "" && loadOffset.MatchString(t):
			section = ""
		}
		if section == "frame" || section == "stack" {
			m := traceLine.FindStringSubmatch(l)
			switch {
			case m != nil && section == "frame":
				c.Lines = append(c.Lines, l)
				if addr := crash.ParseHex(m[2]); addr != 0 {
					c.Frames = append(c.Frames, crash.Frame{Addr: addr, Kernel: isKernelAddr(addr)})
				}
			case m != nil:
				c.Lines = append(c.Lines, l)
				c.Stack = append(c.Stack, crash.StackWord{Addr: crash.ParseHex(m[1]), Value: crash.ParseHex(m[2])})
			case t == "" && section == "frame":
				// A blank line ends the frame trace (empty for a
				// program without frame pointers).
				section = ""
				c.Lines = append(c.Lines, l)
			}
			// Anything else is output that came between the trace's
			// lines.
			continue
		}
		if section == "klibs" && t != "" && !strings.HasPrefix(t, "loaded klibs") && !klibLine.MatchString(t) {
			// Output after the klib list is not the report's.
			continue
		}
		if section == "" && i > 0 && t != "" && !reportLine.MatchString(t) {
			// Output from another thread amid the report.
			continue
		}
		c.Lines = append(c.Lines, l)
		if m := faultAddr.FindStringSubmatch(l); m != nil && !c.HasFaultAddr {
			c.FaultAddr, c.HasFaultAddr = crash.ParseHex(m[1]), true
		}
		if m := loadOffset.FindStringSubmatch(l); m != nil {
			c.KernelOffset = crash.ParseHex(m[1])
		}
		if m := registerLine.FindStringSubmatch(l); m != nil {
			c.Registers[strings.ToLower(m[1])] = crash.ParseHex(m[2])
		}
	}
	for len(c.Lines) > 1 && strings.TrimSpace(c.Lines[len(c.Lines)-1]) == "" {
		c.Lines = c.Lines[:len(c.Lines)-1]
	}
	c.RIP = c.Registers["rip"]
	if c.RIP != 0 && (len(c.Frames) == 0 || c.Frames[0].Addr != c.RIP) {
		c.Frames = append([]crash.Frame{{Addr: c.RIP, Kernel: isKernelAddr(c.RIP)}}, c.Frames...)
	}
	return c
}

// startsReport says whether a console line (prefix removed, trimmed)
// starts a new crash report.
func startsReport(t string) bool {
	return signalLine.MatchString(t) || crash.GoPanicStarts(t) || kernelFault.MatchString(t)
}

// isKernelAddr says whether addr is in the upper half, where Nanos keeps
// its kernel; programs live in the lower half.
func isKernelAddr(addr uint64) bool { return addr >= 0xffff800000000000 }

// Explain refines a decoded exit with the crash the console showed
// (nil when none): a program's exit by signal becomes a crash naming the
// signal, fault address and frame; a Go program's exit 2 keeps its code
// with "Go panic: ..." as detail; a kernel crash gets the kernel's
// message. It is pure: the caller parses the console (ParseConsole)
// and symbolises the crash first.
func Explain(e guestexit.Exit, c *crash.Crash) guestexit.Exit {
	if c == nil {
		return e
	}
	switch c.Kind {
	case crash.GoPanic:
		if e.Reason == guestexit.ReasonExit && e.HasCode && e.Code == 2 {
			return guestexit.Exit{Reason: guestexit.ReasonExit, Code: 2, HasCode: true, Detail: c.Summary()}
		}
	case crash.Signal:
		if e.Reason == guestexit.ReasonExit || e.Reason == guestexit.ReasonKilled || e.Reason == guestexit.ReasonCrash {
			return guestexit.Exit{Reason: guestexit.ReasonCrash, Detail: c.Summary()}
		}
	case crash.Kernel:
		if e.Reason == guestexit.ReasonCrash || e.Reason == guestexit.ReasonExit {
			return guestexit.Exit{Reason: guestexit.ReasonCrash, Detail: "Nanos kernel: " + c.Summary()}
		}
	}
	return e
}
