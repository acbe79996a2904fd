// Package logs keeps what the guest and ukdev say: one raw log file per
// boot, cut to its head and tail past a size limit, with a small index,
// pruning of old boots, following a log from another process, a bounded
// in-memory ring of lines with subscribers, a terminal-safe sanitizer for
// untrusted guest output, a byte-to-line splitter, and ukdev's own
// diagnostics log.
//
// Nothing here blocks a writer on a slow reader: the console bytes of a
// boot go to a buffered file, and ring subscribers that fall behind lose
// lines (counted) instead of stalling Append.
package logs

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ukdev/ukdev/nofollow"
	"golang.org/x/sys/unix"
)

// Default limits applied when Options leaves a field zero or negative.
const (
	// DefaultKeepBoots is how many boots a Store keeps by default.
	DefaultKeepBoots = 50
	// DefaultMaxBytes is the default total size of the boot files a Store keeps.
	DefaultMaxBytes int64 = 256 << 20
)

const (
	indexName    = "index.json"
	indexVersion = 1
	bootPrefix   = "boot-"
	bootSuffix   = ".log"
)

// Reasons a boot ended, as recorded in BootInfo.Reason. An empty reason
// means the boot is running or the reason is unknown.
const (
	// ReasonExit means the guest exited on its own (see ExitCode).
	ReasonExit = "exit"
	// ReasonCrash means the guest crashed (triple fault, crash exit code).
	ReasonCrash = "crash"
	// ReasonPanic means the guest reported a panic (pvpanic, panic text).
	ReasonPanic = "panic"
	// ReasonKilled means ukdev stopped the boot (reboot, rebuild, quit).
	ReasonKilled = "killed"
	// ReasonQEMUError means QEMU failed to start or to run the guest.
	ReasonQEMUError = "qemu-error"
	// ReasonUnknown means the end of the boot was never recorded: the ukdev
	// running it was killed (SIGKILL, a crash, the machine went down), or
	// the index was lost. End is then the last write to the boot's file.
	ReasonUnknown = "unknown"
)

// ErrNoSuchBoot is returned when a boot number is not in the index.
var ErrNoSuchBoot = errors.New("no such boot")

// ErrBootExists is returned by StartBoot when the boot number is already
// recorded or its file already exists.
var ErrBootExists = errors.New("boot already exists")

// Options sets the limits of a Store. Zero values take the defaults.
type Options struct {
	// KeepBoots is the most boots kept on disk (default DefaultKeepBoots).
	KeepBoots int
	// MaxBytes is the most bytes all boot files may use together (default
	// DefaultMaxBytes).
	MaxBytes int64
}

// BootInfo describes one boot as recorded in the index.
type BootInfo struct {
	// Boot is the boot number, 1 and up, unique in a Store.
	Boot int `json:"boot"`
	// Build is the number of the build the boot ran.
	Build int `json:"build"`
	// Start is when the boot started.
	Start time.Time `json:"start,omitzero"`
	// End is when the boot ended; zero while it runs.
	End time.Time `json:"end,omitzero"`
	// Accel is the accelerator QEMU used ("kvm", "tcg").
	Accel string `json:"accel,omitempty"`
	// Machine is the QEMU machine type.
	Machine string `json:"machine,omitempty"`
	// Reason says how the boot ended: "", or one of the Reason constants.
	Reason string `json:"reason,omitempty"`
	// ExitCode is the guest's decoded exit code, when it had one.
	ExitCode *int `json:"exit_code,omitempty"`
	// Bytes is the size of the boot's log file: recorded when it ends, and
	// for a running boot its size when the index was read.
	Bytes int64 `json:"bytes"`
	// File is the base name of the boot's log file, e.g. "boot-000007.log".
	File string `json:"file"`
}

// Running reports whether the boot has not ended yet.
func (b BootInfo) Running() bool { return b.End.IsZero() }

// IndexWarning reports that index.json was missing or unreadable and the
// boot list was rebuilt from the boot file names, which loses builds,
// times and reasons. Operations that return it still return complete
// results: callers log it and carry on (errors.As tells it apart). The
// next change to the Store writes a fresh index and moves the unreadable
// one aside to index.json.corrupt.
type IndexWarning struct {
	// Path is the index file.
	Path string
	// Err is why it could not be used.
	Err error
}

