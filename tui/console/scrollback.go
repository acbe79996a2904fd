package console

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// lineKind says how a scrollback line renders.
type lineKind uint8

const (
	guestLine  lineKind = iota // sanitised guest output, wraps
	markerLine                 // a boot boundary or notice, one row filled with ─
)

// line is one scrollback line. Its wrapped rows are computed when first
// shown and cached for one width, so a flood costs nothing until a line
// becomes visible and a redraw at the same width costs no wrapping. A
// line that is its own one row (most of them) caches only its row count;
// the rows of the others are kept beside, in scrollback.rows.
type line struct {
	text  string // sanitised; tabs expanded; only SGR sequences remain
	wrapW int32  // the width the rows were computed for; 0: none
	nrows int32  // how many rows at wrapW
	kind  lineKind
}

// scrollback is a bounded ring of lines. Lines are numbered by a sequence
// number that never repeats, so a scroll position stays meaningful while
// old lines are dropped.
//
// It holds at most maxBytes of text and cached rows after each push:
// drawing caches the rows of the lines on screen, which the next push
// counts and makes room for.
type scrollback struct {
	buf      []line
	start    int    // index in buf of the oldest line
	n        int    // lines held
	first    uint64 // sequence number of the oldest line
	bytes    int    // text and cached row bytes held
	maxBytes int
	// rows are the cached rows of the lines that are not their own one
	// row, by seq.
	rows map[uint64][]string
}

func newScrollback(maxLines, maxBytes int) *scrollback {
	return &scrollback{buf: make([]line, maxLines), rows: map[uint64][]string{}, maxBytes: maxBytes}
}

// empty reports whether no line is held.
func (s *scrollback) empty() bool { return s.n == 0 }

// last is the sequence number of the newest line; meaningless when empty.
func (s *scrollback) last() uint64 { return s.first + uint64(s.n) - 1 }

// at returns the line with sequence number seq, which must be held.
func (s *scrollback) at(seq uint64) *line {
	return &s.buf[(s.start+int(seq-s.first))%len(s.buf)]
}

// push appends a line, dropping the oldest when a bound is reached.
func (s *scrollback) push(kind lineKind, text string) {
	for s.n > 0 && (s.n == len(s.buf) || s.bytes+len(text) > s.maxBytes) {
		s.dropOldest()
	}
	s.buf[(s.start+s.n)%len(s.buf)] = line{kind: kind, text: text}
	s.n++
	s.bytes += len(text)
}

func (s *scrollback) dropOldest() {
	old := &s.buf[s.start]
	s.bytes -= len(old.text)
	s.forgetRows(s.first)
	*old = line{}
	s.start = (s.start + 1) % len(s.buf)
	s.n--
	s.first++
}

// forgetRows drops the rows cached beside for line seq.
func (s *scrollback) forgetRows(seq uint64) {
	if rs, ok := s.rows[seq]; ok {
		s.bytes -= rowsBytes(rs)
		delete(s.rows, seq)
	}
}

func rowsBytes(rs []string) int {
	n := 0
	for _, r := range rs {
		n += len(r)
	}
	return n
}

// pos is the top visible row: a line and a wrapped row within it.
type pos struct {
	seq uint64
	row int
}

func (p pos) before(q pos) bool {
	return p.seq < q.seq || (p.seq == q.seq && p.row < q.row)
}

// layout answers row questions about a scrollback at one width and wrap
// setting.
type layout struct {
	sb    *scrollback
	width int
	wrap  bool
}

// rows returns the display rows of line seq: each exactly the text of
// one screen row (without padding); nil for an unwrapped guest line.
func (lo layout) rows(seq uint64) []string {
	l := lo.sb.at(seq)
	if l.kind != guestLine || !lo.wrap {
		return nil
	}
	lo.wrapLine(seq, l)
	if rs, ok := lo.sb.rows[seq]; ok {
		return rs
	}
	if l.nrows == 0 {
		return nil
	}
	return []string{l.text}
}

// wrapLine computes the rows of guest line l (line seq) at the layout's
// width unless they are cached for it.
func (lo layout) wrapLine(seq uint64, l *line) {
	if int(l.wrapW) == lo.width {
		return
	}
	rs := wrapRows(l.text, lo.width)
	l.wrapW, l.nrows = int32(lo.width), int32(len(rs))
	lo.sb.forgetRows(seq)
	if len(rs) == 1 && rs[0] == l.text {
		return // a line that fits one row is its own row: nothing cached
	}
	lo.sb.rows[seq] = rs
	lo.sb.bytes += rowsBytes(rs)
}

