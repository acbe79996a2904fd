package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

// outputGrace bounds how long after the signal a stopping ukdev waits for
// its queued output to be written before it drops the rest, and
// outputFinal how long it waits at least once the loop has ended (for the
// last events, to a reader that reads). With the build's 2 s to stop, a
// signal ends ukdev within 3 s even when nothing reads its output.
const (
	outputGrace = time.Second
	outputFinal = 200 * time.Millisecond
)

// outputQueue writes the headless modes' lines to ukdev's standard output
// and error from one goroutine, in the order they were queued.
//
// While ukdev runs, a reader that does not keep up slows ukdev down, as a
// blocking write would, so a slow `ukdev dev --json | consumer` loses
// nothing. Once ukdev is stopping (stopping is closed) the queue must not
// hold it: a line that finds the queue full is dropped, and finish waits at
// most outputGrace for the rest. A pipe nobody reads (`| less` left
// unpaged) then costs lines, counted, instead of a ukdev that never exits.
//
// A reader that goes away (`ukdev dev --json | head -1`) stops ukdev in
// order: the write fails with EPIPE (watchBrokenPipe keeps SIGPIPE from
// killing ukdev first) and the queue calls its stop function.
type outputQueue struct {
	stopping <-chan struct{}
	stop     func() // asks ukdev to stop: the reader of its output is gone
	lines    chan queuedLine
	done     chan struct{} // closed when the writing goroutine has returned

	stoppedAt atomic.Int64 // when stopping closed, in Unix nanoseconds
	dropped   atomic.Int64
	writing   atomic.Bool // a Write is in progress
	err       error       // the first write error; read once done is closed
}

// queuedLine is one line and the stream it goes to.
type queuedLine struct {
	w io.Writer
	b []byte
}

// outputQueueLen is the queue's capacity in lines: enough for the bursts
// of shutdown (the last build lines, vm.exit, ukdev.stop).
const outputQueueLen = 1024

// newOutputQueue starts the writing goroutine; ukdev is stopping once ctx
// is done, and stop is called when a write finds the reader gone. Call
// finish once nothing more is written through the queue.
func newOutputQueue(ctx context.Context, stop func()) *outputQueue {
	q := &outputQueue{stopping: ctx.Done(), stop: stop, lines: make(chan queuedLine, outputQueueLen), done: make(chan struct{})}
	context.AfterFunc(ctx, func() { q.stoppedAt.Store(time.Now().UnixNano()) })
	go q.run()
	return q
}

func (q *outputQueue) run() {
	defer close(q.done)
	for l := range q.lines {
		if q.err != nil {
			// Lines after a failed write would be lost or garbled.
			q.dropped.Add(1)
			continue
		}
		q.writing.Store(true)
		_, err := l.w.Write(l.b)
		q.writing.Store(false)
		if err != nil {
			q.err = err
			q.dropped.Add(1)
			if errors.Is(err, syscall.EPIPE) && q.stop != nil {
				q.stop()
			}
		}
	}
}

// writer returns an io.Writer whose every Write queues one line for w. It
// never fails: write errors are reported by finish.
func (q *outputQueue) writer(w io.Writer) io.Writer { return queueWriter{q: q, w: w} }

type queueWriter struct {
	q *outputQueue
	w io.Writer
}

func (qw queueWriter) Write(p []byte) (int, error) {
	qw.q.put(queuedLine{w: qw.w, b: bytes.Clone(p)})
	return len(p), nil
}

// put queues l, waiting for room unless ukdev is stopping.
func (q *outputQueue) put(l queuedLine) {
	select {
	case q.lines <- l:
		return
	case <-q.stopping:
	}
	select {
	case q.lines <- l:
	default:
		q.dropped.Add(1)
	}
}

// finish ends the queue (nothing may be written through it afterwards) and
// waits for the queued lines to be written: as long as that takes while
// ukdev is not stopping; once it is, until outputGrace after it began to
// stop, or for outputFinal, whichever is later. It returns how many lines
// were not written and the first write error.
func (q *outputQueue) finish() (dropped int64, err error) {
	close(q.lines)
	select {
	case <-q.done:
		return q.dropped.Load(), q.err
	case <-q.stopping:
	}
	wait := outputFinal
	if at := q.stoppedAt.Load(); at != 0 {
		wait = max(wait, time.Until(time.Unix(0, at).Add(outputGrace)))
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-q.done:
		return q.dropped.Load(), q.err
	case <-t.C:
		// The writing goroutine is stuck in a Write nobody will read; it
		// ends with the process.
		n := q.dropped.Load() + int64(len(q.lines))
		if q.writing.Load() {
			n++
		}
		return n, nil
	}
}

// watchBrokenPipe makes a write to a standard output or error whose reader
// is gone fail with EPIPE instead of killing ukdev with SIGPIPE (Go's
// default for file descriptors 1 and 2), so that the headless loop can stop
// its VM and build in order. The signals themselves are not needed: the
// channel is never read, and package signal never blocks on it. The
// returned function restores the default.
func watchBrokenPipe() (restore func()) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGPIPE)
	return func() { signal.Stop(c) }
}
