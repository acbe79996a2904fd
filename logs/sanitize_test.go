package logs

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSanitize(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		keepSGR bool
		want    string
	}{
		{"plain", "hello, world", true, "hello, world"},
		{"tab kept", "a\tb", false, "a\tb"},
		{"empty", "", true, ""},
		{"sgr kept", "\x1b[1;31mred\x1b[0m", true, "\x1b[1;31mred\x1b[0m"},
		{"sgr dropped", "\x1b[1;31mred\x1b[0m", false, "red"},
		{"sgr empty params kept", "\x1b[mx", true, "\x1b[mx"},
		{"sgr truecolor with colons", "\x1b[38:2::255:0:0mx", true, "\x1b[38:2::255:0:0mx"},
		{"sgr private marker dropped", "\x1b[?1mx", true, "x"},
		{"sgr with intermediate dropped", "\x1b[1 mx", true, "x"},
		{"cursor position query", "a\x1b[6nb", true, "ab"},
		{"clear screen", "\x1b[2J\x1b[Hboot", true, "boot"},
		{"cursor moves", "\x1b[10;20H\x1b[5A\x1b[Kx", true, "x"},
		{"alternate screen", "\x1b[?1049hx\x1b[?1049l", true, "x"},
		{"osc title bel", "\x1b]0;pwned\x07after", true, "after"},
		{"osc title st", "\x1b]2;pwned\x1b\\after", true, "after"},
		{"osc 52 clipboard", "\x1b]52;c;ZWNobyBwd25lZA==\x07ok", true, "ok"},
		{"osc hyperlink", "\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", true, "link"},
		{"osc unterminated", "text\x1b]0;never ends", true, "text"},
		{"osc cancelled by CAN", "\x1b]0;t\x18after", true, "after"},
		{"osc broken by new escape", "\x1b]0;t\x1b[31mred", true, "\x1b[31mred"},
		{"dcs", "\x1bP1$r0m\x1b\\x", true, "x"},
		{"dcs ignores bel", "\x1bPq\x07still dcs\x1b\\x", true, "x"},
		{"sos pm apc", "\x1bXa\x1b\\\x1b^b\x1b\\\x1b_c\x1b\\x", true, "x"},
		{"reset ESC c", "\x1bcSeaBIOS", true, "SeaBIOS"},
		{"save restore cursor", "\x1b7x\x1b8", true, "x"},
		{"charset designation", "\x1b(Bx\x1b#8", true, "x"},
		{"lone esc at end", "x\x1b", true, "x"},
		{"unterminated csi", "x\x1b[31", true, "x"},
		{"csi broken by control", "\x1b[3\n1mx", true, "1mx"},
		{"csi broken by non-ascii", "\x1b[3é", true, "é"},
		{"esc esc", "\x1b\x1b[31mx", true, "\x1b[31mx"},
		{"c0 controls", "a\x00b\x07c\x08d\x0be\x0cf\rg\nh", true, "abcdefgh"},
		{"del", "a\x7fb", true, "ab"},
		{"c1 as utf8", "a\u009b31mb\u0085c", true, "a31mbc"},
		{"raw 8-bit csi", "a\x9b6nb", true, "a6nb"},
		{"raw 8-bit osc", "a\x9d0;t\x9cb", true, "a0;tb"},
		{"invalid utf8", "a\xffb\xc3", true, "a\ufffdb\ufffd"},
		{"truncated rune", "a\xe2\x82b", true, "a\ufffdb"},
		{"utf8 kept", "héllo ✓ 日本 🎉", true, "héllo ✓ 日本 🎉"},
		{"replacement char kept", "\ufffd", true, "\ufffd"},
		// Bidirectional controls reorder what follows them on screen
		// ("Trojan Source"): they are shown, not obeyed.
		{"right-to-left override shown", "if admin\u202e } \u2066{", true, "if admin<U+202E> } <U+2066>{"},
		{"every embedding and override", "\u202a\u202b\u202c\u202d\u202e", false, "<U+202A><U+202B><U+202C><U+202D><U+202E>"},
		{"every isolate", "a\u2066b\u2067c\u2068d\u2069", false, "a<U+2066>b<U+2067>c<U+2068>d<U+2069>"},
		{"marks", "\u200e\u200f\u061c", true, "<U+200E><U+200F><U+061C>"},
		{"bidi beside sgr", "\x1b[31m\u202eevil\x1b[0m", true, "\x1b[31m<U+202E>evil\x1b[0m"},
		{"right-to-left text kept", "שלום مرحبا", true, "שלום مرحبا"},
		{"zero width joiner kept", "👩\u200d💻", true, "👩\u200d💻"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Sanitize(tt.in, tt.keepSGR); got != tt.want {
				t.Errorf("Sanitize(%q, %v) = %q, want %q", tt.in, tt.keepSGR, got, tt.want)
			}
		})
	}
}

