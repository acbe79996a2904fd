package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"
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
	q := newOutputQueue(context.Background(), nil)
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
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	stuck := blockedWriter{release: make(chan struct{})}
	defer close(stuck.release)
	q := newOutputQueue(ctx, nil)
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
	stop()
	stopped := time.Now()
	<-held // dropped or queued, it returns now

	const more = 10
	for range more {
		fmt.Fprintln(w, "after stop")
	}
	dropped, err := q.finish()
	if elapsed := time.Since(stopped); elapsed > outputGrace+time.Second {
		t.Errorf("finish returned %v after the stop, want about %v", elapsed, outputGrace)
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
	q := newOutputQueue(context.Background(), nil)
	w := q.writer(failingWriter{})
	for range 3 {
		fmt.Fprintln(w, "x")
	}
	dropped, err := q.finish()
	if !errors.Is(err, errWrite) || dropped != 3 {
		t.Errorf("finish = %d, %v; want 3, %v", dropped, err, errWrite)
	}
}

// TestOutputQueueGraceCountsFromTheStop: the time the loop took to stop
// counts against the grace, but the last lines still get outputFinal.
func TestOutputQueueGraceCountsFromTheStop(t *testing.T) {
	ctx, stop := context.WithCancel(context.Background())
	stuck := blockedWriter{release: make(chan struct{})}
	defer close(stuck.release)
	q := newOutputQueue(ctx, nil)
	fmt.Fprintln(q.writer(stuck), "line")
	stop()
	time.Sleep(outputGrace) // a shutdown as long as the grace
	start := time.Now()
	dropped, _ := q.finish()
	if elapsed := time.Since(start); elapsed < outputFinal || elapsed > outputFinal+time.Second {
		t.Errorf("finish waited %v after a shutdown of %v, want about %v", elapsed, outputGrace, outputFinal)
	}
	if dropped != 1 {
		t.Errorf("dropped = %d, want 1", dropped)
	}
}

// epipeWriter fails like a pipe whose reader is gone.
type epipeWriter struct{}

func (epipeWriter) Write([]byte) (int, error) { return 0, syscall.EPIPE }

func TestOutputQueueStopsWhenReaderIsGone(t *testing.T) {
	tests := []struct {
		name     string
		w        io.Writer
		wantStop bool
	}{
		{"broken pipe", epipeWriter{}, true},
		{"other write error", failingWriter{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stopped := make(chan struct{})
			var once sync.Once
			q := newOutputQueue(context.Background(), func() { once.Do(func() { close(stopped) }) })
			fmt.Fprintln(q.writer(tt.w), "line")
			_, err := q.finish()
			if err == nil {
				t.Fatal("finish reports no write error")
			}
			select {
			case <-stopped:
				if !tt.wantStop {
					t.Error("stop was called for an error other than a broken pipe")
				}
			default:
				if tt.wantStop {
					t.Error("a broken pipe did not ask ukdev to stop")
				}
			}
		})
	}
}
