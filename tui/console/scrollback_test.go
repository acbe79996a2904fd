package console

import (
	"fmt"
	"runtime"
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
		for _, r := range sb.rows[seq] {
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

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// maxLineCost bounds what the console holds for one 64-byte line beside
// its text, which it shares with the event: its slot in the scrollback
// and, for a line that is its own one row, nothing more. A slot with the
// rows cached in it cost 64 bytes, and 80 once the line was drawn.
const maxLineCost = 40

// TestLineCost floods the console with twice its scrollback of 64-byte
// lines, drawing between batches as the dashboard does, and checks what
// each line held costs beside its text, in colour and not.
func TestLineCost(t *testing.T) {
	for _, color := range []bool{false, true} {
		t.Run(fmt.Sprint("color ", color), func(t *testing.T) {
			var batches []panel.EventsMsg
			for i := 0; i < 2*maxLines; i += 64 {
				b := make(panel.EventsMsg, 64)
				for j := range b {
					b[j] = lineEv(1, fmt.Sprintf("%08d abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123", i+j))
				}
				batches = append(batches, b)
			}
			before := heapInUse()
			m, _ := newModel(t, color, 140, 40)
			for _, b := range batches {
				update(m, b)
				_ = m.View()
			}
			after := heapInUse()
			runtime.KeepAlive(batches)
			if m.sb.n != maxLines {
				t.Fatalf("holds %d lines, want %d", m.sb.n, maxLines)
			}
			cost := float64(after-before) / float64(m.sb.n)
			t.Logf("%d lines held, %.1f bytes each beside the text", m.sb.n, cost)
			if cost > maxLineCost {
				t.Errorf("each line held costs %.1f bytes beside its text, want at most %d", cost, maxLineCost)
			}
			runtime.KeepAlive(m)
		})
	}
}

// BenchmarkFlood measures a flood of 64-byte lines through a full console
// drawn after each batch: allocations, and the bytes held per line beside
// the text.
func BenchmarkFlood(b *testing.B) {
	var batches []panel.EventsMsg
	for i := 0; i < 2*maxLines; i += 64 {
		batch := make(panel.EventsMsg, 64)
		for j := range batch {
			batch[j] = lineEv(1, fmt.Sprintf("%08d abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123", i+j))
		}
		batches = append(batches, batch)
	}
	b.ReportAllocs()
	var cost float64
	for b.Loop() {
		before := heapInUse()
		m := New(panel.Deps{Styles: panel.NewStyles(true)})
		m.SetSize(140, 40)
		for _, batch := range batches {
			m.Update(batch)
			_ = m.View()
		}
		cost = float64(heapInUse()-before) / float64(m.sb.n)
	}
	b.ReportMetric(cost, "B/line-held")
}
