package logs

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// flushInterval bounds how long written bytes may sit in the buffer, so a
// follower in another process sees console output promptly.
const flushInterval = 100 * time.Millisecond

// ErrFinished is returned by a BootWriter used after Finish.
var ErrFinished = errors.New("boot writer finished")

// BootWriter appends the raw console bytes of one boot to its log file.
// Writes are buffered and flushed within flushInterval of the first
// unflushed byte, and on Finish. It is safe for concurrent use.
//
// The file never grows much past the store's limit for one file (MaxBytes,
// at least 1 KiB): when a write takes it over, the writer replaces the file
// by a cut copy of half the limit (the first quarter-limit bytes of the
// boot, a marker line saying how many bytes were cut, the most recent
// bytes) and carries on appending to the copy. The copy is written to a
// temporary file, locked and renamed over the boot's file, so the boot's
// file is a whole log at every moment: after a SIGKILL of ukdev it holds
// the boot's head, the marker and its tail up to the last flush (at most
// flushInterval of output is lost, as without a cut). A follower holding
// the old file reads it to its end and carries on in the copy (see Follow).
// Copying holds the writer, so the console waits for it: with the default
// 256 MiB limit, a copy of 128 MiB once per 128 MiB of output.
type BootWriter struct {
	store *Store
	boot  int
	info  BootInfo // as recorded when the boot started
	limit int64    // most bytes the file holds before it is cut

	mu       sync.Mutex
	file     *os.File
	buf      *bufio.Writer
	size     int64       // the file's size, buffered bytes included
	cut      *cutMap     // how the file was cut; nil while it is whole
	nextCut  int64       // size below which no cut is tried (after a failed one)
	timer    *time.Timer // pending flush, nil when the buffer is clean
	flushErr error       // first error of a background flush
	finished bool
}

func newBootWriter(s *Store, info BootInfo, f *os.File) *BootWriter {
	return &BootWriter{store: s, boot: info.Boot, info: info, limit: s.fileLimit(), file: f, buf: bufio.NewWriterSize(f, 64<<10)}
}

// Boot returns the boot number the writer writes.
func (w *BootWriter) Boot() int { return w.boot }

// Write appends p to the boot's log. It never drops bytes of p: it either
// buffers all of p or returns an error (a full disk, a failed flush). A
// failed cut is returned with all of p written, and tried again later.
func (w *BootWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.finished {
		return 0, fmt.Errorf("logs: write boot %d: %w", w.boot, ErrFinished)
	}
	if w.flushErr != nil {
		return 0, fmt.Errorf("logs: write boot %d: %w", w.boot, w.flushErr)
	}
	n, err := w.buf.Write(p)
	w.size += int64(n)
	if err != nil {
		return n, fmt.Errorf("logs: write boot %d: %w", w.boot, err)
	}
	if w.size > w.limit && w.size >= w.nextCut {
		if err := w.cutFile(); err != nil {
			w.nextCut = w.size + w.limit/2
			return n, fmt.Errorf("logs: write boot %d: %w", w.boot, err)
		}
	}
	if w.buf.Buffered() > 0 && w.timer == nil {
		w.timer = time.AfterFunc(flushInterval, w.timedFlush)
	}
	return n, nil
}

// cutFile replaces the boot's file by a cut copy of half the limit and
// carries on appending to the copy, then prunes older boots to make room.
// w.mu must be held.
func (w *BootWriter) cutFile() error {
	if err := w.buf.Flush(); err != nil {
		return err
	}
	s := w.store
	s.mu.Lock()
	defer s.mu.Unlock()
	tmp, m, err := cutCopy(s.dir, w.file, w.size, w.cut, w.limit/2)
	if err != nil {
		return err
	}
	// Locked before it becomes the boot's file: see probeBoot.
	err = unix.Flock(int(tmp.Fd()), unix.LOCK_EX)
	var size int64
	if err == nil {
		size, err = tmp.Seek(0, io.SeekEnd)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), s.Path(w.boot))
	}
	if err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("cut: %w", err)
	}
	w.file.Close()
	w.file, w.cut, w.size = tmp, &m, size
	w.buf.Reset(tmp)
	return s.updateIndex(s.prune)
}

// timedFlush runs on the flush timer's goroutine.
func (w *BootWriter) timedFlush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.timer = nil
	if w.finished {
		return
	}
	if err := w.buf.Flush(); err != nil && w.flushErr == nil {
		w.flushErr = err
	}
}

// Finish flushes the log file, records the end of the boot in the index,
// prunes old boots and closes the file. exitCode may be nil. Finish may be
// called once; later calls return ErrFinished.
func (w *BootWriter) Finish(end time.Time, reason string, exitCode *int) error {
	w.mu.Lock()
	if w.finished {
		w.mu.Unlock()
		return fmt.Errorf("logs: finish boot %d: %w", w.boot, ErrFinished)
	}
	w.finished = true
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
	var errs []error
	if w.flushErr != nil {
		errs = append(errs, w.flushErr)
	}
	if err := w.buf.Flush(); err != nil {
		errs = append(errs, err)
	}
	size := w.size
	w.mu.Unlock()

	if err := errors.Join(errs...); err != nil {
		errs = []error{fmt.Errorf("logs: finish boot %d: %w", w.boot, err)}
	}
	// The index is updated even when the file failed, so the boot does
	// not look like it is still running. The file is closed only then: its
	// lock tells readers the boot runs until the index says it ended.
	if err := w.store.finishBoot(w.info, end, reason, exitCode, size); err != nil {
		errs = append(errs, err)
	}
	if err := w.file.Close(); err != nil {
		errs = append(errs, fmt.Errorf("logs: finish boot %d: %w", w.boot, err))
	}
	return errors.Join(errs...)
}
