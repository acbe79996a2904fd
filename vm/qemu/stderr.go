package qemu

import (
	"bytes"
	"strings"
	"sync"
)

// tailBuffer keeps the last bytes written to it (QEMU's stderr) and calls
// onMatch once, with the line, when marker first appears in the stream.
// Writes never fail and never block on anything but its own lock.
type tailBuffer struct {
	limit   int
	marker  []byte
	onMatch func(line string)

	mu      sync.Mutex
	buf     []byte
	recent  []byte // the last bytes written, for the marker search
	matched bool
}

// recentLen is how much earlier output the marker search keeps: enough for
// the line the marker sits on.
const recentLen = 512

func newTailBuffer(limit int, marker string, onMatch func(line string)) *tailBuffer {
	return &tailBuffer{limit: limit, marker: []byte(marker), onMatch: onMatch}
}

// Write implements io.Writer.
func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	var line string
	found := false
	if !t.matched && len(t.marker) > 0 {
		// Search the new bytes together with the end of the earlier ones,
		// so a marker split across writes (or longer than the tail) is
		// found too, with its line.
		window := append(t.recent, p...)
		from := max(len(t.recent)-len(t.marker)+1, 0)
		if i := bytes.Index(window[from:], t.marker); i >= 0 {
			t.matched, found = true, true
			line = lineAt(window, from+i)
		}
		keep := max(recentLen, len(t.marker))
		t.recent = append(t.recent[:0], window[max(len(window)-keep, 0):]...)
	}
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.limit; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	t.mu.Unlock()
	if found && t.onMatch != nil {
		t.onMatch(line)
	}
	return len(p), nil
}

// String returns the kept bytes.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// lineAt returns the line of b that contains offset i (possibly not yet
// complete).
func lineAt(b []byte, i int) string {
	start := bytes.LastIndexByte(b[:i], '\n') + 1
	end := bytes.IndexByte(b[i:], '\n')
	if end < 0 {
		return strings.TrimSpace(string(b[start:]))
	}
	return strings.TrimSpace(string(b[start : i+end]))
}

// firstLine returns the first non-blank line of s, trimmed.
func firstLine(s string) string {
	for line := range strings.Lines(s) {
		if l := strings.TrimSpace(line); l != "" {
			return l
		}
	}
	return ""
}

// lastLine returns the last non-blank line of s, trimmed.
func lastLine(s string) string {
	lines := strings.Split(s, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return l
		}
	}
	return ""
}