// Error describes the warning.
func (w *IndexWarning) Error() string {
	return fmt.Sprintf("logs: index %s unusable, rebuilt from file names: %v", w.Path, w.Err)
}

// Unwrap returns the reason the index could not be used.
func (w *IndexWarning) Unwrap() error { return w.Err }

// Store is a directory of per-boot console logs with an index. One
// process writes a Store (StartBoot, Finish); any number of processes may
// read and follow it. Its methods are safe for concurrent use.
type Store struct {
	dir  string
	opts Options

	mu      sync.Mutex
	running map[int]bool // boots with an open BootWriter in this Store
}

type indexFile struct {
	Version int        `json:"version"`
	Boots   []BootInfo `json:"boots"`
}

// Open opens the store in dir, creating the directory with mode 0700 if
// needed. When the index is missing or corrupt it returns the usable Store
// together with an *IndexWarning.
func Open(dir string, opts Options) (*Store, error) {
	if dir == "" {
		return nil, errors.New("logs: open: empty directory name")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("logs: open: %w", err)
	}
	if opts.KeepBoots <= 0 {
		opts.KeepBoots = DefaultKeepBoots
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	s := &Store{dir: dir, opts: opts, running: map[int]bool{}}
	if _, err := s.readIndex(); err != nil {
		var w *IndexWarning
		if errors.As(err, &w) {
			return s, err
		}
		return nil, fmt.Errorf("logs: open: %w", err)
	}
	return s, nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// Path returns the log file path of a boot, whether or not it exists.
func (s *Store) Path(boot int) string { return filepath.Join(s.dir, bootFileName(boot)) }

// Boots returns the boots in the index, in ascending boot order. It reads
// the index from disk each time, so it sees boots written by another
// process. A rebuilt index comes with an *IndexWarning.
func (s *Store) Boots() ([]BootInfo, error) {
	boots, err := s.readIndex()
	var w *IndexWarning
	if err != nil && !errors.As(err, &w) {
		return nil, fmt.Errorf("logs: boots: %w", err)
	}
	return boots, err
}

// NextNumbers returns the boot and build numbers that follow the highest
// ones recorded (1, 1 for a new store). Boot files on disk that the index
// does not list count too, so a number is never reused. An IndexWarning
// is not reported here: Open and Boots report it.
func (s *Store) NextNumbers() (boot, build int, err error) {
	boots, err := s.readIndex()
	var w *IndexWarning
	if err != nil && !errors.As(err, &w) {
		return 0, 0, fmt.Errorf("logs: next numbers: %w", err)
	}
	onDisk, err := s.scanFiles()
	if err != nil {
		return 0, 0, fmt.Errorf("logs: next numbers: %w", err)
	}
	for _, b := range append(boots, onDisk...) {
		boot = max(boot, b.Boot)
		build = max(build, b.Build)
	}
	return boot + 1, build + 1, nil
}

// StartBoot creates the log file of boot b.Boot and records the boot in
// the index as running. b.File, b.End, b.Reason, b.ExitCode and b.Bytes
// are set by the Store; a zero b.Start means now. The caller must Finish
// the returned writer.
func (s *Store) StartBoot(b BootInfo) (*BootWriter, error) {
	if b.Boot <= 0 {
		return nil, fmt.Errorf("logs: start boot: boot number %d is not positive", b.Boot)
	}
	if b.Start.IsZero() {
		b.Start = time.Now()
	}
	b.File = bootFileName(b.Boot)
	b.End, b.Reason, b.ExitCode, b.Bytes = time.Time{}, "", nil, 0

	s.mu.Lock()
	defer s.mu.Unlock()
	var f *os.File
	err := s.updateIndex(func(boots []BootInfo) ([]BootInfo, error) {
		if _, ok := findBoot(boots, b.Boot); ok {
			return nil, fmt.Errorf("boot %d: %w", b.Boot, ErrBootExists)
		}
		var err error
		// Read too: a cut copies the file's head and tail (see BootWriter).
		f, err = nofollow.OpenFile(s.Path(b.Boot), os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("boot %d: %w", b.Boot, ErrBootExists)
		}
		if err != nil {
			return nil, err
		}
		// Locked before the index lists the boot as running: see probeBoot.
		// A reader probing the new file holds its shared lock for a moment
		// only, so waiting for it is short.
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
			return nil, fmt.Errorf("boot %d: lock %s: %w", b.Boot, f.Name(), err)
		}
		return append(boots, b), nil
	})
	if err != nil {
		if f != nil {
			f.Close()
			os.Remove(f.Name())
		}
		return nil, fmt.Errorf("logs: start boot: %w", err)
	}
	s.running[b.Boot] = true
	return newBootWriter(s, b, f), nil
}

// finishBoot records the end of the boot started as info, then prunes old
// boots.
func (s *Store) finishBoot(info BootInfo, end time.Time, reason string, exitCode *int, size int64) error {
	boot := info.Boot
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.running, boot)
	err := s.updateIndex(func(boots []BootInfo) ([]BootInfo, error) {
		i, ok := findBoot(boots, boot)
		if !ok {
			// The index was lost and rebuilt without this boot's file
			// (or someone removed it): record the boot again.
			boots = append(boots, info)
			slices.SortFunc(boots, func(a, b BootInfo) int { return a.Boot - b.Boot })
			i, _ = findBoot(boots, boot)
		}
		b := &boots[i]
		// What the writer recorded at the start is kept, also when the
		// index was rebuilt from the files in between.
		b.Build, b.Start, b.Accel, b.Machine = info.Build, info.Start, info.Accel, info.Machine
		b.End, b.Reason, b.Bytes = end, reason, size
		if exitCode != nil {
			code := *exitCode
			b.ExitCode = &code
		}
		return s.prune(boots)
	})
	if err != nil {
		return fmt.Errorf("logs: finish boot %d: %w", boot, err)
	}
	return nil
}

