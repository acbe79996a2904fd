package logs

import (
	"slices"
	"strings"
	"testing"
)

func TestSplitter(t *testing.T) {
	tests := []struct {
		name        string
		maxLine     int
		in          string
		wantLines   []string
		wantPending string
	}{
		{"lf", 0, "a\nb\n", []string{"a", "b"}, ""},
		{"crlf", 0, "a\r\nb\r\n", []string{"a", "b"}, ""},
		{"doubled cr", 0, "a\r\r\nb", []string{"a"}, "b"},
		{"empty lines", 0, "\n\r\n\n", []string{"", "", ""}, ""},
		{"partial", 0, "abc", nil, "abc"},
		{"carriage return keeps what follows", 0, "10%\r20%\r30%\n", []string{"30%"}, ""},
		{"carriage return pending", 0, "old\rnew", nil, "new"},
		{"cr at end keeps text until more arrives", 0, "old\r", nil, "old"},
		{"long line split", 4, "abcdefghij\n", []string{"abcd", "efgh", "ij"}, ""},
		{"exactly max not split", 4, "abcd\nefgh", []string{"abcd"}, "efgh"},
		{"long pending split", 3, "abcdefg", []string{"abc", "def"}, "g"},
		{"split keeps runes whole", 4, "ab日本\n", []string{"ab", "日", "本"}, ""},
		{"split with 4-byte rune", 5, "abc🎉d\n", []string{"abc", "🎉d"}, ""},
		{"tiny max with rune", 1, "é\n", []string{"\xc3", "\xa9"}, ""},
		{"escapes untouched", 0, "\x1b[31mx\x1b[0m\n", []string{"\x1b[31mx\x1b[0m"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Whole input at once, then one byte at a time: the result
			// must not depend on how the stream is chunked.
			for _, chunk := range []int{len(tt.in), 1, 2} {
				s := NewSplitter(tt.maxLine)
				var got []string
				for in := tt.in; in != ""; {
					n := min(chunk, len(in))
					got = append(got, s.Write([]byte(in[:n]))...)
					in = in[n:]
				}
				if !slices.Equal(got, tt.wantLines) {
					t.Errorf("chunk %d: lines = %q, want %q", chunk, got, tt.wantLines)
				}
				if p := s.Pending(); p != tt.wantPending {
					t.Errorf("chunk %d: Pending() = %q, want %q", chunk, p, tt.wantPending)
				}
				if p := s.Flush(); p != tt.wantPending {
					t.Errorf("chunk %d: Flush() = %q, want %q", chunk, p, tt.wantPending)
				}
				if p := s.Pending(); p != "" {
					t.Errorf("chunk %d: Pending() after Flush = %q, want empty", chunk, p)
				}
			}
		})
	}
}

func TestSplitterFlushForgetsCarriageReturn(t *testing.T) {
	s := NewSplitter(0)
	s.Write([]byte("a\r"))
	if got := s.Flush(); got != "a" {
		t.Fatalf("Flush() = %q, want %q", got, "a")
	}
	if got := s.Write([]byte("\nb\n")); !slices.Equal(got, []string{"", "b"}) {
		t.Fatalf("Write after Flush = %q, want [\"\" \"b\"]", got)
	}
}

func TestSplitterHugeLineIsLinear(t *testing.T) {
	s := NewSplitter(4096)
	lines := s.Write([]byte(strings.Repeat("x", 1<<20)))
	if len(lines) != 255 {
		t.Fatalf("got %d pieces, want 255", len(lines))
	}
	for i, l := range lines {
		if len(l) != 4096 {
			t.Fatalf("piece %d has %d bytes, want 4096", i, len(l))
		}
	}
	if n := len(s.Pending()); n != 4096 {
		t.Fatalf("pending has %d bytes, want 4096", n)
	}
}
