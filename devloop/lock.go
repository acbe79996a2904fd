package devloop

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/ukdev/ukdev/nofollow"
)

// ErrLocked is returned (wrapped) by New and LockProject when another
// ukdev already runs the loop for, or builds, the same project: two loops
// would fight over the log store and the forwarded ports, and two builds
// would write the same outputs at once.
var ErrLocked = errors.New("another ukdev is running for this project")

// ErrNoProjectLock is returned (wrapped) by LockProject when the project's
// file system cannot flock a directory (NFS emulates flock with fcntl
// locks, which need a file open for writing). The loop then goes on with
// its state-dir lock alone, which still keeps out a second loop started
// the same way.
var ErrNoProjectLock = errors.New("cannot lock the project directory on this file system")

// Lock is held by the one ukdev that runs a project's loop or builds it.
// It is made of flocks, which the kernel drops when the process dies,
// however it dies.
type Lock struct {
	files   []*os.File
	project *os.File // the locked project directory (one of files); nil without one
}

// LockProject takes the lock of the project whose root is root: an
// exclusive flock on the root directory itself, resolved through symlinks.
// The lock is the directory, not a path or a file under an environment
// variable, so the project reached through a symlink or a bind mount, or
// with other XDG_STATE_HOME or XDG_RUNTIME_DIR, is still the same project.
// While another process holds it, the error wraps ErrLocked and names that
// process's pid (read from /proc/locks).
func LockProject(root string) (*Lock, error) {
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, fmt.Errorf("devloop: lock project: %w", err)
	}
	f, err := os.OpenFile(real, os.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		return nil, fmt.Errorf("devloop: lock project: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			if pid := flockHolder(f); pid > 0 {
				return nil, fmt.Errorf("devloop: %w (pid %d)", ErrLocked, pid)
			}
			return nil, fmt.Errorf("devloop: %w", ErrLocked)
		}
		return nil, fmt.Errorf("devloop: lock project %s: %w: %w", real, ErrNoProjectLock, err)
	}
	return &Lock{files: []*os.File{f}, project: f}, nil
}

// relockProject moves the project lock to the directory now at root when
// the one locked was deleted or replaced (rm -rf and a fresh clone): the
// lock is the directory itself, and the old one no longer keeps out a
// second ukdev on the new one. A root that is gone is left alone; when the
// new directory cannot be locked, the old lock is kept and the error
// returned.
func (l *Lock) relockProject(root string) error {
	if l == nil || l.project == nil {
		return nil
	}
	now, err := os.Stat(root)
	if err != nil {
		return nil
	}
	if held, err := l.project.Stat(); err == nil && os.SameFile(held, now) {
		return nil
	}
	nl, err := LockProject(root)
	if errors.Is(err, ErrNoProjectLock) {
		// As at start: the state-dir lock alone then.
		return nil
	}
	if err != nil {
		return err
	}
	for i, f := range l.files {
		if f == l.project {
			l.files[i] = nl.project
		}
	}
	_ = l.project.Close()
	l.project = nl.project
	return nil
}

// flockHolder returns the pid that /proc/locks names as holding a flock on
// f's file, or 0 when it names none.
func flockHolder(f *os.File) int {
	fi, err := f.Stat()
	if err != nil {
		return 0
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0
	}
	data, err := os.ReadFile("/proc/locks")
	if err != nil {
		return 0
	}
	// "1: FLOCK  ADVISORY  WRITE 4242 fe:01:1234 0 EOF": major and minor
	// in hex, the inode in decimal. Waiters' lines have "->" after the
	// number and are skipped.
	file := fmt.Sprintf("%02x:%02x:%d", unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
	for line := range strings.Lines(string(data)) {
		fields := strings.Fields(line)
		if len(fields) < 6 || fields[1] != "FLOCK" || fields[5] != file {
			continue
		}
		if pid, err := strconv.Atoi(fields[4]); err == nil && pid > 0 {
			return pid
		}
	}
	return 0
}

// LockState takes an exclusive flock on <dir>/lock, the project's state
// dir, which then holds the pid, so that one state dir has one writer. It
// is what guards a project whose directory cannot be locked
// (ErrNoProjectLock); the error wraps ErrLocked when another ukdev holds it.
func LockState(dir string) (*Lock, error) {
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
	return &Lock{files: []*os.File{f}}, nil
}

// lockLoop takes the locks a loop holds for its life: the project's and
// its state dir's. A project lock the file system cannot take is logged.
func lockLoop(root, stateDir string, log *slog.Logger) (*Lock, error) {
	l, err := LockProject(root)
	if errors.Is(err, ErrNoProjectLock) {
		log.Warn("project lock", "err", err)
		l, err = &Lock{}, nil
	}
	if err != nil {
		return nil, err
	}
	s, err := LockState(stateDir)
	if err != nil {
		l.Release()
		return nil, err
	}
	l.files = append(l.files, s.files...)
	return l, nil
}

// Release drops the lock. It is idempotent and safe on a nil Lock.
func (l *Lock) Release() {
	if l == nil {
		return
	}
	for _, f := range l.files {
		_ = f.Close()
	}
	l.files, l.project = nil, nil
}
