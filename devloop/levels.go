package devloop

import (
	"strconv"

	"github.com/ukdev/ukdev/flavor"
)

// annotate fills a vm.console event's Level, Library and Where from the
// line when the flavor parses its kernel's console format
// (flavor.ConsoleParser); other events and lines it does not parse are
// left as they are.
func annotate(f flavor.Kernel, e *Event) {
	if e.Type != TypeVMConsole {
		return
	}
	p, ok := f.(flavor.ConsoleParser)
	if !ok {
		return
	}
	l, ok := p.ParseConsoleLine(e.Line)
	if !ok {
		return
	}
	e.Level, e.Library = l.Level, l.Library
	if l.File != "" {
		e.Where = l.File
		if l.Line > 0 {
			e.Where += ":" + strconv.Itoa(l.Line)
		}
	}
}
