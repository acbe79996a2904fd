package logs

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// flushInterval bounds how long written bytes may sit in the buffer, so a
// follower in another process sees console output promptly.
const flushInterval = 100 * time.Millisecond

// ErrFinished is returned by a BootWriter used after Finish.
var ErrFinished = errors.New("boot writer finished")

// BootWriter appends the raw console bytes of one boot to its log file.
// Writes are buffered and flushed within flushInterval of the first
// unflushed byte, and on Finish. It is safe for concurrent use.
type BootWriter struct {
	store *Store
	boot  int
	info  BootInfo // as recorded when the boot started

	mu       sync.Mutex
	file     *os.File
	buf      *bufio.Writer
	size     int64
	timer    *time.Timer // pending flush, nil when the buffer is clean
	flushErr error       // first error of a background flush
	finished bool
}

func newBootWriter(s *Store, info BootInfo, f *os.File) *BootWriter {
	return &BootWriter{store: s, boot: info.Boot, info: info, file: f, buf: bufio.NewWriterSize(f, 64<<10)}
}

// Boot returns the boot number the writer writes.
func (w *BootWriter) Boot() int { return w.boot }

// Write appends p to the boot's log. It never drops bytes: it either
// buffers all of p or returns an error (a full disk, a failed flush).
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
	if w.buf.Buffered() > 0 && w.timer == nil {
		w.timer = time.AfterFunc(flushInterval, w.timedFlush)
	}
	return n, nil
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
