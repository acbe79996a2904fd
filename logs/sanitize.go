package logs

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

const (
	esc = 0x1b
	bel = 0x07
	can = 0x18 // cancels a sequence in progress
	sub = 0x1a // cancels a sequence in progress
	del = 0x7f
)

// Sanitize makes untrusted guest output safe to print on a host terminal.
// It drops every escape sequence (CSI, including cursor moves and queries;
// OSC, ended by BEL or ST; DCS, SOS, PM and APC, ended by ST; two-byte and
// character-set ESC sequences), every C0 control except tab, DEL, every C1
// control (U+0080-U+009F) and raw 8-bit C1 bytes, and replaces other
// invalid UTF-8 with U+FFFD. Bidirectional controls, which would reorder
// the text that follows them on screen (the embeddings and overrides
// U+202A-U+202E, the isolates U+2066-U+2069 and the marks U+200E, U+200F
// and U+061C), are shown as their code point, "<U+202E>", instead. With
// keepSGR, SGR sequences (ESC [ params m, params made only of digits, ';'
// and ':') are kept verbatim, so colours survive. A sequence left
// unterminated at the end of s is dropped; a sequence broken by an
// unexpected byte is dropped up to that byte.
func Sanitize(s string, keepSGR bool) string {
	if isPlain(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == esc:
			end, sgr := scanEscape(s, i)
			if sgr && keepSGR {
				b.WriteString(s[i:end])
			}
			i = end
		case c == '\t' || (c >= 0x20 && c < del):
			b.WriteByte(c)
			i++
		case c < utf8.RuneSelf: // other C0 controls and DEL
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			switch {
			case r == utf8.RuneError && size == 1:
				// A stray byte 0x80-0x9F is an 8-bit C1 control: drop it.
				if c > 0x9f {
					b.WriteRune(utf8.RuneError)
				}
			case r >= 0x80 && r <= 0x9f:
				// C1 control encoded as UTF-8: drop it.
			case isBidiControl(r):
				fmt.Fprintf(&b, "<U+%04X>", r)
			default:
				b.WriteString(s[i : i+size])
			}
			i += size
		}
	}
	return b.String()
}

// ResetSGR is the SGR sequence that turns every attribute off.
const ResetSGR = "\x1b[0m"

// SanitizeLine is Sanitize for a line printed on a terminal on its own.
// With keepSGR, a line that keeps any SGR sequence ends with ResetSGR, so
// no colour or attribute it leaves set (conceal, reverse, blink) reaches
// the next line, ukdev's own messages or the shell prompt.
func SanitizeLine(s string, keepSGR bool) string {
	s = Sanitize(s, keepSGR)
	if keepSGR && strings.IndexByte(s, esc) >= 0 {
		return s + ResetSGR
	}
	return s
}

// isBidiControl reports whether r is a Unicode bidirectional formatting
// character: an embedding, override, isolate or their terminator, or an
// implicit direction mark.
func isBidiControl(r rune) bool {
	return (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x200e || r == 0x200f || r == 0x061c
}

// isPlain reports whether s is printable ASCII and tabs only.
func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '\t' && (c < 0x20 || c >= del) {
			return false
		}
	}
	return true
}

// scanEscape reads the escape sequence starting at s[i] == ESC. It returns
// the index just after the sequence (the index of the byte that broke it,
// which is then processed on its own) and whether it is an SGR sequence.
func scanEscape(s string, i int) (end int, sgr bool) {
	j := i + 1
	if j >= len(s) {
		return len(s), false
	}
	switch c := s[j]; {
	case c == '[':
		return scanCSI(s, j+1)
	case c == ']': // OSC
		return scanString(s, j+1, true), false
	case c == 'P' || c == 'X' || c == '^' || c == '_': // DCS, SOS, PM, APC
		return scanString(s, j+1, false), false
	case c >= 0x20 && c <= 0x2f: // intermediates, then a final byte: ESC ( B, ESC # 8
		k := j
		for k < len(s) && s[k] >= 0x20 && s[k] <= 0x2f {
			k++
		}
		if k < len(s) && s[k] >= 0x30 && s[k] <= 0x7e {
			return k + 1, false
		}
		return k, false
	case c >= 0x30 && c <= 0x7e: // two-byte sequences: ESC c, ESC 7, ESC M
		return j + 1, false
	default: // a lone ESC: drop it, process the next byte on its own
		return j, false
	}
}

// scanCSI reads a CSI sequence whose parameters start at s[k].
func scanCSI(s string, k int) (end int, sgr bool) {
	start := k
	for k < len(s) && s[k] >= 0x30 && s[k] <= 0x3f {
		k++
	}
	params := s[start:k]
	hasIntermediates := false
	for k < len(s) && s[k] >= 0x20 && s[k] <= 0x2f {
		k++
		hasIntermediates = true
	}
	if k >= len(s) {
		return len(s), false
	}
	if f := s[k]; f >= 0x40 && f <= 0x7e {
		return k + 1, f == 'm' && !hasIntermediates && isSGRParams(params)
	}
	return k, false
}

func isSGRParams(p string) bool {
	for i := 0; i < len(p); i++ {
		if c := p[i]; (c < '0' || c > '9') && c != ';' && c != ':' {
			return false
		}
	}
	return true
}

// scanString reads the body of an OSC, DCS, SOS, PM or APC string starting
// at s[k], up to ST (ESC \), or BEL when belEnds. Another ESC ends the
// string and starts a new sequence; CAN and SUB cancel it.
func scanString(s string, k int, belEnds bool) int {
	for ; k < len(s); k++ {
		switch s[k] {
		case bel:
			if belEnds {
				return k + 1
			}
		case esc:
			if k+1 < len(s) && s[k+1] == '\\' {
				return k + 2
			}
			return k
		case can, sub:
			return k + 1
		}
	}
	return len(s)
}
