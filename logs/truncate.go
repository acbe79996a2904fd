package logs

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxDisplayLine is the longest line, in bytes, that ukdev keeps in
// memory for display (the ring, the dashboard's panels): TruncateLine
// cuts longer ones. The boot log files keep every line whole.
const MaxDisplayLine = 8 << 10

// TruncateLine returns s unchanged when it is at most limit bytes long
// (MaxDisplayLine when limit <= 0). A longer s is cut to its first limit
// bytes or a little less, so that the cut splits neither a UTF-8 rune nor
// an escape sequence, and a marker saying how many bytes were left out is
// appended: "… [+65536 bytes]". The result of a cut is a new string, so
// the memory of a long s can be freed.
func TruncateLine(s string, limit int) string {
	if limit <= 0 {
		limit = MaxDisplayLine
	}
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	if e := strings.LastIndexByte(s[:cut], 0x1b); e >= 0 && !escapeEnds(s[e:cut]) {
		cut = e
	}
	return s[:cut] + "… [+" + strconv.Itoa(len(s)-cut) + " bytes]"
}

// escapeEnds reports whether seq, which starts with ESC, holds a whole
// escape sequence: a CSI with its final byte, a string sequence (OSC,
// DCS, APC, PM, SOS) with its BEL terminator, or a two-byte escape. An
// ST ("ESC \") ends a string sequence that began before it.
func escapeEnds(seq string) bool {
	if len(seq) < 2 {
		return false
	}
	switch seq[1] {
	case '[':
		for i := 2; i < len(seq); i++ {
			if seq[i] >= 0x40 && seq[i] <= 0x7e {
				return true
			}
		}
		return false
	case ']', 'P', '_', '^', 'X':
		return strings.IndexByte(seq[2:], 0x07) >= 0
	}
	return true
}
