package logview

import (
	"fmt"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/logs"
	"github.com/ukdev/ukdev/tui/panel"
)

func TestLineStoreRoundTrip(t *testing.T) {
	zone := time.FixedZone("X", 5*3600+1800)
	tests := []struct {
		name string
		l    line
	}{
		{"plain console line", line{at: t0.Add(123456789), boot: 3, source: logs.SourceConsole, text: "hello", plain: "hello", level: "info"}},
		{"coloured", line{at: t0, boot: 1, source: logs.SourceConsole, text: "\x1b[31mred\x1b[0m", plain: "red", level: "err"}},
		{"only colour", line{at: t0, source: logs.SourceBuild, text: "\x1b[31m\x1b[0m", plain: ""}},
		{"empty", line{at: t0, source: logs.SourceUkdev}},
		{"no time (boot file)", line{boot: 7, source: logs.SourceConsole, text: "from a file", plain: "from a file"}},
		{"local time", line{at: time.Date(2026, 3, 4, 5, 6, 7, 8, time.Local), source: logs.SourceVM, text: "vm", plain: "vm"}},
		{"other zone", line{at: time.Date(2026, 3, 4, 5, 6, 7, 8, zone), source: "cloud:web", text: "c", plain: "c", level: "warn"}},
		{"unknown level", line{at: t0, source: logs.SourceSyslog, text: "s", plain: "s", level: "notice"}},
	}
	var s lineStore
	for _, tt := range tests {
		s.push(tt.l)
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.at(i)
			w := tt.l
			if got.text != w.text || got.plain != w.plain || got.boot != w.boot || got.source != w.source || got.level != w.level {
				t.Errorf("got %+v, want %+v", got, w)
			}
			if !got.at.Equal(w.at) || got.at.IsZero() != w.at.IsZero() || got.at.Location() != w.at.Location() {
				t.Errorf("time = %v (%v), want %v (%v)", got.at, got.at.Location(), w.at, w.at.Location())
			}
			if !w.at.IsZero() && got.at.Format(saveTimeLayout+" MST") != w.at.Format(saveTimeLayout+" MST") {
				t.Errorf("time shows as %s, want %s", got.at.Format(saveTimeLayout+" MST"), w.at.Format(saveTimeLayout+" MST"))
			}
		})
	}
}

func TestLineStoreDropFront(t *testing.T) {
	tests := []struct {
		push  int
		drops []int
	}{
		{push: 10, drops: []int{3}},
		{push: chunkLines, drops: []int{chunkLines - 1}},
		{push: chunkLines + 1, drops: []int{chunkLines}},
		{push: 3*chunkLines + 5, drops: []int{1, chunkLines + 7, 2 * chunkLines}},
		{push: 5, drops: []int{5}},
		{push: 5, drops: []int{9}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.push, tt.drops), func(t *testing.T) {
			var s lineStore
			for i := range tt.push {
				s.push(line{source: logs.SourceConsole, text: fmt.Sprint(i), plain: fmt.Sprint(i)})
			}
			first := 0
			for _, d := range tt.drops {
				s.dropFront(d)
				first = min(first+d, tt.push)
				if s.len() != tt.push-first {
					t.Fatalf("after dropping %d: len %d, want %d", d, s.len(), tt.push-first)
				}
				for i := range s.len() {
					if got, want := s.at(i).text, fmt.Sprint(first+i); got != want {
						t.Fatalf("line %d = %q, want %q", i, got, want)
					}
				}
			}
			// The store keeps working after drops.
			s.push(line{source: logs.SourceConsole, text: "next", plain: "next"})
			if got := s.at(s.len() - 1).text; got != "next" {
				t.Errorf("last line = %q, want next", got)
			}
			if want := (s.head + s.n + chunkLines - 1) / chunkLines; len(s.chunks) != want {
				t.Errorf("%d chunks held for %d lines from %d, want %d", len(s.chunks), s.n, s.head, want)
			}
		})
	}
}

// floodBatches is n console lines of 64 bytes, as a serial flood sends
// them, in batches of 512 events.
func floodBatches(n int) []panel.EventsMsg {
	var out []panel.EventsMsg
	for i := 0; i < n; i += 512 {
		b := make(panel.EventsMsg, min(512, n-i))
		for j := range b {
			text := fmt.Sprintf("%08d abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123", i+j)
			b[j] = devloop.Event{Time: t0.Add(time.Duration(i+j) * time.Millisecond), Type: devloop.TypeVMConsole, Boot: 1, Line: text, Message: text}
		}
		out = append(out, b)
	}
	return out
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// maxLineCost bounds what the panel holds for one plain line beside its
// text, which it shares with the event: the packed line and its share of a
// chunk. A line struct in a slice grown by append cost 104 to 208.
const maxLineCost = 56

// TestLineCost floods the panel past MaxLines and checks what each line
// held costs beyond its text, and that the text is the event's, not a
// copy.
func TestLineCost(t *testing.T) {
	batches := floodBatches(MaxLines + MaxLines/4)
	m := New(panel.Deps{Styles: panel.NewStyles(true), Now: func() time.Time { return t0 }})
	m.SetSize(120, 40)
	before := heapInUse()
	for _, b := range batches {
		m.Update(b)
	}
	after := heapInUse()
	runtime.KeepAlive(batches)
	n := m.lines.len()
	if n < MaxLines || n > MaxLines+MaxLines/8 {
		t.Fatalf("holds %d lines, want %d to %d", n, MaxLines, MaxLines+MaxLines/8)
	}
	cost := float64(after-before) / float64(n)
	t.Logf("%d lines held, %.1f bytes each beside the text", n, cost)
	if cost > maxLineCost {
		t.Errorf("each line held costs %.1f bytes beside its text, want at most %d", cost, maxLineCost)
	}
	last := batches[len(batches)-1]
	ev := last[len(last)-1].Line
	got := m.lines.at(n - 1).text
	if got != ev || unsafe.StringData(got) != unsafe.StringData(ev) {
		t.Errorf("the newest line's text is a copy of the event's (%q), want it shared", got)
	}
}

// BenchmarkAppendFlood measures appending a flood's console lines to a
// full panel: allocations per line, and the bytes held per line beside the
// text.
func BenchmarkAppendFlood(b *testing.B) {
	batches := floodBatches(MaxLines + MaxLines/4)
	b.ReportAllocs()
	var cost float64
	for b.Loop() {
		m := New(panel.Deps{Styles: panel.NewStyles(true), Now: func() time.Time { return t0 }})
		before := heapInUse()
		for _, batch := range batches {
			m.Update(batch)
		}
		cost = float64(heapInUse()-before) / float64(m.lines.len())
	}
	b.ReportMetric(cost, "B/line-held")
}
