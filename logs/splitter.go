package logs

import (
	"bytes"
	"unicode/utf8"
)

// DefaultMaxLine is the longest line a Splitter made with maxLine <= 0
// returns in one piece.
const DefaultMaxLine = 4096

// Splitter turns a stream of bytes into lines. "\n" and "\r\n" end a line
// (any run of "\r" before "\n" counts as one line ending, as serial
// consoles often double it). A "\r" followed by other text is a carriage
// return: the text before it is discarded, as a progress bar redraws its
// line. Lines longer than the maximum are split, at a UTF-8 rune boundary
// when possible. A Splitter is not safe for concurrent use.
type Splitter struct {
	maxLine int
	buf     []byte
	cr      bool // a "\r" was read and the next byte decides what it means
}

// NewSplitter returns a Splitter that splits lines longer than maxLine
// bytes (DefaultMaxLine when maxLine <= 0).
func NewSplitter(maxLine int) *Splitter {
	if maxLine <= 0 {
		maxLine = DefaultMaxLine
	}
	return &Splitter{maxLine: maxLine}
}

// Write adds p and returns the lines it completed, without their line
// endings, or nil.
func (s *Splitter) Write(p []byte) []string {
	var lines []string
	for len(p) > 0 {
		if s.cr {
			switch p[0] {
			case '\n':
				lines = append(lines, s.take())
				p = p[1:]
				continue
			case '\r':
				p = p[1:]
				continue
			default:
				s.cr = false
				s.buf = s.buf[:0]
			}
		}
		i := bytes.IndexAny(p, "\r\n")
		if i < 0 {
			return s.appendText(lines, p)
		}
		lines = s.appendText(lines, p[:i])
		if p[i] == '\n' {
			lines = append(lines, s.take())
		} else {
			s.cr = true
		}
		p = p[i+1:]
	}
	return lines
}

// Pending returns the partial line read so far.
func (s *Splitter) Pending() string { return string(s.buf) }

// Flush returns the partial line and starts a new one.
func (s *Splitter) Flush() string { return s.take() }

func (s *Splitter) take() string {
	line := string(s.buf)
	s.buf = s.buf[:0]
	s.cr = false
	return line
}

// appendText adds text without line endings to the partial line, emitting
// pieces of maxLine bytes (or a little less, to keep a rune whole) while
// it is too long.
func (s *Splitter) appendText(lines []string, text []byte) []string {
	for {
		room := s.maxLine - len(s.buf)
		if len(text) <= room {
			s.buf = append(s.buf, text...)
			return lines
		}
		// The line is longer than maxLine: the text after room bytes
		// proves it, so emit a full piece now.
		s.buf = append(s.buf, text[:max(room, 0)]...)
		text = text[max(room, 0):]
		cut := runeCut(s.buf)
		lines = append(lines, string(s.buf[:cut]))
		s.buf = s.buf[:copy(s.buf, s.buf[cut:])]
	}
}

// runeCut returns where to cut b so that a rune left incomplete at its end
// moves to the next piece; len(b) when there is none, or when the
// incomplete rune fills all of b.
func runeCut(b []byte) int {
	k := len(b) - 1
	for k > 0 && k > len(b)-utf8.UTFMax && !utf8.RuneStart(b[k]) {
		k--
	}
	if k <= 0 || utf8.FullRune(b[k:]) {
		return len(b)
	}
	return k
}
