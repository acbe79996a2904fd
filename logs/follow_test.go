package logs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const followDeadline = 10 * time.Second

type chunk struct {
	boot int
	text string
}

// collector records what Follow passes to out and signals each change.
type collector struct {
	mu     sync.Mutex
	chunks []chunk
	notify chan struct{}
}

func (c *collector) out(boot int, p []byte) {
	c.mu.Lock()
	c.chunks = append(c.chunks, chunk{boot, string(p)})
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// text returns everything received for boot.
func (c *collector) text(boot int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for _, ch := range c.chunks {
		if ch.boot == boot {
			b.WriteString(ch.text)
		}
	}
	return b.String()
}

// order returns the boots in the order their bytes arrived, runs merged.
func (c *collector) order() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var boots []int
	for _, ch := range c.chunks {
		if len(boots) == 0 || boots[len(boots)-1] != ch.boot {
			boots = append(boots, ch.boot)
		}
	}
	return boots
}

// waitText waits until boot's received text is want.
func (c *collector) waitText(t *testing.T, boot int, want string) {
	t.Helper()
	deadline := time.NewTimer(followDeadline)
	defer deadline.Stop()
	for {
		got := c.text(boot)
		if got == want {
			return
		}
		if !strings.HasPrefix(want, got) {
			t.Fatalf("boot %d: received %q, want %q", boot, got, want)
		}
		select {
		case <-c.notify:
		case <-deadline.C:
			t.Fatalf("boot %d: after %v received %q, want %q", boot, followDeadline, got, want)
		}
	}
}

// startFollow runs Follow on a second Store over dir, as `ukdev logs -f`
// in another process would, into a new collector, and returns the
// collector and a stop function that cancels Follow and fails the test
// unless it then returns context.Canceled.
func startFollow(t *testing.T, dir string, boot int) (c *collector, stop func()) {
	t.Helper()
	c = &collector{notify: make(chan struct{}, 1)}
	reader, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open reader: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- reader.Follow(ctx, boot, c.out) }()
	return c, func() {
		t.Helper()
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Follow returned %v, want context.Canceled", err)
			}
		case <-time.After(followDeadline):
			t.Fatal("Follow did not return after cancel")
		}
	}
}

func mustWrite(t *testing.T, w *BootWriter, s string) {
	t.Helper()
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

func TestFollowAcrossBootsFromAnotherStore(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	c, stop := startFollow(t, dir, 0) // waits for the first boot

	w1, err := s.StartBoot(BootInfo{Boot: 1, Build: 1})
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, w1, "boot 1 ")
	mustWrite(t, w1, "line\n")
	// Seen before Finish: the writer flushes on its own.
	c.waitText(t, 1, "boot 1 line\n")
	mustWrite(t, w1, "bye 1\n")
	if err := w1.Finish(time.Now(), ReasonExit, nil); err != nil {
		t.Fatal(err)
	}

	w2, err := s.StartBoot(BootInfo{Boot: 2, Build: 2})
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, w2, "boot 2\n")
	c.waitText(t, 2, "boot 2\n")
	mustWrite(t, w2, "bye 2\n")
	if err := w2.Finish(time.Now(), ReasonCrash, nil); err != nil {
		t.Fatal(err)
	}
	c.waitText(t, 2, "boot 2\nbye 2\n")

	stop()
	if got := c.text(1); got != "boot 1 line\nbye 1\n" {
		t.Fatalf("boot 1 = %q", got)
	}
	if got := fmt.Sprint(c.order()); got != "[1 2]" {
		t.Fatalf("boot order = %s, want [1 2]", got)
	}
}

