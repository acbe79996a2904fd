package panel

import (
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
)

// The dashboard measures text with one function: ansi.StringWidth, the
// measure lipgloss lays out with, which counts grapheme clusters (an emoji
// joined by ZWJ, a letter and its combining marks are one cluster), and
// with its siblings ansi.Truncate, ansi.Cut and ansi.Hardwrap, which cut on
// the same clusters. Bubble Tea's renderer, and a terminal that does not
// report grapheme clustering (mode 2027), count cells code point by code
// point instead (ansi.WcWidth): the two disagree on some clusters, and a
// row that is exactly a panel wide by one is wider or narrower by the
// other, pushing the border beside it out of place. OneWidth removes the
// disagreement before a row is measured.

// OneWidth returns s with every grapheme cluster that the two measures
// count differently (an emoji ZWJ sequence, an emoji with a variation
// selector, a skin tone or tags, conjoining Hangul jamo) replaced by its
// first code point when both count that the same, else by U+FFFD, so that
// ansi.StringWidth(OneWidth(s)) == ansi.WcWidth.StringWidth(OneWidth(s)).
// Clusters both count alike (ASCII, CJK, a letter with combining marks,
// zero-width characters on their own) and escape sequences are kept as
// they are. A row of ASCII costs one scan.
func OneWidth(s string) string {
	i := firstNonASCII(s)
	if i < 0 {
		return s
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\ufffd")
	}
	// A cluster may start with the ASCII byte before the first non-ASCII
	// one ("e" + U+0301, "1" + U+FE0F + U+20E3).
	// A sequence before it is parsed whole.
	if e := strings.LastIndexByte(s[:i], 0x1b); e >= 0 {
		i = e
	} else {
		i = max(i-1, 0)
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for i < len(s) {
		switch c := s[i]; {
		case c == 0x1b:
			n := escapeLen(s[i:])
			b.WriteString(s[i : i+n])
			i += n
		case c < utf8.RuneSelf && (i+1 == len(s) || s[i+1] < utf8.RuneSelf):
			// Nothing ASCII extends a cluster: an ASCII byte before
			// another is a cluster of its own.
			b.WriteByte(c)
			i++
		default:
			end := strings.IndexByte(s[i:], 0x1b)
			if end < 0 {
				end = len(s) - i
			}
			text := s[i : i+end]
			cluster, gw := ansi.FirstGraphemeCluster(text, ansi.GraphemeWidth)
			b.WriteString(sameWidth(cluster, gw, text[len(cluster):]))
			i += max(len(cluster), 1)
		}
	}
	return b.String()
}

// sameWidth returns cluster, whose grapheme width is gw, or what stands
// in for it when the code point by code point width differs: its first
// code point, unless the two measures differ on that too or it would join
// the text that follows (rest) into a new cluster, else U+FFFD.
func sameWidth(cluster string, gw int, rest string) string {
	if len(cluster) == 1 || ansi.WcWidth.StringWidth(cluster) == gw {
		return cluster
	}
	_, size := utf8.DecodeRuneInString(cluster)
	first := cluster[:size]
	if ansi.StringWidth(first) != ansi.WcWidth.StringWidth(first) {
		return "\ufffd"
	}
	if rest != "" {
		_, n := utf8.DecodeRuneInString(rest)
		if c, _ := ansi.FirstGraphemeCluster(first+rest[:n], ansi.GraphemeWidth); len(c) > len(first) {
			return "\ufffd"
		}
	}
	return first
}

// firstNonASCII returns the index of the first byte of s that is not
// ASCII, or -1.
func firstNonASCII(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return i
		}
	}
	return -1
}

// escapeLen returns the length of the escape sequence at the start of s
// (s[0] is ESC): a CSI sequence up to its final byte, an OSC or other
// string up to BEL or ST, or ESC and the byte after it. An unterminated
// sequence runs to the end of s.
func escapeLen(s string) int {
	if len(s) < 2 {
		return len(s)
	}
	switch s[1] {
	case '[':
		for k := 2; k < len(s); k++ {
			if s[k] >= 0x40 && s[k] <= 0x7e {
				return k + 1
			}
		}
		return len(s)
	case ']', 'P', 'X', '^', '_':
		for k := 2; k < len(s); k++ {
			switch {
			case s[k] == 0x07:
				return k + 1
			case s[k] == 0x1b && k+1 < len(s) && s[k+1] == '\\':
				return k + 2
			}
		}
		return len(s)
	}
	return 2
}
