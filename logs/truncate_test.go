package logs

import (
	"strings"
	"testing"
)

func TestTruncateLine(t *testing.T) {
	tests := []struct {
		name  string
		s     string
		limit int
		want  string
	}{
		{"short", "hello", 10, "hello"},
		{"exactly the limit", "0123456789", 10, "0123456789"},
		{"ascii", "0123456789abcdef", 10, "0123456789… [+6 bytes]"},
		{"rune not split", "abcdefghé…", 9, "abcdefgh… [+5 bytes]"},
		{"csi not split", "abc\x1b[31;1mdef", 7, "abc… [+10 bytes]"},
		{"whole csi kept", "abc\x1b[1mdefghi", 9, "abc\x1b[1mde… [+4 bytes]"},
		{"osc not split", "ab\x1b]0;a title\x07cd", 8, "ab… [+14 bytes]"},
		{"two-byte escape kept", "ab\x1bcdefgh", 5, "ab\x1bcd… [+4 bytes]"},
		{"default limit", strings.Repeat("x", MaxDisplayLine+5), 0, strings.Repeat("x", MaxDisplayLine) + "… [+5 bytes]"},
		{"empty", "", 3, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := TruncateLine(tt.s, tt.limit); got != tt.want {
				t.Errorf("TruncateLine(%q, %d) = %q, want %q", tt.s, tt.limit, got, tt.want)
			}
		})
	}
}
