package logs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

const (
	// pollWatched is the safety-net poll when fsnotify works: it catches
	// missed events and lets the stale-boot rule below fire.
	pollWatched = 500 * time.Millisecond
	// pollUnwatched is the poll when fsnotify cannot watch the directory.
	pollUnwatched = 100 * time.Millisecond
	// staleGrace is how long a follower stays on a boot the index still
	// shows as running once a newer boot appeared, counted from the later
	// of that moment and the file's last growth. It covers a writer that
	// died without Finish, while a hot reboot (new boot started, old one
	// finished moments later) loses no bytes of the old boot.
	staleGrace = time.Second
)

// Follow streams boot's log from its start to out, then keeps following
// it as it grows. boot 0 means the newest boot (Follow waits for the
// first one in an empty store). When a newer boot appears in the index,
// Follow moves on to it once the current boot is finished, reading the
// current file to its end first. It returns ctx.Err() when ctx is done,
// and another error only when the store cannot be read.
//
// A boot file cut to stay under the size limit (see BootWriter) is read to
// its end and followed on in the cut copy from the same point of the
// boot's output, so a follower that keeps up sees every byte once; one
// that fell behind by more than the part cut out gets the marker instead.
//
// Follow works from another process while one writes the store. out is
// called from Follow's goroutine; p is valid only during the call.
func (s *Store) Follow(ctx context.Context, boot int, out func(boot int, p []byte)) error {
	if out == nil {
		return errors.New("logs: follow: nil output function")
	}
	if boot < 0 {
		return fmt.Errorf("logs: follow: boot number %d is negative", boot)
	}
	wake := newDirWake(s.dir)
	defer wake.close()

	cur, err := s.firstToFollow(ctx, boot, wake)
	if err != nil {
		return err
	}
	buf := make([]byte, 32<<10)
	for {
		next, err := s.followOne(ctx, cur, buf, out, wake)
		if err != nil {
			return err
		}
		cur = next
	}
}

// firstToFollow resolves boot 0 to the newest boot, waiting for one.
func (s *Store) firstToFollow(ctx context.Context, boot int, wake *dirWake) (int, error) {
	for {
		boots, err := s.Boots()
		var w *IndexWarning
		if err != nil && !errors.As(err, &w) {
			return 0, fmt.Errorf("logs: follow: %w", err)
		}
		if boot != 0 {
			if _, ok := findBoot(boots, boot); !ok {
				return 0, fmt.Errorf("logs: follow: boot %d: %w", boot, ErrNoSuchBoot)
			}
			return boot, nil
		}
		if len(boots) > 0 {
			return boots[len(boots)-1].Boot, nil
		}
		if err := wake.wait(ctx); err != nil {
			return 0, err
		}
	}
}

// followOne streams one boot and returns the boot to follow next. A boot
// whose file is gone (pruned) is skipped.
func (s *Store) followOne(ctx context.Context, cur int, buf []byte, out func(int, []byte), wake *dirWake) (int, error) {
	f, err := os.Open(s.Path(cur))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("logs: follow: %w", err)
	}
	var cut *cutMap
	if f != nil {
		cut = readCutMap(f)
		defer func() { f.Close() }()
	}
	lastGrowth := time.Now()
	var newerSeen time.Time // when a newer boot was first seen in the index
	for {
		if f != nil {
			grew, err := drain(f, cur, buf, out)
			if err != nil {
				return 0, fmt.Errorf("logs: follow: %w", err)
			}
			if f, cut, err = followCut(s.Path(cur), f, cut, cur, buf, out); err != nil {
				return 0, fmt.Errorf("logs: follow: %w", err)
			}
			if grew {
				lastGrowth = time.Now()
			}
		}
		if wake.indexMayHaveChanged() {
			boots, err := s.Boots()
			var w *IndexWarning
			if err != nil && !errors.As(err, &w) {
				return 0, fmt.Errorf("logs: follow: %w", err)
			}
			if next, ok := nextBoot(boots, cur); ok {
				if newerSeen.IsZero() {
					newerSeen = time.Now()
				}
				i, listed := findBoot(boots, cur)
				finished := !listed || !boots[i].Running()
				stale := time.Since(later(lastGrowth, newerSeen)) >= staleGrace
				if f == nil || finished || stale {
					// The writer closed the file before recording the
					// end, so this read gets the last bytes.
					if f != nil {
						if _, err := drain(f, cur, buf, out); err != nil {
							return 0, fmt.Errorf("logs: follow: %w", err)
						}
					}
					return next, nil
				}
			}
		}
		if err := wake.wait(ctx); err != nil {
			return 0, err
		}
	}
}

