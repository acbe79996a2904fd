package logs

import (
	"sync"
	"sync/atomic"
	"time"
)

// Source says where a line came from.
type Source string

// The sources of lines.
const (
	// SourceConsole is the guest's serial console.
	SourceConsole Source = "console"
	// SourceBuild is the output of the build command.
	SourceBuild Source = "build"
	// SourceVM is QEMU's own output and VM events.
	SourceVM Source = "vm"
	// SourceUkdev is ukdev's messages to the user.
	SourceUkdev Source = "ukdev"
	// SourceSyslog is what the guest ships to syslog (Nanos' syslog klib).
	SourceSyslog Source = "syslog"
)

// Line is one line of output kept in a Ring.
type Line struct {
	// Seq numbers the lines of a Ring from 1, with no gaps, in Append order.
	Seq uint64
	// Time is when the line was produced.
	Time time.Time
	// Boot and Build say which boot and build the line belongs to (0 when
	// none).
	Boot, Build int
	// Source says where the line came from.
	Source Source
	// Text is the line without its line ending, cut to MaxDisplayLine
	// bytes by Append (see TruncateLine).
	Text string
}

// Default sizes used when NewRing or Subscribe get a non-positive value.
const (
	// DefaultRingCapacity is the capacity of a Ring created with capacity <= 0.
	DefaultRingCapacity = 10000
	// DefaultRingBytes bounds the text a Ring holds when NewRingSize gets
	// bytes <= 0, and for every Ring made by NewRing.
	DefaultRingBytes = 8 << 20
	// DefaultSubscriptionBuffer is the buffer of a Subscription asked for with buffer <= 0.
	DefaultSubscriptionBuffer = 256
)

// Ring keeps the most recent lines, up to a number of lines and a number
// of bytes of text, and passes new lines to subscribers. Append never
// blocks: a subscriber whose buffer is full loses the line and counts it.
// A Ring is safe for concurrent use.
type Ring struct {
	mu       sync.Mutex
	lines    []Line // circular, len(lines) == capacity
	head     int    // index of the oldest line
	n        int    // lines held
	bytes    int    // text bytes held
	maxBytes int
	seq      uint64 // Seq of the last appended line
	subs     map[*Subscription]struct{}
}

// NewRing returns a Ring holding at most capacity lines
// (DefaultRingCapacity when capacity <= 0) and DefaultRingBytes bytes of
// text.
func NewRing(capacity int) *Ring { return NewRingSize(capacity, 0) }

// NewRingSize returns a Ring holding at most lines lines
// (DefaultRingCapacity when lines <= 0) and bytes bytes of text
// (DefaultRingBytes when bytes <= 0). The newest line is always held,
// even when alone it is over bytes.
func NewRingSize(lines, bytes int) *Ring {
	if lines <= 0 {
		lines = DefaultRingCapacity
	}
	if bytes <= 0 {
		bytes = DefaultRingBytes
	}
	return &Ring{lines: make([]Line, lines), maxBytes: bytes, subs: map[*Subscription]struct{}{}}
}

// Append stores l, its text cut to MaxDisplayLine bytes, evicting the
// oldest lines while the ring is over its line or byte limit, and offers
// it to every subscriber without waiting. It assigns l.Seq, and l.Time
// when zero, and returns the stored line.
func (r *Ring) Append(l Line) Line {
	if l.Time.IsZero() {
		l.Time = time.Now()
	}
	l.Text = TruncateLine(l.Text, MaxDisplayLine)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	l.Seq = r.seq
	for r.n > 0 && (r.n == len(r.lines) || r.bytes+len(l.Text) > r.maxBytes) {
		r.bytes -= len(r.lines[r.head].Text)
		r.lines[r.head] = Line{} // let the text be freed
		r.head = (r.head + 1) % len(r.lines)
		r.n--
	}
	r.lines[(r.head+r.n)%len(r.lines)] = l
	r.n++
	r.bytes += len(l.Text)
	// Sends happen under the lock so that Close never closes a channel
	// while a send to it is in progress.
	for s := range r.subs {
		select {
		case s.ch <- l:
		default:
			s.dropped.Add(1)
		}
	}
	return l
}

// Snapshot returns a copy of the lines held, oldest first.
func (r *Ring) Snapshot() []Line {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Line, r.n)
	for i := range r.n {
		out[i] = r.lines[(r.head+i)%len(r.lines)]
	}
	return out
}

// Subscribe returns a subscription to the lines appended from now on,
// buffering up to buffer lines (DefaultSubscriptionBuffer when buffer <=
// 0). To see the history without a gap, subscribe first, then take a
// Snapshot and skip received lines whose Seq is not above the snapshot's
// last Seq.
func (r *Ring) Subscribe(buffer int) *Subscription {
	if buffer <= 0 {
		buffer = DefaultSubscriptionBuffer
	}
	s := &Subscription{ring: r, ch: make(chan Line, buffer)}
	r.mu.Lock()
	r.subs[s] = struct{}{}
	r.mu.Unlock()
	return s
}

// Subscription receives the lines appended to a Ring after it was made.
type Subscription struct {
	ring    *Ring
	ch      chan Line
	dropped atomic.Uint64
	once    sync.Once
}

// C returns the channel of lines. It is closed by Close.
func (s *Subscription) C() <-chan Line { return s.ch }

// Dropped returns how many lines this subscription lost because its
// buffer was full.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close stops the subscription and closes its channel. Lines still
// buffered can be received. Close is idempotent.
func (s *Subscription) Close() {
	s.once.Do(func() {
		s.ring.mu.Lock()
		defer s.ring.mu.Unlock()
		delete(s.ring.subs, s)
		close(s.ch)
	})
}