// fileLimit is the most bytes one boot's file holds: MaxBytes, but never
// less than minFileBytes. A longer boot keeps its head and its tail.
func (s *Store) fileLimit() int64 { return max(s.opts.MaxBytes, minFileBytes) }

// prune keeps the store within KeepBoots boots and MaxBytes bytes, and
// returns the boots that remain. It never touches a boot this Store is
// still writing (its writer cuts its own file) and never deletes the
// newest boot. A finished boot file over the limit for one file is cut to
// its head and tail. Then, oldest first:
//
//   - over KeepBoots, boots are deleted, those that ended in a crash or a
//     panic only once no other boot is left to delete;
//   - over MaxBytes, boots are deleted, but not those that ended in a crash
//     or a panic: the older of these are cut instead, down to a
//     sixteenth of the limit each (1 KiB at least), so that their head and
//     tail, where a crash report is, stay. When they are still over,
//     the store stays over MaxBytes.
//
// s.mu must be held.
func (s *Store) prune(boots []BootInfo) ([]BootInfo, error) {
	s.removeStaleCuts()
	limit := s.fileLimit()
	newest := 0
	if len(boots) > 0 {
		newest = boots[len(boots)-1].Boot
	}
	pinned := func(b BootInfo) bool { return b.Boot == newest || s.running[b.Boot] }
	spared := func(b BootInfo) bool { return pinned(b) || b.Reason == ReasonCrash || b.Reason == ReasonPanic }

	var errs []error
	sizes := make([]int64, len(boots))
	var total int64
	for i, b := range boots {
		if fi, err := os.Stat(s.Path(b.Boot)); err == nil {
			sizes[i] = fi.Size()
		}
		if sizes[i] > limit && !s.running[b.Boot] {
			if n, err := s.cutFinished(b.Boot, limit); err != nil {
				errs = append(errs, fmt.Errorf("prune: %w", err))
			} else {
				sizes[i], boots[i].Bytes = n, n
			}
		}
		total += sizes[i]
	}

	gone := make([]bool, len(boots))
	count := len(boots)
	remove := func(i int) {
		if err := os.Remove(s.Path(boots[i].Boot)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("prune: %w", err))
			return
		}
		gone[i] = true
		count--
		total -= sizes[i]
	}
	for _, keep := range []func(BootInfo) bool{spared, pinned} {
		for i, b := range boots {
			if count > s.opts.KeepBoots && !gone[i] && !keep(b) {
				remove(i)
			}
		}
	}
	for i, b := range boots {
		if total > s.opts.MaxBytes && !gone[i] && !spared(b) {
			remove(i)
		}
	}
	floor := max(limit/16, minFileBytes)
	for i, b := range boots {
		if total <= s.opts.MaxBytes || gone[i] || pinned(b) || sizes[i] <= floor {
			continue
		}
		n, err := s.cutFinished(b.Boot, max(floor, sizes[i]-(total-s.opts.MaxBytes)))
		if err != nil {
			errs = append(errs, fmt.Errorf("prune: %w", err))
			continue
		}
		total -= sizes[i] - n
		sizes[i], boots[i].Bytes = n, n
	}

	kept := boots[:0:0]
	for i, b := range boots {
		if !gone[i] {
			kept = append(kept, b)
		}
	}
	return kept, errors.Join(errs...)
}

