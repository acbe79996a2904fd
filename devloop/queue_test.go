package devloop

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestLongBuildLinesWaitForTheReader checks that build output with long
// lines cannot fill the event channel: while the reader lags, at most
// maxQueuedLong events are queued when a long line is sent, so the queue
// holds a few MiB of them rather than its capacity (8192) × 64 KiB. Short
// lines are never held back, and every line arrives, in order.
func TestLongBuildLinesWaitForTheReader(t *testing.T) {
	tests := []struct {
		name     string
		lineLen  int
		n        int
		maxQueue int // the most events queued at any receive
	}{
		{name: "64 KiB lines", lineLen: 64 << 10, n: 300, maxQueue: maxQueuedLong},
		{name: "lines just over the console's", lineLen: longLine + 1, n: 300, maxQueue: maxQueuedLong},
		{name: "short lines", lineLen: 100, n: 300, maxQueue: 300},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &Loop{events: make(chan Event, 8192)}
			ctx := t.Context()
			done := make(chan struct{})
			go func() {
				defer close(done)
				for i := range tt.n {
					text := fmt.Sprintf("%06d", i) + strings.Repeat("x", tt.lineLen-6)
					l.waitForRoom(ctx, text)
					l.emit(Event{Type: TypeBuildOutput, Build: 1, Line: text})
				}
			}()
			// Let the channel fill as far as the producer goes.
			deadline := time.Now().Add(10 * time.Second)
			for len(l.events) < min(tt.maxQueue, tt.n) && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			for i := range tt.n {
				if q := len(l.events); q > tt.maxQueue {
					t.Fatalf("%d events queued before line %d, want at most %d", q, i, tt.maxQueue)
				}
				e := <-l.events
				if want := fmt.Sprintf("%06d", i); !strings.HasPrefix(e.Line, want) {
					t.Fatalf("got line %.6s, want %s", e.Line, want)
				}
			}
			<-done
		})
	}
}

// TestLongBuildLineWaitEndsWithTheBuild checks that a long line waiting
// for the reader stops waiting when its build is canceled.
func TestLongBuildLineWaitEndsWithTheBuild(t *testing.T) {
	l := &Loop{events: make(chan Event, 8192)}
	for range maxQueuedLong {
		l.events <- Event{Type: TypeBuildOutput}
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.waitForRoom(ctx, strings.Repeat("x", 64<<10))
	}()
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("waitForRoom still waits after its build was canceled")
	}
}
