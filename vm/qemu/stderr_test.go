package qemu

import (
	"slices"
	"strings"
	"testing"
)

func TestTailBuffer(t *testing.T) {
	tests := []struct {
		name      string
		limit     int
		writes    []string
		wantTail  string
		wantMatch []string
	}{
		{
			name:     "keeps everything under the limit",
			limit:    64,
			writes:   []string{"a\n", "b\n"},
			wantTail: "a\nb\n",
		},
		{
			name:     "keeps only the tail",
			limit:    4,
			writes:   []string{"0123", "4567", "89"},
			wantTail: "6789",
		},
		{
			name:      "marker in one write",
			limit:     256,
			writes:    []string{"warning: x\nKVM internal error. Suberror: 1\nextra data\n"},
			wantTail:  "warning: x\nKVM internal error. Suberror: 1\nextra data\n",
			wantMatch: []string{"KVM internal error. Suberror: 1"},
		},
		{
			name:      "marker split across writes, reported once",
			limit:     256,
			writes:    []string{"KVM inter", "nal error. Suberror: 1\n", "KVM internal error again\n"},
			wantTail:  "KVM internal error. Suberror: 1\nKVM internal error again\n",
			wantMatch: []string{"KVM internal error. Suberror: 1"},
		},
		{
			name:      "marker across the trimmed edge",
			limit:     10,
			writes:    []string{"xxxxxxxxxxKVM internal", " error\n"},
			wantTail:  "nal error\n",
			wantMatch: []string{"xxxxxxxxxxKVM internal error"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var matches []string
			b := newTailBuffer(tt.limit, kvmInternalError, func(line string) { matches = append(matches, line) })
			for _, w := range tt.writes {
				if n, err := b.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if got := b.String(); got != tt.wantTail {
				t.Errorf("tail = %q, want %q", got, tt.wantTail)
			}
			if !slices.Equal(matches, tt.wantMatch) {
				t.Errorf("matches = %q, want %q", matches, tt.wantMatch)
			}
		})
	}
}

func TestFirstAndLastLine(t *testing.T) {
	tests := []struct{ in, first, last string }{
		{"", "", ""},
		{"\n  \n", "", ""},
		{"one\n", "one", "one"},
		{"\n one \ntwo\n\n", "one", "two"},
		{strings.Repeat("x", 3), "xxx", "xxx"},
	}
	for _, tt := range tests {
		if got := firstLine(tt.in); got != tt.first {
			t.Errorf("firstLine(%q) = %q, want %q", tt.in, got, tt.first)
		}
		if got := lastLine(tt.in); got != tt.last {
			t.Errorf("lastLine(%q) = %q, want %q", tt.in, got, tt.last)
		}
	}
}
