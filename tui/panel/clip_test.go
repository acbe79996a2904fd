package panel

import (
	"strings"
	"testing"
	"unsafe"
)

func TestClip(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		max      int
		want     string
		wantCut  int
		wantCopy bool
	}{
		{name: "short kept", in: "hello", max: 8, want: "hello"},
		{name: "exact kept", in: "hello", max: 5, want: "hello"},
		{name: "ascii cut", in: "hello, world", max: 5, want: "hello", wantCut: 7, wantCopy: true},
		{name: "cut before a split rune", in: "ab日本", max: 4, want: "ab", wantCut: 6, wantCopy: true},
		{name: "cut after a whole rune", in: "ab日本", max: 5, want: "ab日", wantCut: 3, wantCopy: true},
		{name: "nothing fits", in: "日本", max: 2, want: "", wantCut: 6, wantCopy: true},
		{name: "long line", in: strings.Repeat("x", 64<<10), max: 4096, want: strings.Repeat("x", 4096), wantCut: 60 << 10, wantCopy: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, cut := Clip(tt.in, tt.max)
			if got != tt.want || cut != tt.wantCut {
				t.Errorf("Clip(%q, %d) = %q, %d; want %q, %d", tt.in, tt.max, got, cut, tt.want, tt.wantCut)
			}
			if tt.wantCopy && got != "" && unsafe.StringData(got) == unsafe.StringData(tt.in) {
				t.Errorf("Clip(%q, %d) shares the long line's memory", tt.in, tt.max)
			}
		})
	}
}

func TestClipMarker(t *testing.T) {
	tests := []struct {
		cut  int
		want string
	}{
		{1, "…[+1 B]"},
		{1023, "…[+1023 B]"},
		{60 << 10, "…[+60.0 KiB]"},
		{1<<20 + 1<<19, "…[+1.5 MiB]"},
	}
	for _, tt := range tests {
		if got := ClipMarker(tt.cut); got != tt.want {
			t.Errorf("ClipMarker(%d) = %q, want %q", tt.cut, got, tt.want)
		}
	}
}
