package panel

import (
	"testing"

	"github.com/charmbracelet/x/ansi"
)

func TestOneWidth(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"ascii", "hello, world", "hello, world"},
		{"wide CJK kept", "日本語 ok", "日本語 ok"},
		{"combining marks kept", "e\u0301 Z\u0335\u0321a\u0308", "e\u0301 Z\u0335\u0321a\u0308"},
		{"zero width on its own kept", "a\u200bb\u2060c", "a\u200bb\u2060c"},
		{"box drawing kept", "── boot 1 · build 1 ──", "── boot 1 · build 1 ──"},
		{"zwj family", "x 👨\u200d👩\u200d👧\u200d👦 y", "x 👨 y"},
		{"zwj profession", "👩\u200d💻👩\u200d💻", "👩👩"},
		{"variation selector 16", "❤\ufe0f!", "❤!"},
		{"keycap starting with ascii", "key 1\ufe0f\u20e3", "key 1"},
		{"skin tone", "👍🏽", "👍"},
		{"tag sequence, zero width by both, kept", "🏴\U000E0067\U000E0062\U000E007F.", "🏴\U000E0067\U000E0062\U000E007F."},
		{"conjoining jamo", "\u1100\u1161\u11a8 x", "\u1100 x"},
		{"sgr kept around", "\x1b[31m👩\u200d💻\x1b[m ok", "\x1b[31m👩\x1b[m ok"},
		{"sgr between base and mark", "a\x1b[1m\u0301", "a\x1b[1m\u0301"},
		{"ascii after cluster", "❤\ufe0fabc", "❤abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := OneWidth(tt.in)
			if got != tt.want {
				t.Errorf("OneWidth(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if gw, ww := ansi.StringWidth(got), ansi.WcWidth.StringWidth(got); gw != ww {
				t.Errorf("OneWidth(%q) = %q is %d cells by grapheme, %d code point by code point", tt.in, got, gw, ww)
			}
		})
	}
}

func FuzzOneWidth(f *testing.F) {
	for _, seed := range []string{"a", "👩\u200d💻", "❤\ufe0f", "\x1b[31mx\x1b[m", "\u1100\u1161", "e\u0301", "🇺🇸", "\x1b]8;;x\x07y"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := OneWidth(in)
		if gw, ww := ansi.StringWidth(out), ansi.WcWidth.StringWidth(out); gw != ww {
			t.Fatalf("OneWidth(%q) = %q: %d cells by grapheme, %d code point by code point", in, out, gw, ww)
		}
		if again := OneWidth(out); again != out {
			t.Fatalf("OneWidth is not idempotent on %q: %q then %q", in, out, again)
		}
	})
}
