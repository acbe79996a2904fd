package panel

import (
	"strings"
	"unicode/utf8"
)

// Clip returns the start of s, at most max bytes and ending on a UTF-8
// boundary, and how many bytes it left out. A clipped result is a copy:
// keeping a piece of a very long line must not keep the whole line in
// memory. Panels clip a line before sanitising it, which drops an escape
// sequence the cut left unfinished.
func Clip(s string, max int) (string, int) {
	if len(s) <= max {
		return s, 0
	}
	n := max
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return strings.Clone(s[:n]), len(s) - n
}

// ClipMarker is what a panel shows at the end of a line Clip cut: how
// much was left out, "…[+60.0 KiB]". The boot's log file has the whole
// line.
func ClipMarker(cut int) string {
	return "…[+" + FormatBytes(float64(cut)) + "]"
}
