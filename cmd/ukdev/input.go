package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/ukdev/ukdev/devloop"
)

// inputChunk is the most console input forwarded in one write: lines
// longer than that go in pieces. It stays under devloop.MaxQueuedInput so
// that a piece always fits the queue of input waiting for a VM.
const inputChunk = 16 << 10

// console is where standard input is typed: the loop's guest console.
type console interface {
	WriteConsole(p []byte) error
	InputRoom() <-chan struct{}
}

// forwardInput types each line read from r into c, followed by Enter (CR,
// what a terminal's Enter key sends and serial consoles expect), until r
// ends or ctx is done. A line ending in CRLF loses its CR.
//
// Lines of any length are forwarded, in pieces of at most inputChunk
// bytes. While no VM can take input and the queue for it is full, reading
// waits for room (the writer to stdin is held back, nothing is lost). When
// a write fails, the rest of that line is dropped and say says so; the
// next line is typed as usual. say receives one-line messages for the
// user.
func forwardInput(ctx context.Context, r io.Reader, c console, say func(string)) {
	br := bufio.NewReaderSize(r, inputChunk)
	var (
		lineLen  int  // bytes of the current line read so far
		dropping bool // a write of the current line failed: drop the rest
		waited   bool // the user was told once that input waits for a VM
	)
	for {
		chunk, rerr := br.ReadSlice('\n')
		if ctx.Err() != nil {
			return
		}
		complete := rerr == nil
		if complete {
			chunk = chunk[:len(chunk)-1]
			if n := len(chunk); n > 0 && chunk[n-1] == '\r' {
				chunk = chunk[:n-1]
			}
		}
		ended := complete || (rerr != nil && !errors.Is(rerr, bufio.ErrBufferFull) && lineLen+len(chunk) > 0)
		data := chunk
		if ended {
			// The buffer holds the '\n' (or has room after the chunk's
			// end at EOF): CR replaces it in place.
			data = append(chunk, '\r')
		}
		start := lineLen
		lineLen += len(chunk)
		if !dropping && len(data) > 0 {
			err := writeConsole(ctx, c, data, func() {
				if !waited {
					waited = true
					say(fmt.Sprintf("console input: %d KiB wait for a VM to take them; more input is read once it does", devloop.MaxQueuedInput>>10))
				}
			})
			switch {
			case ctx.Err() != nil:
				return
			case err != nil && ended && start == 0:
				say(fmt.Sprintf("console input dropped: %v", err))
			case err != nil:
				say(fmt.Sprintf("console input: the rest of a line dropped after %d bytes: %v", start, err))
				dropping = !ended
			}
		}
		if ended {
			lineLen, dropping = 0, false
		}
		switch {
		case rerr == nil, errors.Is(rerr, bufio.ErrBufferFull):
		case errors.Is(rerr, io.EOF):
			return
		default:
			say(fmt.Sprintf("console input: reading standard input: %v; nothing more is typed", rerr))
			return
		}
	}
}

// writeConsole writes p, waiting for room while the loop's input queue is
// full; waiting is called before each wait.
func writeConsole(ctx context.Context, c console, p []byte, waiting func()) error {
	for {
		err := c.WriteConsole(p)
		if !errors.Is(err, devloop.ErrInputQueueFull) {
			return err
		}
		waiting()
		select {
		case <-c.InputRoom():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
