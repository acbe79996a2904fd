package logs

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/ukdev/ukdev/nofollow"
)

const (
	diagnosticsName = "ukdev.log"
	// diagnosticsMaxBytes is the size past which ukdev.log is rotated to
	// ukdev.log.1, so ukdev's own log never grows without bound.
	diagnosticsMaxBytes = 10 << 20
)

// OpenDiagnostics opens ukdev's own log, ukdev.log in dir (created with
// mode 0700 if needed), and returns a logger writing text records to it at
// debug level and above. Once the file is over 10 MiB it is renamed to
// ukdev.log.1 (replacing the previous one) and a new file is started.
// ukdev's messages go there, never to the terminal it draws on. The
// caller closes the returned Closer when done; later records are lost.
func OpenDiagnostics(dir string) (*slog.Logger, io.Closer, error) {
	if dir == "" {
		return nil, nil, errors.New("logs: open diagnostics: empty directory name")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("logs: open diagnostics: %w", err)
	}
	f, err := openRotatingFile(filepath.Join(dir, diagnosticsName), diagnosticsMaxBytes)
	if err != nil {
		return nil, nil, fmt.Errorf("logs: open diagnostics: %w", err)
	}
	h := slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug})
	return slog.New(h), f, nil
}

// rotatingFile is an append-only file that moves itself to path+".1"
// before a write would take it over limit bytes. slog handlers write
// each record with one Write, so records are never split across files.
type rotatingFile struct {
	path  string
	limit int64

	mu   sync.Mutex
	file *os.File // nil once closed
	size int64
}

func openRotatingFile(path string, limit int64) (*rotatingFile, error) {
	r := &rotatingFile{path: path, limit: limit}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *rotatingFile) open() error {
	f, err := nofollow.OpenFile(r.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	r.file, r.size = f, fi.Size()
	return nil
}

// Write appends p, rotating first when needed.
func (r *rotatingFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.file == nil {
		return 0, fmt.Errorf("logs: diagnostics: %w", os.ErrClosed)
	}
	var rotateErr error
	if r.size > 0 && r.size+int64(len(p)) > r.limit {
		if err := r.rotate(); err != nil {
			rotateErr = fmt.Errorf("logs: diagnostics: rotate: %w", err)
			if r.file == nil {
				return 0, rotateErr
			}
		}
	}
	// A failed rotation still writes the record, to the old file.
	n, err := r.file.Write(p)
	r.size += int64(n)
	if err != nil {
		return n, errors.Join(rotateErr, fmt.Errorf("logs: diagnostics: %w", err))
	}
	return n, rotateErr
}

// rotate renames the full file aside and opens a new one. When the rename
// fails the old file is reopened, so logging goes on. r.mu must be held.
func (r *rotatingFile) rotate() error {
	cerr := r.file.Close()
	r.file = nil
	rerr := os.Rename(r.path, r.path+".1")
	if err := r.open(); err != nil {
		return errors.Join(cerr, rerr, err)
	}
	return errors.Join(cerr, rerr)
}

// Close closes the file. Close is idempotent.
func (r *rotatingFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.file == nil {
		return nil
	}
	err := r.file.Close()
	r.file = nil
	if err != nil {
		return fmt.Errorf("logs: diagnostics: close: %w", err)
	}
	return nil
}