// updateIndex reads the index, applies change and writes the result
// atomically. A corrupt index is moved aside first. s.mu must be held.
// When change returns an error alongside a non-nil list, the list is still
// written and the error returned.
func (s *Store) updateIndex(change func([]BootInfo) ([]BootInfo, error)) error {
	boots, err := s.readIndex()
	var w *IndexWarning
	if errors.As(err, &w) {
		if rerr := os.Rename(s.indexPath(), s.indexPath()+".corrupt"); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			return fmt.Errorf("move corrupt index aside: %w", rerr)
		}
	} else if err != nil {
		return err
	}
	boots, cerr := change(boots)
	if boots == nil {
		return cerr
	}
	if err := s.writeIndex(boots); err != nil {
		return errors.Join(cerr, err)
	}
	return cerr
}

func (s *Store) indexPath() string { return filepath.Join(s.dir, indexName) }

// readIndex returns the boots of the index in ascending order, with the
// boots whose writer is gone marked as ended (see settle). A missing index
// with no boot files is an empty store; a missing index with boot files,
// or an unreadable one, is rebuilt from the files and comes with an
// *IndexWarning.
func (s *Store) readIndex() ([]BootInfo, error) {
	data, err := os.ReadFile(s.indexPath())
	if errors.Is(err, fs.ErrNotExist) {
		onDisk, serr := s.scanFiles()
		if serr != nil {
			return nil, serr
		}
		if len(onDisk) == 0 {
			return nil, nil
		}
		return s.settle(onDisk), &IndexWarning{Path: s.indexPath(), Err: err}
	}
	if err != nil {
		return nil, err
	}
	boots, perr := parseIndex(data)
	if perr == nil {
		return s.settle(boots), nil
	}
	onDisk, serr := s.scanFiles()
	if serr != nil {
		return nil, serr
	}
	return s.settle(onDisk), &IndexWarning{Path: s.indexPath(), Err: perr}
}

// settle looks at the boots listed as running. One whose file a live
// BootWriter holds gets its current size; one whose writer is gone (the
// ukdev running it was killed) is marked as ended with ReasonUnknown at
// the file's last write, with its size. Readers only see the change; the
// writing Store records it with its next update of the index.
func (s *Store) settle(boots []BootInfo) []BootInfo {
	for i := range boots {
		b := &boots[i]
		if !b.Running() {
			continue
		}
		fi, alive := probeBoot(s.Path(b.Boot))
		if fi != nil {
			b.Bytes = fi.Size()
		}
		if alive {
			continue
		}
		b.Reason = ReasonUnknown
		switch {
		case fi != nil && fi.ModTime().After(b.Start):
			b.End = fi.ModTime()
		case !b.Start.IsZero():
			b.End = b.Start
		default:
			b.End = time.Now()
		}
	}
	return boots
}

