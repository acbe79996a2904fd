package kernel

// ConsoleLine is what a flavor reads from one console line of its kernel's
// log format: the severity, the printing library and the source location.
// Empty fields (and a zero Line) are not known.
type ConsoleLine struct {
	// Level is the severity in lower case, most severe first: "crit",
	// "err", "warn", "info", "debug".
	Level string
	// Library is the kernel library that printed the line ("libkvmplat").
	Library string
	// File and Line locate the print call in the kernel's sources.
	File string
	Line int
}

// ConsoleParser is implemented by flavors whose kernel prints structured
// console lines, so that the console can colour them by level and the
// logs panel filter them by level.
type ConsoleParser interface {
	// ParseConsoleLine parses one console line; false means it is not in
	// the kernel's format (the application's own output, a banner).
	ParseConsoleLine(line string) (ConsoleLine, bool)
}

// ParseConsoleLine implements ConsoleParser for Unikraft's uk_pr_* lines:
// "[    0.106206] CRIT: [libkvmplat] <traps.c @   84> message".
func (*Unikraft) ParseConsoleLine(line string) (ConsoleLine, bool) {
	l, ok := ParseUnikraftLine(line)
	if !ok {
		return ConsoleLine{}, false
	}
	return ConsoleLine{Level: string(l.Level), Library: l.Library, File: l.File, Line: l.Line}, true
}
