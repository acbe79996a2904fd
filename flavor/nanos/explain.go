package nanos

import (
	"github.com/ukdev/ukdev/guestexit"
	"github.com/ukdev/ukdev/image"

	"github.com/ukdev/ukdev/crash"
	"github.com/ukdev/ukdev/symbols"
)

// Explain implements flavor.ConsoleExplainer: a program's signal report, a Go
// panic or a kernel fault on the console, symbolised against the program
// (static programs load at their ELF addresses; file:line from its DWARF)
// and the kernel's symbol table. A program without frame pointers gets
// its callers from the words of the raw stack trace that are return
// addresses into its text.
func (n *Kernel) Explain(e guestexit.Exit, console []string, img image.Image) (guestexit.Exit, *crash.Crash) {
	c, ok := ParseConsole(console)
	if !ok {
		return Explain(e, nil), nil
	}
	var program, kern *symbols.Table
	var lines *symbols.LineTable
	if img.Symbols != "" {
		program, _ = symbols.Load(img.Symbols)
		lines, _ = symbols.LoadLineTable(img.Symbols)
	}
	if img.Kernel != "" {
		kern, _ = symbols.Load(img.Kernel)
	}
	Symbolize(c, program, kern, lines)
	return Explain(e, c), c
}

// Symbolize names c's frames from the program's and the kernel's symbols
// (either may be nil), adds the program's callers found in the raw stack
// trace when the frame trace gave none, and gives the program's frames
// their file:line from lines (nil when the program has no DWARF).
func Symbolize(c *crash.Crash, program, kernel *symbols.Table, lines *symbols.LineTable) {
	c.Symbolize(program, kernel)
	if c.Kind != crash.GoPanic {
		c.AddStackCallers(program)
	}
	c.SymbolizeLines(lines)
}
