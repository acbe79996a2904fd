package kernel

import "github.com/ukdev/ukdev/flavor"

// ConsoleLine is flavor's; the name goes when the flavors move out of
// kernel.
type ConsoleLine = flavor.ConsoleLine

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
