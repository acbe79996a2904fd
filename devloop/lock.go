package devloop

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ukdev/ukdev/nofollow"
)

// ErrLocked is returned (wrapped) by New when another ukdev already runs the
// loop for the same project: two loops would fight over the log store and
// the forwarded ports.
var ErrLocked = errors.New("another ukdev is running for this project")

// lockFile holds an exclusive flock on <stateDir>/lock for the loop's life.
// The kernel drops the lock when the process dies, however it dies.
type lockFile struct{ f *os.File }

func lockState(dir string) (*lockFile, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("devloop: lock: %w", err)
	}
	path := filepath.Join(dir, "lock")
	f, err := nofollow.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("devloop: lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			pid := strings.TrimSpace(string(holder))
			if pid != "" {
				return nil, fmt.Errorf("devloop: %w (pid %s)", ErrLocked, pid)
			}
			return nil, fmt.Errorf("devloop: %w", ErrLocked)
		}
		return nil, fmt.Errorf("devloop: lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &lockFile{f: f}, nil
}

// release drops the lock; it is safe on a nil lock.
func (l *lockFile) release() {
	if l == nil || l.f == nil {
		return
	}
	_ = l.f.Close()
	l.f = nil
}
