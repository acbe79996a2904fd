package logs

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func texts(lines []Line) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l.Text
	}
	return out
}

func TestRingSnapshot(t *testing.T) {
	tests := []struct {
		name     string
		capacity int
		appends  int
		want     []string
		wantSeq  uint64 // Seq of the first line kept
	}{
		{"empty", 3, 0, []string{}, 0},
		{"partial", 3, 2, []string{"0", "1"}, 1},
		{"full", 3, 3, []string{"0", "1", "2"}, 1},
		{"wrapped", 3, 7, []string{"4", "5", "6"}, 5},
		{"capacity one", 1, 4, []string{"3"}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRing(tt.capacity)
			for i := range tt.appends {
				got := r.Append(Line{Text: fmt.Sprint(i), Source: SourceConsole})
				if got.Seq != uint64(i+1) {
					t.Fatalf("Append #%d: Seq = %d, want %d", i, got.Seq, i+1)
				}
				if got.Time.IsZero() {
					t.Fatalf("Append #%d: Time not set", i)
				}
			}
			snap := r.Snapshot()
			if fmt.Sprint(texts(snap)) != fmt.Sprint(tt.want) {
				t.Fatalf("Snapshot = %q, want %q", texts(snap), tt.want)
			}
			if len(snap) > 0 && snap[0].Seq != tt.wantSeq {
				t.Fatalf("first Seq = %d, want %d", snap[0].Seq, tt.wantSeq)
			}
		})
	}
}

func TestRingDefaults(t *testing.T) {
	r := NewRing(0)
	if got := len(r.lines); got != DefaultRingCapacity {
		t.Fatalf("capacity = %d, want %d", got, DefaultRingCapacity)
	}
	s := r.Subscribe(-1)
	defer s.Close()
	if got := cap(s.ch); got != DefaultSubscriptionBuffer {
		t.Fatalf("buffer = %d, want %d", got, DefaultSubscriptionBuffer)
	}
	at := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	if got := r.Append(Line{Time: at}); !got.Time.Equal(at) {
		t.Fatalf("Append replaced a set Time: %v", got.Time)
	}
}

func TestSubscriptionReceivesAndCloses(t *testing.T) {
	r := NewRing(10)
	r.Append(Line{Text: "before"})
	s := r.Subscribe(4)
	r.Append(Line{Text: "a", Boot: 2, Build: 3, Source: SourceBuild})
	r.Append(Line{Text: "b"})
	s.Close()
	s.Close() // idempotent
	r.Append(Line{Text: "after close"})

	var got []Line
	for l := range s.C() {
		got = append(got, l)
	}
	if fmt.Sprint(texts(got)) != "[a b]" {
		t.Fatalf("received %q, want [a b]", texts(got))
	}
	if got[0].Seq != 2 || got[0].Boot != 2 || got[0].Build != 3 || got[0].Source != SourceBuild {
		t.Fatalf("first line = %+v", got[0])
	}
	if s.Dropped() != 0 {
		t.Fatalf("Dropped = %d, want 0", s.Dropped())
	}
}

func TestSlowSubscriberDropsWithoutBlocking(t *testing.T) {
	r := NewRing(100)
	slow := r.Subscribe(2)
	defer slow.Close()
	fast := r.Subscribe(1000)
	defer fast.Close()

	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 500 {
			r.Append(Line{Text: fmt.Sprint(i)})
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Append blocked on a subscriber that does not read")
	}
	if got := slow.Dropped(); got != 498 {
		t.Fatalf("slow Dropped = %d, want 498", got)
	}
	if got := fast.Dropped(); got != 0 {
		t.Fatalf("fast Dropped = %d, want 0", got)
	}
	if l := <-slow.C(); l.Text != "0" {
		t.Fatalf("slow got %q first, want the oldest line it kept", l.Text)
	}
}

func TestRingConcurrent(t *testing.T) {
	r := NewRing(64)
	const writers, perWriter = 4, 200
	var wg sync.WaitGroup
	subs := make([]*Subscription, 3)
	for i := range subs {
		subs[i] = r.Subscribe(16)
		wg.Go(func() {
			var last uint64
			for l := range subs[i].C() {
				if l.Seq <= last {
					t.Errorf("subscriber %d: Seq %d after %d", i, l.Seq, last)
				}
				last = l.Seq
			}
		})
	}
	var writersWG sync.WaitGroup
	for w := range writers {
		writersWG.Go(func() {
			for i := range perWriter {
				r.Append(Line{Text: fmt.Sprint(w, i)})
				if i%50 == 0 {
					r.Snapshot()
				}
			}
		})
	}
	writersWG.Wait()
	for _, s := range subs {
		s.Close()
	}
	wg.Wait()
	snap := r.Snapshot()
	if len(snap) != 64 || snap[len(snap)-1].Seq != writers*perWriter {
		t.Fatalf("snapshot has %d lines ending at Seq %d", len(snap), snap[len(snap)-1].Seq)
	}
	for i := 1; i < len(snap); i++ {
		if snap[i].Seq != snap[i-1].Seq+1 {
			t.Fatalf("snapshot Seq gap: %d then %d", snap[i-1].Seq, snap[i].Seq)
		}
	}
}

// TestRingBoundedByBytes floods a ring with 64 KiB lines, as a build
// printing long lines does: the ring must hold a bounded number of bytes,
// not capacity times the longest line.
func TestRingBoundedByBytes(t *testing.T) {
	r := NewRing(10000)
	long := strings.Repeat("x", 64<<10)
	for range 2000 {
		r.Append(Line{Source: SourceBuild, Text: long})
	}
	held := 0
	snap := r.Snapshot()
	for _, l := range snap {
		held += len(l.Text)
	}
	if held > 16<<20 {
		t.Fatalf("ring holds %d MiB of text in %d lines, want at most 16 MiB", held>>20, len(snap))
	}
	last := snap[len(snap)-1]
	if last.Seq != 2000 || !strings.HasPrefix(last.Text, long[:1000]) || !strings.Contains(last.Text, "bytes]") {
		t.Fatalf("newest line: seq %d, %d bytes ending %q; want seq 2000 cut with a marker", last.Seq, len(last.Text), last.Text[max(len(last.Text)-40, 0):])
	}
}

func TestRingSizeEvictsByBytes(t *testing.T) {
	tests := []struct {
		name    string
		appends []string
		want    []string
	}{
		{"under", []string{"aaaa", "bbbb"}, []string{"aaaa", "bbbb"}},
		{"over evicts the oldest", []string{"aaaa", "bbbb", "cccc"}, []string{"bbbb", "cccc"}},
		{"a line over the limit is kept alone", []string{"aaaa", "0123456789ab"}, []string{"0123456789ab"}},
		{"lines limit still applies", []string{"a", "b", "c", "d", "e"}, []string{"b", "c", "d", "e"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRingSize(4, 10)
			for _, s := range tt.appends {
				r.Append(Line{Text: s})
			}
			if got := texts(r.Snapshot()); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("Snapshot = %q, want %q", got, tt.want)
			}
		})
	}
}
