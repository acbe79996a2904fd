package panel

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// Fit truncates or pads the row s to exactly width cells, closing any SGR
// the text left open so colours do not bleed past the panel.
func Fit(s string, width int) string {
	s = ansi.Truncate(s, width, "")
	if strings.IndexByte(s, 0x1b) >= 0 {
		s += ansi.ResetStyle
	}
	return PadRight(s, width)
}

// FitBox truncates (with "…") and pads lines to exactly width×height
// cells: missing rows are blank, extra rows are dropped.
func FitBox(lines []string, width, height int) string {
	out := make([]string, height)
	for i := range out {
		var l string
		if i < len(lines) {
			l = ansi.Truncate(lines[i], width, "…")
		}
		out[i] = PadRight(l, width)
	}
	return strings.Join(out, "\n")
}

// PadRight pads s with spaces to width cells; a wider s is left as it is.
func PadRight(s string, width int) string {
	if pad := width - ansi.StringWidth(s); pad > 0 {
		return s + strings.Repeat(" ", pad)
	}
	return s
}
