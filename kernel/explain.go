package kernel

import (
	"github.com/ukdev/ukdev/image"

	"github.com/ukdev/ukdev/crash"
	"github.com/ukdev/ukdev/symbols"
)

// ConsoleExplainer is implemented by flavors that read the end of a boot's
// console to explain how it ended: a crash report with its stack, a
// language runtime's panic.
type ConsoleExplainer interface {
	// Explain refines e with what the console's last lines show, and
	// returns the crash they report (nil when none), symbolised against
	// the image's symbols.
	Explain(e Exit, console []string, img image.Image) (Exit, *crash.Crash)
}

// Explain implements ConsoleExplainer: a program's signal report, a Go
// panic or a kernel fault on the console, symbolised against the program
// (static programs load at their ELF addresses) and the kernel's symbol
// table.
func (n *Nanos) Explain(e Exit, console []string, img image.Image) (Exit, *crash.Crash) {
	c, ok := ParseNanosConsole(console)
	if !ok {
		return ExplainNanos(e, nil), nil
	}
	var program, kern *symbols.Table
	if img.Symbols != "" {
		program, _ = symbols.Load(img.Symbols)
	}
	if img.Kernel != "" {
		kern, _ = symbols.Load(img.Kernel)
	}
	c.Symbolize(program, kern)
	return ExplainNanos(e, c), c
}

// ConsoleFilterer is implemented by flavors whose console starts with
// noise the console view should not show (firmware banners and terminal
// escapes before the kernel's first line). The boot's log file keeps it.
type ConsoleFilterer interface {
	// ConsoleFilter returns a fresh filter for one boot: it reports
	// whether a console line is shown.
	ConsoleFilter() func(line string) bool
}

// ConsoleFilter implements ConsoleFilterer: SeaBIOS' preamble before
// "Booting from" is dropped, as kraft does.
func (u *Unikraft) ConsoleFilter() func(string) bool {
	f := &PreambleFilter{}
	return f.Keep
}
