package main

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// blockedWriter never returns from Write until released, like a pipe that
// nobody reads.
type blockedWriter struct{ release chan struct{} }

func (w blockedWriter) Write(p []byte) (int, error) {
	<-w.release
	return len(p), nil
}

// syncBuilder is a strings.Builder safe for the queue's goroutine and the
// test.
type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type failingWriter struct{}

var errWrite = errors.New("write failed")

func (failingWriter) Write([]byte) (int, error) { return 0, errWrite }

func TestOutputQueueKeepsOrderAcrossStreams(t *testing.T) {
	var out syncBuilder
	q := newOutputQueue(make(chan struct{}))
	stdout, stderr := q.writer(&out), q.writer(&out)
	var want strings.Builder
	for i := range 3 * outputQueueLen {
		w, name := stdout, "out"
		if i%3 == 0 {
			w, name = stderr, "err"
		}
		line := fmt.Sprintf("%s %d\n", name, i)
		fmt.Fprint(w, line)
		want.WriteString(line)
	}
	dropped, err := q.finish()
	if dropped != 0 || err != nil {
		t.Fatalf("finish = %d, %v; want 0, nil", dropped, err)
	}
	if out.String() != want.String() {
		t.Errorf("lines out of order or lost: got %d bytes, want %d", len(out.String()), want.Len())
	}
}

// TestOutputQueueStoppingDropsAndCounts: once ukdev stops, a reader that
// never reads costs counted lines, not a ukdev that never ends.
func TestOutputQueueStoppingDropsAndCounts(t *testing.T) {
	stopping := make(chan struct{})
	stuck := blockedWriter{release: make(chan struct{})}
	defer close(stuck.release)
	q := newOutputQueue(stopping)
	w := q.writer(stuck)

	// Before the stop, a full queue holds the writer back.
	for range outputQueueLen + 1 { // one is taken by the stuck Write
		fmt.Fprintln(w, "line")
	}
	held := make(chan struct{})
	go func() {
		fmt.Fprintln(w, "held")
		close(held)
	}()
	select {
	case <-held:
		t.Fatal("a write to a full queue returned before ukdev was stopping")
	case <-time.After(50 * time.Millisecond): // proving a negative: it stays blocked
	}
	close(stopping)
	<-held // dropped or queued, it returns now

	const more = 10
	for range more {
		fmt.Fprintln(w, "after stop")
	}
	start := time.Now()
	dropped, err := q.finish()
	if elapsed := time.Since(start); elapsed > outputGrace+time.Second {
		t.Errorf("finish took %v, want about %v", elapsed, outputGrace)
	}
	if err != nil {
		t.Errorf("finish err = %v", err)
	}
	// Nothing was written: every line is counted.
	if want := int64(outputQueueLen + 1 + 1 + more); dropped != want {
		t.Errorf("dropped = %d, want %d", dropped, want)
	}
}

func TestOutputQueueWriteError(t *testing.T) {
	q := newOutputQueue(make(chan struct{}))
	w := q.writer(failingWriter{})
	for range 3 {
		fmt.Fprintln(w, "x")
	}
	dropped, err := q.finish()
	if !errors.Is(err, errWrite) || dropped != 3 {
		t.Errorf("finish = %d, %v; want 3, %v", dropped, err, errWrite)
	}
}
