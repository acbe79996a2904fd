package unikraft

import (
	"regexp"
	"strconv"
	"strings"
)

// Level is the severity of a Unikraft console line, in lower case
// so it can be used as a filter name.
type Level string

// The levels of Unikraft's uk_pr_* messages, most severe first.
const (
	UnikraftCrit  Level = "crit"
	UnikraftErr   Level = "err"
	UnikraftWarn  Level = "warn"
	UnikraftInfo  Level = "info"
	UnikraftDebug Level = "debug"
)

// Severity orders the levels: 0 for crit up to 4 for debug, 5 for an
// unknown level.
func (l Level) Severity() int {
	switch l {
	case UnikraftCrit:
		return 0
	case UnikraftErr:
		return 1
	case UnikraftWarn:
		return 2
	case UnikraftInfo:
		return 3
	case UnikraftDebug:
		return 4
	}
	return 5
}

// Line is one parsed Unikraft console line:
// "[    0.106206] CRIT: [libkvmplat] <traps.c @   84> message".
type Line struct {
	// Time is the seconds since boot, when HasTime (builds without
	// CONFIG_LIBUKDEBUG_PRINT_TIME print none).
	Time    float64
	HasTime bool
	Level   Level
	// Thread is the "{name}" some builds print before the library, "" when
	// none.
	Thread string
	// Library is the printing library ("libkvmplat"), "" when none.
	Library string
	// File and Line locate the uk_pr_* call; "" and 0 for builds without
	// CONFIG_LIBUKDEBUG_PRINT_SRCNAME.
	File string
	Line int
	// Message is the rest of the line.
	Message string
}

var (
	// ansiCSI matches terminal control sequences: Unikraft colours levels
	// with CONFIG_LIBUKDEBUG_ANSI_COLOR, SeaBIOS clears the screen.
	ansiCSI = regexp.MustCompile(`\x1b(?:\[[0-9;?]*[ -/]*[@-~]|[@-Z\\-~])`)
	ukLine  = regexp.MustCompile(`^(?:\[\s*(\d+\.\d+)\]\s*)?(CRIT|ERR|Warn|Info|dbg|Debug):\s*(?:\{([^}]*)\}\s*)?(?:\[([^\]\s]+)\]\s*)?(?:<\s*([^<>@]+?)\s*@\s*(\d+)\s*>\s?)?(.*)$`)
)

// StripANSI removes terminal control sequences (colours, screen clears,
// cursor queries) from a console line.
func StripANSI(s string) string {
	if !strings.Contains(s, "\x1b") {
		return s
	}
	return ansiCSI.ReplaceAllString(s, "")
}

// ParseLine parses one console line printed by Unikraft's
// uk_pr_* functions. Terminal colour codes are ignored. It returns false
// for anything else: the application's own output, the banner, firmware.
func ParseLine(line string) (Line, bool) {
	m := ukLine.FindStringSubmatch(strings.TrimRight(StripANSI(line), "\r\n"))
	if m == nil {
		return Line{}, false
	}
	l := Line{Thread: m[3], Library: m[4], File: m[5], Message: m[7]}
	if m[1] != "" {
		l.Time, _ = strconv.ParseFloat(m[1], 64)
		l.HasTime = true
	}
	switch m[2] {
	case "CRIT":
		l.Level = UnikraftCrit
	case "ERR":
		l.Level = UnikraftErr
	case "Warn":
		l.Level = UnikraftWarn
	case "Info":
		l.Level = UnikraftInfo
	default:
		l.Level = UnikraftDebug
	}
	if m[6] != "" {
		l.Line, _ = strconv.Atoi(m[6])
	}
	return l, true
}

// message is the text of a console line without Unikraft's log
// prefix and colour codes.
func message(line string) string {
	if l, ok := ParseLine(line); ok {
		return l.Message
	}
	return strings.TrimRight(StripANSI(line), "\r\n")
}

// firmwareEnd marks the last line of the firmware's preamble: SeaBIOS (or
// SGABIOS) prints "Booting from ROM.." before it jumps to the kernel.
const firmwareEnd = "Booting from "

// StripFirmwarePreamble returns the lines after the one containing
// "Booting from " (SeaBIOS' last words before the kernel runs), for the
// console view; the log file keeps everything. Without such a line it
// returns lines unchanged: with -nodefaults there may be no preamble.
func StripFirmwarePreamble(lines []string) []string {
	for i, l := range lines {
		if strings.Contains(l, firmwareEnd) {
			return lines[i+1:]
		}
		if _, ok := ParseLine(l); ok {
			return lines
		}
	}
	return lines
}

// firmwareMarks are texts only the firmware prints before the kernel runs.
var firmwareMarks = []string{"SeaBIOS", "SGABIOS", "Serial Graphics Adapter", "Google, Inc.", "iPXE",
	"Machine UUID", "Press ESC", "Press F12", "Term ID:", "$Id:"}

// PreambleFilter drops the firmware preamble from a console read line by
// line, as StripFirmwarePreamble does for a whole transcript: lines up to
// and including the one containing "Booting from ". Since it cannot look
// ahead, it drops only blank lines and lines it knows as the firmware's,
// and stops dropping at the first other line even when no "Booting from "
// came first, so that no guest output is lost. The zero value is ready
// for a new boot; it is not safe for concurrent use.
type PreambleFilter struct {
	done bool
}

// Keep reports whether line belongs in the console view.
func (f *PreambleFilter) Keep(line string) bool {
	if f.done {
		return true
	}
	if strings.Contains(line, firmwareEnd) {
		f.done = true
		return false
	}
	s := strings.TrimSpace(StripANSI(line))
	if s == "" {
		return false
	}
	for _, m := range firmwareMarks {
		if strings.Contains(s, m) {
			return false
		}
	}
	f.done = true
	return true
}

// Reset makes the filter drop the preamble of the next boot.
func (f *PreambleFilter) Reset() { f.done = false }
