package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ukdev/ukdev/devloop"
)

// fakeConsole records what is typed. It refuses the first `full` writes
// with ErrInputQueueFull (the room then comes at once) and fails the
// writes whose 1-based numbers are in fail.
type fakeConsole struct {
	typed  strings.Builder
	writes int
	full   int
	fail   map[int]bool
	sizes  []int
}

var errConsole = errors.New("console write failed")

func (c *fakeConsole) WriteConsole(p []byte) error {
	if c.full > 0 {
		c.full--
		return devloop.ErrInputQueueFull
	}
	c.writes++
	if c.fail[c.writes] {
		return errConsole
	}
	c.sizes = append(c.sizes, len(p))
	c.typed.Write(p)
	return nil
}

func (c *fakeConsole) InputRoom() <-chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}

func TestForwardInput(t *testing.T) {
	huge := strings.Repeat("x", 3<<20+5) // over bufio.Scanner's old 1 MiB limit
	tests := []struct {
		name      string
		in        string
		console   fakeConsole
		want      string   // everything typed
		wantSaid  []string // substrings of the messages, in order
		maxChunks int      // when > 0, at most this many bytes per write
	}{
		{name: "lines end with CR", in: "echo hi\nexit 3\n", want: "echo hi\rexit 3\r"},
		{name: "CRLF ends a line as LF does, empty lines stay", in: "a\r\n\n\nb\r\n", want: "a\r\r\rb\r"},
		{name: "last line without newline", in: "a\nb", want: "a\rb\r"},
		{name: "no input", in: "", want: ""},
		{name: "a line longer than 1 MiB, then more", in: "echo " + huge + "\nexit 3\n", want: "echo " + huge + "\rexit 3\r",
			maxChunks: inputChunk + 1},
		{name: "a long last line without newline", in: huge, want: huge + "\r"},
		{name: "a line of exactly one chunk", in: strings.Repeat("y", inputChunk) + "\nz\n", want: strings.Repeat("y", inputChunk) + "\rz\r"},
		{name: "queue full: wait for room, lose nothing", in: "echo " + huge + "\nexit 3\n", console: fakeConsole{full: 3},
			want: "echo " + huge + "\rexit 3\r", wantSaid: []string{"wait for a VM"}},
		{name: "failed short line is dropped, the next is typed", in: "a\nb\n", console: fakeConsole{fail: map[int]bool{1: true}},
			want: "b\r", wantSaid: []string{"console input dropped: " + errConsole.Error()}},
		{name: "failed piece drops the rest of its line only", in: huge + "\nnext\n", console: fakeConsole{fail: map[int]bool{2: true}},
			want: huge[:inputChunk] + "next\r", wantSaid: []string{"rest of a line dropped after 16384 bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var said []string
			c := &tt.console
			forwardInput(context.Background(), strings.NewReader(tt.in), c, func(msg string) { said = append(said, msg) })
			if got := c.typed.String(); got != tt.want {
				t.Errorf("typed %d bytes %q…, want %d bytes %q…", len(got), head(got), len(tt.want), head(tt.want))
			}
			if len(said) != len(tt.wantSaid) {
				t.Fatalf("said %q, want %d messages like %q", said, len(tt.wantSaid), tt.wantSaid)
			}
			for i, w := range tt.wantSaid {
				if !strings.Contains(said[i], w) {
					t.Errorf("message %d = %q, want it to contain %q", i, said[i], w)
				}
			}
			for _, n := range c.sizes {
				if tt.maxChunks > 0 && n > tt.maxChunks {
					t.Errorf("a write of %d bytes, want at most %d", n, tt.maxChunks)
				}
			}
		})
	}
}

// TestForwardInputStopsWithContext: a canceled context ends forwarding,
// also while it waits for room.
func TestForwardInputStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c := &blockingConsole{cancel: cancel}
	forwardInput(ctx, strings.NewReader("a\nb\n"), c, func(string) {})
	if c.writes != 1 {
		t.Errorf("%d writes, want 1 (refused, then canceled while waiting)", c.writes)
	}
}

// blockingConsole is always full; its room never comes, and the first
// write cancels the context.
type blockingConsole struct {
	writes int
	cancel context.CancelFunc
}

func (c *blockingConsole) WriteConsole([]byte) error {
	c.writes++
	c.cancel()
	return devloop.ErrInputQueueFull
}

func (c *blockingConsole) InputRoom() <-chan struct{} { return make(chan struct{}) }

func head(s string) string {
	if len(s) > 24 {
		return s[:24]
	}
	return s
}