var allowedSGR = regexp.MustCompile(`\x1b\[[0-9;:]*m`)

// checkSafe reports what makes out unsafe for a terminal, or "".
func checkSafe(out string, keepSGR bool) string {
	if !utf8.ValidString(out) {
		return "invalid UTF-8"
	}
	rest := out
	if keepSGR {
		rest = allowedSGR.ReplaceAllString(out, "")
	}
	for _, r := range rest {
		switch {
		case r == '\t':
		case r < 0x20:
			return "C0 control"
		case r == 0x7f:
			return "DEL"
		case r >= 0x80 && r <= 0x9f:
			return "C1 control"
		case bidiRune(r):
			return "bidirectional control"
		}
	}
	return ""
}

// bidiRune is the test's own list of the bidirectional controls.
func bidiRune(r rune) bool {
	return (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x200e || r == 0x200f || r == 0x061c
}

// TestSanitizeLine checks that a line printed on its own never leaves an
// attribute set: with SGR kept, a line holding any ends with a reset, so
// an unclosed conceal (ESC [ 8 m) cannot hide the next line, the shell
// prompt or ukdev's own messages.
func TestSanitizeLine(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		keepSGR bool
		want    string
	}{
		{"plain", "hello", true, "hello"},
		{"plain without colour", "hello", false, "hello"},
		{"unclosed conceal reset", "\x1b[8mhidden", true, "\x1b[8mhidden\x1b[0m"},
		{"unclosed colour reset", "\x1b[1;31merror: x", true, "\x1b[1;31merror: x\x1b[0m"},
		{"closed colour reset again", "\x1b[32mok\x1b[0m", true, "\x1b[32mok\x1b[0m\x1b[0m"},
		{"sgr removed without colour", "\x1b[8mhidden", false, "hidden"},
		{"other escapes removed, no reset needed", "\x1b[2Jx\x1b]0;t\x07", true, "x"},
		{"bidi shown and colour reset", "\x1b[7m\u202eab", true, "\x1b[7m<U+202E>ab\x1b[0m"},
		{"unterminated sgr dropped", "x\x1b[8", true, "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SanitizeLine(tt.in, tt.keepSGR); got != tt.want {
				t.Errorf("SanitizeLine(%q, %v) = %q, want %q", tt.in, tt.keepSGR, got, tt.want)
			}
		})
	}
}

func FuzzSanitize(f *testing.F) {
	for _, seed := range []string{
		"plain", "\x1b[31mred\x1b[0m", "\x1b]52;c;AAAA\x07", "\x1bP$q\x1b\\", "\x1b[6n",
		"\x9b31m", "\u009b2J", "\x1b\x1b]", "\x1b[", "\x1b]0;\x1b", "\xff\xfe", "\x1b(0", "a\rb\n",
	} {
		f.Add(seed, true)
		f.Add(seed, false)
	}
	f.Fuzz(func(t *testing.T, in string, keepSGR bool) {
		out := Sanitize(in, keepSGR)
		if why := checkSafe(out, keepSGR); why != "" {
			t.Fatalf("Sanitize(%q, %v) = %q: %s", in, keepSGR, out, why)
		}
		if !keepSGR && strings.ContainsRune(out, 0x1b) {
			t.Fatalf("Sanitize(%q, false) = %q keeps ESC", in, out)
		}
		if again := Sanitize(out, keepSGR); again != out {
			t.Fatalf("Sanitize is not idempotent on %q: %q then %q", in, out, again)
		}
	})
}

func BenchmarkSanitize(b *testing.B) {
	line := strings.Repeat("\x1b[32mok\x1b[0m boot step done ", 8)
	for b.Loop() {
		Sanitize(line, true)
	}
}