// probeBoot returns the boot file's information (nil when it is gone) and
// whether a BootWriter, in this process or another, still holds it.
//
// Every BootWriter holds an exclusive flock on its file from before the
// index lists the boot as running until after it records the end, and the
// kernel drops the lock when the process dies, however it dies. So a file
// that is not locked has no writer left. This is tied to the writer
// itself: unlike a recorded pid it cannot be fooled by a reused pid, and
// unlike the project's lock it does not depend on where that lock lives
// or on which ukdev command holds it. When the lock cannot be tested (a
// file system without flock), the writer is taken to be alive: a running
// boot must never be shown as ended.
func probeBoot(path string) (fs.FileInfo, bool) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, !errors.Is(err, fs.ErrNotExist)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, true
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		return fi, true
	}
	return fi, false
}

// parseIndex decodes and validates an index. File names are checked
// against the boot numbers because pruning deletes them: a tampered index
// must not name files outside the store.
func parseIndex(data []byte) ([]BootInfo, error) {
	var idx indexFile
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, err
	}
	if idx.Version != indexVersion {
		return nil, fmt.Errorf("unknown index version %d", idx.Version)
	}
	seen := make(map[int]bool, len(idx.Boots))
	for i, b := range idx.Boots {
		if b.Boot <= 0 {
			return nil, fmt.Errorf("entry %d: boot number %d is not positive", i, b.Boot)
		}
		if b.File != bootFileName(b.Boot) {
			return nil, fmt.Errorf("entry %d: file %q does not match boot %d", i, b.File, b.Boot)
		}
		if seen[b.Boot] {
			return nil, fmt.Errorf("entry %d: boot %d listed twice", i, b.Boot)
		}
		seen[b.Boot] = true
	}
	slices.SortFunc(idx.Boots, func(a, b BootInfo) int { return a.Boot - b.Boot })
	return idx.Boots, nil
}

// writeIndex replaces the index atomically (temp file, fsync, rename), so
// a follower in another process never reads half of it.
func (s *Store) writeIndex(boots []BootInfo) error {
	if boots == nil {
		boots = []BootInfo{}
	}
	slices.SortFunc(boots, func(a, b BootInfo) int { return a.Boot - b.Boot })
	data, err := json.MarshalIndent(indexFile{Version: indexVersion, Boots: boots}, "", "  ")
	if err != nil {
		return fmt.Errorf("encode index: %w", err)
	}
	tmp, err := os.CreateTemp(s.dir, ".index-*.tmp")
	if err != nil {
		return fmt.Errorf("write index: %w", err)
	}
	_, werr := tmp.Write(append(data, '\n'))
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), s.indexPath())
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write index: %w", werr)
	}
	return nil
}

// scanFiles lists the boot files in the directory as BootInfos, ascending,
// all as running: settle tells which ended. Only what the file system
// knows is filled in: number, name, size, and the file's creation as Start
// (for a boot whose file was cut while it ran, the last cut), zero where
// the file system does not record it.
func (s *Store) scanFiles() ([]BootInfo, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", s.dir, err)
	}
	var boots []BootInfo
	for _, e := range entries {
		n, ok := parseBootFileName(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		b := BootInfo{Boot: n, File: e.Name(), Start: birthTime(filepath.Join(s.dir, e.Name()))}
		if fi, err := e.Info(); err == nil {
			b.Bytes = fi.Size()
		}
		boots = append(boots, b)
	}
	slices.SortFunc(boots, func(a, b BootInfo) int { return a.Boot - b.Boot })
	return boots, nil
}

func findBoot(boots []BootInfo, boot int) (int, bool) {
	return slices.BinarySearchFunc(boots, boot, func(b BootInfo, n int) int { return b.Boot - n })
}

func bootFileName(boot int) string { return fmt.Sprintf("%s%06d%s", bootPrefix, boot, bootSuffix) }

// parseBootFileName accepts only canonical names, so that every file it
// accepts is the one bootFileName would produce.
func parseBootFileName(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, bootPrefix)
	if !ok {
		return 0, false
	}
	digits, ok := strings.CutSuffix(rest, bootSuffix)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n <= 0 || bootFileName(n) != name {
		return 0, false
	}
	return n, true
}

// birthTime returns when the file at path was created, or the zero time
// when the file system does not record it.
func birthTime(path string) time.Time {
	var st unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, path, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BTIME, &st); err != nil || st.Mask&unix.STATX_BTIME == 0 {
		return time.Time{}
	}
	return time.Unix(st.Btime.Sec, int64(st.Btime.Nsec))
}