// rowCount is how many screen rows line seq takes.
func (lo layout) rowCount(seq uint64) int {
	l := lo.sb.at(seq)
	if l.kind != guestLine || !lo.wrap {
		return 1
	}
	lo.wrapLine(seq, l)
	return int(l.nrows)
}

// clamp moves p onto a held line and an existing row.
func (lo layout) clamp(p pos) pos {
	if lo.sb.empty() {
		return pos{}
	}
	if p.seq < lo.sb.first {
		return pos{seq: lo.sb.first}
	}
	if p.seq > lo.sb.last() {
		p = pos{seq: lo.sb.last(), row: 1 << 30}
	}
	if n := lo.rowCount(p.seq); p.row >= n {
		p.row = n - 1
	}
	return p
}

// down moves p k rows towards the newest line, stopping at the last row.
func (lo layout) down(p pos, k int) pos {
	for k > 0 {
		left := lo.rowCount(p.seq) - 1 - p.row
		if k <= left {
			p.row += k
			return p
		}
		if p.seq == lo.sb.last() {
			p.row += left
			return p
		}
		k -= left + 1
		p = pos{seq: p.seq + 1}
	}
	return p
}

// up moves p k rows towards the oldest line, stopping at the first row.
func (lo layout) up(p pos, k int) pos {
	for k > 0 {
		if k <= p.row {
			p.row -= k
			return p
		}
		if p.seq == lo.sb.first {
			p.row = 0
			return p
		}
		k -= p.row + 1
		p.seq--
		p.row = lo.rowCount(p.seq) - 1
	}
	return p
}

// bottomTop is the top row when the newest row is at the bottom of a
// screen of height rows (the first row when everything fits).
func (lo layout) bottomTop(height int) pos {
	if lo.sb.empty() {
		return pos{}
	}
	last := pos{seq: lo.sb.last(), row: lo.rowCount(lo.sb.last()) - 1}
	return lo.up(last, height-1)
}

// wrapRows hard-wraps text at width cells, the way a terminal would. Each
// row carries the colours that were active where it starts and resets them
// at its end, so no style leaks into the next row or out of the panel.
func wrapRows(text string, width int) []string {
	if width < 1 {
		width = 1
	}
	if ansi.StringWidth(text) <= width {
		return []string{closeSGR(text)}
	}
	rows := strings.Split(ansi.Hardwrap(text, width, true), "\n")
	if !strings.Contains(text, "\x1b") {
		return rows
	}
	var state sgrState
	for i, r := range rows {
		prefix := state.String()
		state.scan(r)
		rows[i] = closeSGR(prefix + r)
	}
	return rows
}

// closeSGR appends a reset to s when s holds any escape sequence.
func closeSGR(s string) string {
	if strings.Contains(s, "\x1b") {
		return s + "\x1b[m"
	}
	return s
}

// maxSGRState bounds the sequences replayed at the start of a wrapped row,
// so a line of thousands of colour changes cannot make rows huge.
const maxSGRState = 8

// sgrState is the SGR sequences in effect since the last reset.
type sgrState struct{ seqs []string }

// scan updates the state with the SGR sequences in s (which holds no other
// escape sequence once sanitised).
func (st *sgrState) scan(s string) {
	for {
		i := strings.Index(s, "\x1b[")
		if i < 0 {
			return
		}
		s = s[i:]
		j := strings.IndexByte(s, 'm')
		if j < 0 {
			return
		}
		seq, params := s[:j+1], s[2:j]
		s = s[j+1:]
		switch {
		case params == "" || params == "0":
			st.seqs = st.seqs[:0]
			continue
		case strings.HasPrefix(params, "0;") || strings.HasPrefix(params, ";"):
			st.seqs = st.seqs[:0]
		}
		if len(st.seqs) == maxSGRState {
			st.seqs = append(st.seqs[:0], st.seqs[1:]...)
		}
		st.seqs = append(st.seqs, seq)
	}
}

func (st *sgrState) String() string { return strings.Join(st.seqs, "") }

// expandTabs replaces tabs with spaces up to the next multiple of 8
// columns, since a tab's width depends on where it lands.
func expandTabs(s string) string {
	if !strings.Contains(s, "\t") {
		return s
	}
	var b strings.Builder
	col := 0
	for {
		i := strings.IndexByte(s, '\t')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		col += ansi.StringWidth(s[:i])
		n := 8 - col%8
		b.WriteString(strings.Repeat(" ", n))
		col += n
		s = s[i+1:]
	}
}