func TestFollowHotRebootOverlap(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	w1, err := s.StartBoot(BootInfo{Boot: 1})
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, w1, "old\n")
	c, stop := startFollow(t, dir, 0)
	c.waitText(t, 1, "old\n")

	// The new boot starts before the old one is finished; the old one
	// still prints, and none of that may be lost.
	w2, err := s.StartBoot(BootInfo{Boot: 2})
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, w2, "new\n")
	mustWrite(t, w1, "old tail\n")
	if err := w1.Finish(time.Now(), ReasonKilled, nil); err != nil {
		t.Fatal(err)
	}
	c.waitText(t, 2, "new\n")
	if got := c.text(1); got != "old\nold tail\n" {
		t.Fatalf("boot 1 = %q, want its tail too", got)
	}
	if got := fmt.Sprint(c.order()); got != "[1 2]" {
		t.Fatalf("boot order = %s, want [1 2]", got)
	}
	if err := w2.Finish(time.Now(), ReasonExit, nil); err != nil {
		t.Fatal(err)
	}
	stop()
}

func TestFollowOlderBootContinuesToNewer(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	runBoot(t, s, 1, 1, "first\n")
	runBoot(t, s, 2, 1, "second\n")
	runBoot(t, s, 3, 1, "third\n")

	c, stop := startFollow(t, dir, 2)
	c.waitText(t, 3, "third\n")
	stop()
	if got := c.text(1); got != "" {
		t.Fatalf("boot 1 streamed: %q", got)
	}
	if got := c.text(2); got != "second\n" {
		t.Fatalf("boot 2 = %q", got)
	}
}

func TestFollowLeavesAbandonedBoot(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	// A writer that died: boot 1 stays "running" in the index forever.
	if _, err := s.StartBoot(BootInfo{Boot: 1}); err != nil {
		t.Fatal(err)
	}
	c, stop := startFollow(t, dir, 1)
	runBoot(t, s, 2, 1, "alive\n")
	c.waitText(t, 2, "alive\n")
	stop()
}

func TestFollowSkipsPrunedFile(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	runBoot(t, s, 1, 1, "gone\n")
	runBoot(t, s, 2, 1, "here\n")
	if err := os.Remove(filepath.Join(dir, "boot-000001.log")); err != nil {
		t.Fatal(err)
	}
	c, stop := startFollow(t, dir, 1)
	c.waitText(t, 2, "here\n")
	stop()
}

func TestFollowErrors(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	runBoot(t, s, 1, 1, "x")
	ctx := context.Background()
	tests := []struct {
		name string
		boot int
		out  func(int, []byte)
		is   error
	}{
		{"unknown boot", 9, func(int, []byte) {}, ErrNoSuchBoot},
		{"negative boot", -1, func(int, []byte) {}, nil},
		{"nil out", 0, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Follow(ctx, tt.boot, tt.out)
			if err == nil || (tt.is != nil && !errors.Is(err, tt.is)) {
				t.Fatalf("Follow error = %v, want %v", err, tt.is)
			}
		})
	}
}

func TestFollowEmptyStoreReturnsOnCancel(t *testing.T) {
	dir := t.TempDir()
	openStore(t, dir, Options{})
	_, stop := startFollow(t, dir, 0)
	stop()
}

// TestFollowAcrossCuts follows a boot whose file the writer cuts again and
// again to stay under the limit: a follower that keeps up must see every
// byte once, in order, as if nothing were cut.
func TestFollowAcrossCuts(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{MaxBytes: 2 << 10})
	w, err := s.StartBoot(BootInfo{Boot: 1})
	if err != nil {
		t.Fatal(err)
	}
	c, stop := startFollow(t, dir, 1)
	var all strings.Builder
	for burst := range 12 {
		// A burst stays under half the limit, so the follower is never
		// more than one cut behind.
		text := numbered(fmt.Sprintf("burst %02d", burst), 0, 45) // 900 bytes
		mustWrite(t, w, text)
		all.WriteString(text)
		c.waitText(t, 1, all.String())
	}
	if err := w.Finish(time.Now(), ReasonExit, nil); err != nil {
		t.Fatal(err)
	}
	stop()
	data, err := os.ReadFile(s.Path(1))
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 2<<10 || !strings.Contains(string(data), "[ukdev: ") {
		t.Fatalf("the boot's file was not cut (%d bytes): the test did not test cuts", len(data))
	}
}
