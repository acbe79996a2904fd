package unikraft

import "github.com/ukdev/ukdev/flavor"

// ParseConsoleLine implements flavor.ConsoleParser for Unikraft's uk_pr_*
// lines: "[    0.106206] CRIT: [libkvmplat] <traps.c @   84> message".
func (*Kernel) ParseConsoleLine(line string) (flavor.ConsoleLine, bool) {
	l, ok := ParseLine(line)
	if !ok {
		return flavor.ConsoleLine{}, false
	}
	return flavor.ConsoleLine{Level: string(l.Level), Library: l.Library, File: l.File, Line: l.Line}, true
}

// ConsoleFilter implements flavor.ConsoleFilterer: SeaBIOS' preamble
// before "Booting from" is dropped, as kraft does.
func (*Kernel) ConsoleFilter() func(string) bool {
	f := &PreambleFilter{}
	return f.Keep
}
