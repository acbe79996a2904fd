package nanos

import (
	"github.com/ukdev/ukdev/guestexit"
	"github.com/ukdev/ukdev/image"

	"github.com/ukdev/ukdev/crash"
	"github.com/ukdev/ukdev/symbols"
)

// Explain implements flavor.ConsoleExplainer: a program's signal report, a Go
// panic or a kernel fault on the console, symbolised against the program
// (static programs load at their ELF addresses) and the kernel's symbol
// table.
func (n *Kernel) Explain(e guestexit.Exit, console []string, img image.Image) (guestexit.Exit, *crash.Crash) {
	c, ok := ParseConsole(console)
	if !ok {
		return Explain(e, nil), nil
	}
	var program, kern *symbols.Table
	if img.Symbols != "" {
		program, _ = symbols.Load(img.Symbols)
	}
	if img.Kernel != "" {
		kern, _ = symbols.Load(img.Kernel)
	}
	c.Symbolize(program, kern)
	return Explain(e, c), c
}
