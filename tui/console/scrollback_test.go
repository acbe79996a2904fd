package console

import (
	"fmt"
	"strings"
	"testing"
	"unsafe"

	"github.com/ukdev/ukdev/tui/panel"
	"github.com/ukdev/ukdev/tui/panel/paneltest"
)

// heldBytes is what the scrollback holds: each line's text and the rows
// cached for it that are not the text itself.
func heldBytes(sb *scrollback) int {
	n := 0
	for seq := sb.first; sb.n > 0 && seq <= sb.last(); seq++ {
		l := sb.at(seq)
		n += len(l.text)
		for _, r := range l.rows {
			if unsafe.StringData(r) != unsafe.StringData(l.text) {
				n += len(r)
			}
		}
	}
	return n
}

// TestScrollbackBoundedWithLongLines floods the console with very long
// lines, drawing it between batches as the dashboard does (which caches
// the wrapped rows of the lines on screen): what the scrollback holds,
// text and cached rows, stays under its byte bound after every batch; a
// line longer than maxLineBytes is kept cut, as a copy, and ends with a
// marker saying how much was left out.
func TestScrollbackBoundedWithLongLines(t *testing.T) {
	tests := []struct {
		name       string
		lineLen, n int
		color      bool
		wrap       bool
		marker     string // the end of the last row; "" for none
	}{
		{name: "4 KiB pieces, as devloop splits the console", lineLen: 4 << 10, n: 6000, wrap: true},
		{name: "64 KiB lines", lineLen: 64 << 10, n: 600, wrap: true, marker: "…[+48.0 KiB]"},
		{name: "64 KiB coloured lines", lineLen: 64 << 10, n: 600, color: true, wrap: true, marker: "…[+48.0 KiB]"},
		{name: "64 KiB lines unwrapped", lineLen: 64 << 10, n: 600},
		{name: "1 MiB lines", lineLen: 1 << 20, n: 40, wrap: true, marker: "…[+1008.0 KiB]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const w, h = 80, 20
			m, _ := newModel(t, tt.color, w, h)
			if !tt.wrap {
				update(m, paneltest.Press("z"))
			}
			update(m, panel.EventsMsg{startEv(1, 1, t0)})
			var last string
			for i := 0; i < tt.n; {
				var batch panel.EventsMsg
				for ; i < tt.n && len(batch) < 64; i++ {
					prefix := fmt.Sprintf("line %d: ", i)
					if tt.color {
						prefix = "\x1b[32m" + prefix
					}
					last = prefix + strings.Repeat("y", tt.lineLen-len(prefix))
					batch = append(batch, lineEv(1, last))
				}
				update(m, batch)
				if got := heldBytes(m.sb); got > maxBytes {
					t.Fatalf("after %d lines the scrollback holds %d bytes, over its bound of %d", i, got, maxBytes)
				}
				if tail := m.sb.at(m.sb.last()); tt.marker != "" && unsafe.StringData(tail.text) == unsafe.StringData(last) {
					t.Fatalf("the kept line shares the memory of the event's %d-byte line", len(last))
				}
				_ = m.View()
			}
			rows := plainRows(t, m, w, h)
			lastRow := rows[len(rows)-1]
			if tt.marker != "" && !strings.HasSuffix(lastRow, tt.marker) {
				t.Errorf("last row %q, want it to end with %q", lastRow, tt.marker)
			}
			if tt.marker == "" && strings.Contains(lastRow, "…[") {
				t.Errorf("last row %q has a cut marker, want none", lastRow)
			}
		})
	}
}
