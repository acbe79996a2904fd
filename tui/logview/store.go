package logview

import (
	"iter"
	"time"

	"github.com/ukdev/ukdev/logs"
)

// The panel keeps up to MaxLines lines: what each costs beyond its text is
// what a flood costs. A line is stored packed (storedLine, 40 bytes
// against 104 for a line), its text shared with the event that carried
// it, and in chunks of chunkLines, so that neither growing nor trimming
// copies the log.

// chunkLines is how many lines one chunk of a lineStore holds.
const chunkLines = 1024

// storedLine is a line as the panel stores it. The strings a line repeats
// from line to line (its source, its level, its time's location) are
// numbers in the store's tables.
type storedLine struct {
	// s is the text, followed by the plain text when it differs (the
	// text has SGR); split is where the plain text starts, -1 when the
	// plain text is the text.
	s     string
	split int32
	boot  int32
	// at is the time in Unix nanoseconds; loc numbers its location from
	// 1, 0 for a line without a time.
	at    int64
	src   uint32
	level uint16
	loc   uint16
}

// lineStore holds lines in order in chunks: it appends at the end and
// drops from the front without moving the others.
type lineStore struct {
	chunks []*[chunkLines]storedLine
	head   int // index in chunks[0] of the oldest line
	n      int

	names map[string]uint32 // sources and levels, numbered
	list  []string          // their names by number
	locs  []*time.Location  // time locations; locs[i] is number i+1
}

// len is the number of lines held.
func (s *lineStore) len() int { return s.n }

// name numbers a source or a level, adding it to the table the first
// time.
func (s *lineStore) name(v string) uint32 {
	if i, ok := s.names[v]; ok {
		return i
	}
	if s.names == nil {
		s.names = map[string]uint32{}
	}
	i := uint32(len(s.list))
	s.names[v] = i
	s.list = append(s.list, v)
	return i
}

// location numbers loc from 1, adding it to the table the first time.
func (s *lineStore) location(loc *time.Location) uint16 {
	for i, l := range s.locs {
		if l == loc {
			return uint16(i + 1)
		}
	}
	if len(s.locs) == 1<<16-1 {
		return 1 // cannot happen: a process uses a handful of locations
	}
	s.locs = append(s.locs, loc)
	return uint16(len(s.locs))
}

// pack turns l into a storedLine, numbering its repeated strings.
func (s *lineStore) pack(l line) storedLine {
	p := storedLine{s: l.text, split: -1, boot: int32(l.boot), src: s.name(string(l.source))}
	if l.plain != l.text {
		p.s, p.split = l.text+l.plain, int32(len(l.text))
	}
	if l.level != "" {
		p.level = uint16(s.name(l.level))
	}
	if !l.at.IsZero() {
		p.at, p.loc = l.at.UnixNano(), s.location(l.at.Location())
	}
	return p
}

// unpack turns p back into the line it was packed from (less its seq).
func (s *lineStore) unpack(p *storedLine) line {
	l := line{boot: int(p.boot), source: logs.Source(s.list[p.src]), text: p.s, plain: p.s}
	if p.split >= 0 {
		l.text, l.plain = p.s[:p.split], p.s[p.split:]
	}
	if p.level != 0 {
		l.level = s.list[p.level]
	}
	if p.loc != 0 {
		l.at = time.Unix(0, p.at).In(s.locs[p.loc-1])
	}
	return l
}

func (s *lineStore) slot(i int) *storedLine {
	i += s.head
	return &s.chunks[i/chunkLines][i%chunkLines]
}

// at returns line i, 0 being the oldest held.
func (s *lineStore) at(i int) line { return s.unpack(s.slot(i)) }

// push appends l.
func (s *lineStore) push(l line) {
	if s.names == nil {
		s.name("") // number 0: no level
	}
	i := s.head + s.n
	if i/chunkLines == len(s.chunks) {
		s.chunks = append(s.chunks, new([chunkLines]storedLine))
	}
	s.chunks[i/chunkLines][i%chunkLines] = s.pack(l)
	s.n++
}

// dropFront drops the k oldest lines, letting their memory go.
func (s *lineStore) dropFront(k int) {
	k = min(k, s.n)
	for range k {
		s.chunks[0][s.head] = storedLine{}
		s.head++
		s.n--
		if s.head == chunkLines {
			s.chunks[0] = nil
			s.chunks = s.chunks[1:]
			s.head = 0
		}
	}
	if s.n == 0 {
		s.chunks, s.head = nil, 0
	}
}

// all yields the lines held, oldest first.
func (s *lineStore) all() iter.Seq2[int, line] {
	return func(yield func(int, line) bool) {
		for i := range s.n {
			if !yield(i, s.at(i)) {
				return
			}
		}
	}
}
