package crash

import (
	"regexp"
	"strconv"
	"strings"
)

// Go's own panic report, as a Go program prints it on any kernel's
// console.
var (
	goPanicLine = regexp.MustCompile(`^(panic: |fatal error: )`)
	goSigLine   = regexp.MustCompile(`^\[signal (SIG[A-Z]+|[0-9]+)[^\]]*?addr=0x([0-9a-f]+) pc=0x([0-9a-f]+)\]`)
	goroutine   = regexp.MustCompile(`^goroutine \d+ .*\]:\s*$`)
	goFileLine  = regexp.MustCompile(`^\t(.+):(\d+)(?: \+0x([0-9a-f]+))?`)
)

// GoPanicStarts reports whether a console line (without its kernel's
// prefix) starts a Go panic report: "panic: ..." or "fatal error: ...".
func GoPanicStarts(line string) bool { return goPanicLine.MatchString(line) }

// ParseGoPanic reads Go's panic report starting at lines[0]: the message,
// the optional [signal ...] line, and the frames of the first goroutine.
func ParseGoPanic(lines []string) *Crash {
	c := &Crash{Kind: GoPanic, Message: lines[0]}
	i := 1
	for ; i < len(lines) && !goroutine.MatchString(lines[i]); i++ {
		if m := goSigLine.FindStringSubmatch(lines[i]); m != nil {
			c.Signal = signalNumber(m[1])
			c.FaultAddr, c.HasFaultAddr = ParseHex(m[2]), true
			c.RIP = ParseHex(m[3])
		}
	}
	c.Lines = append(c.Lines, lines[:min(i+1, len(lines))]...)
	createdBy := false
	for i++; i < len(lines); i++ {
		l := lines[i]
		if m := goFileLine.FindStringSubmatch(l); m != nil {
			c.Lines = append(c.Lines, l)
			if len(c.Frames) > 0 && !createdBy {
				f := &c.Frames[len(c.Frames)-1]
				f.File = m[1]
				f.Line, _ = strconv.Atoi(m[2])
				if m[3] != "" {
					f.Offset = ParseHex(m[3])
				}
			}
			createdBy = false
			continue
		}
		t := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(t, "created by "):
			createdBy = true
		case strings.HasPrefix(t, "...") && strings.HasSuffix(t, "..."):
			// "...additional frames elided..."
		case t != "" && strings.HasSuffix(t, ")"):
			c.Frames = append(c.Frames, Frame{Func: goFuncName(t)})
		default:
			// A blank line ends the goroutine; anything else is output
			// that followed the trace ("exit status 2", kernel lines).
			return c
		}
		c.Lines = append(c.Lines, l)
	}
	return c
}

// goFuncName strips the argument list from a Go trace line:
// "main.(*T).M(0xc000010000, ...)" → "main.(*T).M".
func goFuncName(l string) string {
	l = strings.TrimSpace(l)
	if !strings.HasSuffix(l, ")") {
		return l
	}
	depth := 0
	for i := len(l) - 1; i >= 0; i-- {
		switch l[i] {
		case ')':
			depth++
		case '(':
			depth--
			if depth == 0 {
				return l[:i]
			}
		}
	}
	return l
}

// signalNumber reads a signal as consoles print it, by number ("11") or
// by name ("SIGSEGV"); 0 when it is neither.
func signalNumber(s string) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	for n := 1; n < 32; n++ {
		if SignalName(n) == s {
			return n
		}
	}
	return 0
}

// ParseHex reads a hex number as consoles print it, with or without
// "0x"; 0 when it is not one.
func ParseHex(s string) uint64 {
	v, _ := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(s), "0x"), 16, 64)
	return v
}