// followCut returns f and its cut, or, when the file at path is not f any
// more because it was replaced by a cut copy, the copy positioned at the
// first byte of the boot's output that f did not hold, and its cut. It
// reads f to its end first: f no longer grows.
func followCut(path string, f *os.File, cut *cutMap, boot int, buf []byte, out func(int, []byte)) (*os.File, *cutMap, error) {
	now, err := os.Stat(path)
	if err != nil {
		return f, cut, nil // pruned: the caller moves on
	}
	was, err := f.Stat()
	if err != nil {
		return f, cut, err
	}
	if os.SameFile(was, now) {
		return f, cut, nil
	}
	if _, err := drain(f, boot, buf, out); err != nil {
		return f, cut, err
	}
	read, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return f, cut, err
	}
	next, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, cut, nil
	}
	if err != nil {
		return f, cut, err
	}
	nextCut := readCutMap(next)
	if nextCut != nil {
		_, err = next.Seek(nextCut.fileOffset(cut.outputOffset(read)), io.SeekStart)
	} else {
		// No map (a file system without extended attributes): carry on
		// with what is written from now on.
		_, err = next.Seek(0, io.SeekEnd)
	}
	if err != nil {
		next.Close()
		return f, cut, err
	}
	f.Close()
	return next, nextCut, nil
}

// drain reads f to its current end, passing the bytes to out.
func drain(f *os.File, boot int, buf []byte, out func(int, []byte)) (bool, error) {
	grew := false
	for {
		n, err := f.Read(buf)
		if n > 0 {
			grew = true
			out(boot, buf[:n])
		}
		if errors.Is(err, io.EOF) {
			return grew, nil
		}
		if err != nil {
			return grew, err
		}
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// nextBoot returns the smallest boot after cur.
func nextBoot(boots []BootInfo, cur int) (int, bool) {
	for _, b := range boots {
		if b.Boot > cur {
			return b.Boot, true
		}
	}
	return 0, false
}

// dirWake wakes a follower when something in the store directory changes,
// through fsnotify, with a poll as a safety net (or as the only source
// when fsnotify is unavailable).
type dirWake struct {
	watcher      *fsnotify.Watcher // nil when unavailable
	ticker       *time.Ticker
	indexChanged bool
}

func newDirWake(dir string) *dirWake {
	d := &dirWake{indexChanged: true}
	w, err := fsnotify.NewWatcher()
	if err == nil {
		if err = w.Add(dir); err != nil {
			w.Close()
		}
	}
	if err == nil {
		d.watcher = w
		d.ticker = time.NewTicker(pollWatched)
	} else {
		d.ticker = time.NewTicker(pollUnwatched)
	}
	return d
}

// indexMayHaveChanged reports whether the index should be read again, and
// resets the flag.
func (d *dirWake) indexMayHaveChanged() bool {
	changed := d.indexChanged
	d.indexChanged = false
	return changed
}

// wait blocks until something may have changed or ctx is done. Queued
// events are coalesced into one wake-up.
func (d *dirWake) wait(ctx context.Context) error {
	var events <-chan fsnotify.Event
	var errs <-chan error
	if d.watcher != nil {
		events, errs = d.watcher.Events, d.watcher.Errors
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-d.ticker.C:
		d.indexChanged = true
	case ev, ok := <-events:
		if !ok {
			return d.degrade()
		}
		d.note(ev)
	case _, ok := <-errs:
		// An error (such as a queue overflow) means events were lost.
		if !ok {
			return d.degrade()
		}
		d.indexChanged = true
	}
	for d.watcher != nil {
		select {
		case ev, ok := <-events:
			if !ok {
				return d.degrade()
			}
			d.note(ev)
		default:
			return nil
		}
	}
	return nil
}

func (d *dirWake) note(ev fsnotify.Event) {
	if filepath.Base(ev.Name) == indexName {
		d.indexChanged = true
	}
}

// degrade falls back to polling when the watcher stops.
func (d *dirWake) degrade() error {
	d.watcher.Close()
	d.watcher = nil
	d.ticker.Reset(pollUnwatched)
	d.indexChanged = true
	return nil
}

func (d *dirWake) close() {
	d.ticker.Stop()
	if d.watcher != nil {
		d.watcher.Close()
	}
}
