// Package watcher watches a project's source tree recursively and reports
// batches of changed paths. It applies the ignore rules a developer
// expects (.git, .gitignore files with git's semantics, configured
// patterns, editor temporary files, the build's own outputs) and debounces
// bursts of events into single Changes. It knows nothing about builds.
//
// # When a batch closes
//
// A batch closes after a quiet window with no event, and at the latest
// MaxWait after its first event. The window depends on what the batch
// looks like:
//
//   - A save: at most SaveMaxPaths distinct paths, no events lost, the
//     batch began at least Debounce after the previous Change was
//     emitted, every path in it present now unless it was created
//     during the batch (a temporary file that came and went), and no
//     file in it empty. It closes
//     after Settle of quiet (a few milliseconds): the burst of syscalls
//     one save makes (vim's rename-and-write, JetBrains' safe write,
//     `sed -i`'s rename over, an in-place write) is over by then.
//   - Anything else closes after Debounce of quiet: a batch that grew
//     past SaveMaxPaths (a checkout, `git stash`), one that began less than
//     Debounce after the previous Change (the tail of a storm), one that
//     lost events, one holding a file that was there before and is
//     missing now (an editor that renamed it away is about to write it
//     again, and the batch settles once it is back; a real deletion
//     waits the Debounce), and one holding an empty file (truncated or
//     created and not written yet: the batch settles after the write;
//     a file meant to be empty waits the Debounce).
//
// A batch of attribute changes alone that begins within a Debounce of the
// previous Change, on files of that Change left as they were then (the
// same file, size, modification time and mode), is the end of that save
// and is dropped: vim sets the mode of the file it wrote after an fsync
// that may outlast Settle. touch(1) and a real chmod change the
// modification time or the mode, and count.
//
// The rule is the same for every editor and tool; it never looks at
// names. A storm therefore costs one Change (or one per MaxWait), as
// before, and a save costs Settle.
package watcher

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

const (
	// DefaultDebounce is the quiet time used when Options.Debounce is 0.
	DefaultDebounce = 100 * time.Millisecond
	// DefaultMaxWait is the longest batch used when Options.MaxWait is 0.
	DefaultMaxWait = 2 * time.Second
	// DefaultSettle is the quiet time that closes a batch that looks like
	// one save, used when Options.Settle is 0 (capped at the Debounce).
	DefaultSettle = 8 * time.Millisecond
	// SaveMaxPaths is the most distinct paths a batch closed after Settle
	// may hold; a larger batch waits the Debounce.
	SaveMaxPaths = 8
	// MaxPaths is the most paths a Change lists.
	MaxPaths = 100
	// OverflowPath stands first in Change.Paths when the kernel's event
	// queue overflowed: some changes were lost, so the batch is "many
	// files" (Count is -1).
	OverflowPath = "(many files: event queue overflowed)"

	// maxTracked bounds the distinct paths remembered per batch; beyond it
	// Count becomes -1.
	maxTracked = 100000
	// eventBuffer is the capacity of fsnotify's event channel, which keeps
	// inotify's reader going while the loop walks a new directory.
	eventBuffer = 4096
	// warningBuffer is the capacity of the Warnings channel.
	warningBuffer = 32
	// maxWatchesFile holds the inotify watch limit.
	maxWatchesFile = "/proc/sys/fs/inotify/max_user_watches"
)

// ErrAlreadyRunning is returned by Run when it is called a second time.
var ErrAlreadyRunning = errors.New("watcher: run: already called")

// Options says what a Watcher watches and how it batches changes.
type Options struct {
	// Root is the absolute project root; Change paths are relative to it,
	// slash-separated.
	Root string
	// Paths are the files and directories to watch, relative to Root or
	// absolute, all inside Root; directories are watched recursively.
	// Empty means ["."].
	Paths []string
	// Ignore holds gitignore-style patterns from the configuration,
	// relative to Root. They take precedence over .gitignore files.
	Ignore []string
	// IgnorePaths are paths of build outputs (files or directories),
	// absolute or relative to Root, never reported (nor anything below
	// them), so that a build never triggers itself.
	IgnorePaths []string
	// Debounce is the quiet time after the last event before a Change is
	// emitted; 0 means DefaultDebounce.
	Debounce time.Duration
	// MaxWait is the longest time from a batch's first event to its
	// emission, so a continuous stream of events still yields Changes;
	// 0 means DefaultMaxWait. It must not be shorter than Debounce.
	MaxWait time.Duration
	// Settle is the quiet time that closes a batch that looks like one
	// save (see the package doc); 0 means DefaultSettle, or Debounce when
	// that is shorter. It must not be longer than Debounce; equal to it,
	// every batch waits the Debounce.
	Settle time.Duration
}

// Change is one batch of changed paths.
type Change struct {
	// Paths are the changed paths relative to Root, sorted, without
	// duplicates, at most MaxPaths of them. A new directory counts through
	// the files in it; a directory removed or moved away appears itself.
	// When the event queue overflowed, Paths[0] is OverflowPath and the
	// known paths follow.
	Paths []string
	// Count is the number of distinct changed paths (it may exceed
	// len(Paths)), or -1 when unknown because events were lost.
	Count int
	// First is when the batch's first event arrived (the save).
	First time.Time
	// Emitted is when the batch was closed and offered to the consumer.
	Emitted time.Time
}

// Watcher watches a tree and delivers Changes. Create it with New, then
// call Run once; Close (or cancelling Run's context) stops it.
type Watcher struct {
	root     string
	scopes   []scope
	debounce time.Duration
	maxWait  time.Duration
	settle   time.Duration
	rules    *rules
	opts     Options // as given, to read the ignore rules again
	fsw      *fsnotify.Watcher
	// add adds one non-recursive watch; tests replace it to simulate the
	// inotify watch limit.
	add func(path string) error

	// watched maps each watched directory (relative to the root) to its
	// watched subdirectories. Only New and then the Run goroutine use it.
	watched map[string]map[string]struct{}
	// gone says the root was removed or moved away; anchor is then the
	// nearest existing directory above it, watched (when it could be) to
	// see the root come back. Only the Run goroutine uses them.
	gone   bool
	anchor string
	// rootID identifies the root directory being watched: a root deleted
	// while a process still has its working directory in it sends no
	// event, and one replaced by another directory is no longer the one
	// the watches are on.
	rootID fileID

	changes  chan Change
	warnings chan string

	mu     sync.Mutex
	paused bool
	// wake tells the Run loop that paused changed.
	wake chan struct{}

	running   atomic.Bool
	closeOnce sync.Once
	closed    chan struct{}
	closeErr  error
}

// New validates opts, reads the ignore rules and adds watches for every
// directory that is watched and not ignored. Problems that do not prevent
// watching (the inotify watch limit, unreadable directories) become
// Warnings, readable once Run is called or right away.
func New(opts Options) (*Watcher, error) {
	return newWatcher(opts, nil)
}

// newWatcher is New with a hook that may wrap the function adding one
// watch.
func newWatcher(opts Options, wrapAdd func(add func(string) error) func(string) error) (*Watcher, error) {
	w, err := checkOptions(opts)
	if err != nil {
		return nil, err
	}
	fsw, err := fsnotify.NewBufferedWatcher(eventBuffer)
	if err != nil {
		return nil, fmt.Errorf("watcher: start inotify: %w", err)
	}

	w.fsw = fsw
	w.add = fsw.Add
	w.watched = make(map[string]map[string]struct{})
	w.changes = make(chan Change)
	w.warnings = make(chan string, warningBuffer)
	w.wake = make(chan struct{}, 1)
	w.closed = make(chan struct{})
	if wrapAdd != nil {
		w.add = wrapAdd(w.add)
	}
	for _, p := range w.rules.problems {
		w.warn(p)
	}
	for _, s := range w.scopes {
		w.watchScope(s)
	}
	if len(w.watched) == 0 {
		_ = fsw.Close() // the reasons below matter more than a close error
		var why []string
		for len(w.warnings) > 0 {
			why = append(why, <-w.warnings)
		}
		if len(why) == 0 {
			why = append(why, "no directory to watch")
		}
		return nil, fmt.Errorf("watcher: nothing could be watched under %s: %s", w.root, strings.Join(why, "; "))
	}
	w.watchRoot()
	w.rootID, _ = idOf(w.root)
	return w, nil
}

// fileID identifies a file by device and inode.
type fileID struct{ dev, ino uint64 }

// idOf returns the identity of the directory at path, and false when there
// is none.
func idOf(path string) (fileID, bool) {
	fi, err := os.Stat(path)
	if err != nil || !fi.IsDir() {
		return fileID{}, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, true
	}
	return fileID{dev: uint64(st.Dev), ino: st.Ino}, true
}

// watchRoot watches the root directory itself, also when no scope covers
// it, so that its removal or move is always seen; events of files outside
// the scopes are ignored.
func (w *Watcher) watchRoot() {
	var noSpace int
	w.treeWalker(&noSpace, nil).enter(".")
	w.warnNoSpace(noSpace)
}

// checkOptions validates opts and returns a Watcher holding the resolved
// root, scopes, timings and ignore rules, with nothing watched yet.
func checkOptions(opts Options) (*Watcher, error) {
	if opts.Root == "" || !filepath.IsAbs(opts.Root) {
		return nil, fmt.Errorf("watcher: root %q: not an absolute path", opts.Root)
	}
	root := filepath.Clean(opts.Root)
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("watcher: root: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("watcher: root %s: not a directory", root)
	}
	debounce, maxWait, settle := opts.Debounce, opts.MaxWait, opts.Settle
	if debounce < 0 || maxWait < 0 || settle < 0 {
		return nil, fmt.Errorf("watcher: debounce %v, max wait %v and settle %v must not be negative", debounce, maxWait, settle)
	}
	if debounce == 0 {
		debounce = DefaultDebounce
	}
	if maxWait == 0 {
		maxWait = max(DefaultMaxWait, debounce)
	}
	if maxWait < debounce {
		return nil, fmt.Errorf("watcher: max wait %v is shorter than the debounce %v", maxWait, debounce)
	}
	if settle == 0 {
		settle = min(DefaultSettle, debounce)
	}
	if settle > debounce {
		return nil, fmt.Errorf("watcher: settle %v is longer than the debounce %v", settle, debounce)
	}
	scopes, err := resolveScopes(root, opts.Paths)
	if err != nil {
		return nil, err
	}
	r, err := newRules(root, opts.Ignore, opts.IgnorePaths)
	if err != nil {
		return nil, err
	}
	return &Watcher{root: root, scopes: scopes, debounce: debounce, maxWait: maxWait, settle: settle, rules: r, opts: opts}, nil
}

// Changes delivers one Change per batch. It is unbuffered: a batch is held
// (and later events coalesce into the next one) until the consumer reads.
// Run closes it when it returns.
func (w *Watcher) Changes() <-chan Change { return w.changes }

// Warnings delivers human-readable problems that do not stop watching
// (the inotify watch limit, unreadable directories or ignore files). It is
// buffered; a warning that finds it full is dropped. Run closes it when it
// returns.
func (w *Watcher) Warnings() <-chan string { return w.warnings }

// SetPaused pauses or resumes delivery. While paused, changes accumulate;
// on resume, whatever accumulated is emitted at once as one Change. It is
// safe to call from any goroutine, before or during Run.
func (w *Watcher) SetPaused(paused bool) {
	w.mu.Lock()
	w.paused = paused
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// isPaused reports the state last set by SetPaused.
func (w *Watcher) isPaused() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.paused
}

// Close stops watching and releases the inotify instance; a running Run
// returns. Close is idempotent and safe to call from any goroutine.
func (w *Watcher) Close() error {
	w.closeOnce.Do(func() {
		close(w.closed)
		if err := w.fsw.Close(); err != nil {
			w.closeErr = fmt.Errorf("watcher: close: %w", err)
		}
	})
	return w.closeErr
}

// Run watches and delivers Changes until ctx is done or Close is called,
// then closes the watcher, Changes and Warnings, and returns nil; it
// returns an error only if inotify stops underneath it. It may be called
// once; a second call returns ErrAlreadyRunning.
func (w *Watcher) Run(ctx context.Context) error {
	if !w.running.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	defer close(w.warnings)
	defer close(w.changes)
	defer w.Close()

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	armed := false
	cur := newBatch()
	// out is the closed batch waiting for the consumer, and pending its
	// Change.
	var out *batch
	var pending Change
	// lastClose is when the previous batch closed: a batch that begins
	// within a Debounce of it is the tail of a storm, not a save.
	var lastClose time.Time
	// saved is the state of the files of the previous batch when it
	// closed, if it was small enough to look like a save.
	var saved map[string]fileState
	// timerAt is when the armed timer fires.
	var timerAt time.Time
	setTimer := func(at time.Time) {
		timer.Reset(time.Until(at))
		timerAt, armed = at, true
	}
	arm := func() {
		if cur.empty() {
			return
		}
		// A batch that may be a save is looked at Settle after its last
		// event, also when the timer was set for the Debounce because a
		// file was missing (the editor stalled between renaming it away
		// and writing it again); the rest is checked again when the
		// timer fires.
		at := cur.last.Add(w.debounce)
		if w.mayBeSave(cur, lastClose) {
			at = cur.last.Add(w.settle)
		}
		if !armed || at.Before(timerAt) {
			setTimer(at)
		}
	}
	closeBatch := func(now time.Time) {
		timer.Stop()
		armed = false
		if cur.empty() {
			return
		}
		lastClose = now
		saved = w.snapshot(cur)
		if cur.overflow {
			// Directories created while events were lost have no watch.
			w.rescan()
		}
		if out == nil {
			out = cur
		} else {
			out.merge(cur)
		}
		pending = out.change(now)
		cur = newBatch()
	}

	// The root is checked once a second (a deletion may send no event);
	// while it is gone, also on every event near it.
	recheck := time.NewTicker(rootRecheck)
	defer recheck.Stop()
	for {
		var send chan<- Change
		if out != nil && !w.isPaused() && !w.gone {
			send = w.changes
		}
		select {
		case <-ctx.Done():
			return nil
		case <-w.closed:
			return nil
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return w.stopped()
			}
			if w.gone {
				w.lookForRoot(cur)
			} else {
				w.handle(ev, cur)
			}
			arm()
		case <-recheck.C:
			w.checkRoot(cur)
			arm()
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return w.stopped()
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				cur.markOverflow(time.Now())
				arm()
				continue
			}
			w.warn(fmt.Sprintf("watcher: inotify: %v", err))
		case <-w.wake:
			if !w.isPaused() {
				closeBatch(time.Now())
			}
		case now := <-timer.C:
			armed = false
			if w.checkRoot(cur) {
				// Nothing can be built from a root that is not there:
				// the batch waits for it, and grows with what it holds
				// when it is back.
				continue
			}
			// Events already waiting belong to this batch: after a stall
			// of this goroutine the timer and the events are ready
			// together, and the loop's own lag is not quiet.
			if w.drainPending(cur) {
				now = time.Now()
			}
			due := cur.due(w.quiet(cur, lastClose), w.maxWait)
			if now.Before(due) {
				setTimer(due)
				continue
			}
			if w.isEcho(cur, lastClose, saved) {
				cur = newBatch()
				continue
			}
			closeBatch(now)
		case send <- pending:
			out = nil
			pending = Change{}
		}
	}
}

// drainPending handles the events that are ready without waiting, at most
// a buffer's worth, and reports whether there were any.
func (w *Watcher) drainPending(b *batch) bool {
	for i := 0; i < eventBuffer; i++ {
		select {
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return i > 0
			}
			w.handle(ev, b)
		default:
			return i > 0
		}
	}
	return true
}

// mayBeSave reports whether batch b can still close after Settle as far as
// its size, lost events and start tell (see the package doc); lastClose is
// when the previous batch closed.
func (w *Watcher) mayBeSave(b *batch, lastClose time.Time) bool {
	if b.overflow || b.truncated || len(b.paths) > SaveMaxPaths {
		return false
	}
	return lastClose.IsZero() || b.first.Sub(lastClose) >= w.debounce
}

// quiet returns the quiet time that closes batch b: Settle when it looks
// like one save, Debounce otherwise (see the package doc).
func (w *Watcher) quiet(b *batch, lastClose time.Time) time.Duration {
	if w.settle == w.debounce || !w.mayBeSave(b, lastClose) {
		return w.debounce
	}
	for rel := range b.paths {
		fi, err := os.Lstat(w.abs(rel))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// A file that was there and is missing now was renamed away
			// or deleted: an editor writes it again right after; a
			// deletion that is meant waits the Debounce. One created
			// in the batch and gone again was a temporary file.
			if _, created := b.created[rel]; !created {
				return w.debounce
			}
		case err == nil && fi.Mode().IsRegular() && fi.Size() == 0:
			// Truncated or created, and not written yet: the write is
			// coming. A file meant to be empty waits the Debounce.
			return w.debounce
		}
	}
	return w.settle
}

// fileState is what a build reads of a file, as far as Lstat tells.
type fileState struct {
	dev, ino uint64
	size     int64
	mtime    int64 // nanoseconds since the epoch
	mode     fs.FileMode
}

// stateOf returns the state of the file at path, and false when it cannot
// be read.
func stateOf(path string) (fileState, bool) {
	fi, err := os.Lstat(path)
	if err != nil {
		return fileState{}, false
	}
	st := fileState{size: fi.Size(), mtime: fi.ModTime().UnixNano(), mode: fi.Mode()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.dev, st.ino = uint64(sys.Dev), sys.Ino
	}
	return st, true
}

// snapshot records the state of the files of batch b as it closes, when b
// is small enough to look like a save; nil otherwise.
func (w *Watcher) snapshot(b *batch) map[string]fileState {
	if b.overflow || b.truncated || len(b.paths) > SaveMaxPaths {
		return nil
	}
	states := make(map[string]fileState, len(b.paths))
	for rel := range b.paths {
		if st, ok := stateOf(w.abs(rel)); ok {
			states[rel] = st
		}
	}
	return states
}

// isEcho reports whether batch b is only the attribute changes that end a
// save already reported (see the package doc): it began within a Debounce
// of the previous batch's close, holds nothing but attribute events, and
// each of its files is as that batch left it.
func (w *Watcher) isEcho(b *batch, lastClose time.Time, saved map[string]fileState) bool {
	if b.content || b.overflow || b.truncated || saved == nil || b.first.Sub(lastClose) >= w.debounce {
		return false
	}
	for rel := range b.paths {
		before, ok := saved[rel]
		if !ok {
			return false
		}
		if now, ok := stateOf(w.abs(rel)); !ok || now != before {
			return false
		}
	}
	return true
}

// stopped says why fsnotify's channels closed: after Close that is a normal
// end; otherwise inotify failed underneath.
func (w *Watcher) stopped() error {
	select {
	case <-w.closed:
		return nil
	default:
		return errors.New("watcher: run: inotify stopped unexpectedly")
	}
}

// warn offers a warning without ever blocking.
func (w *Watcher) warn(msg string) {
	select {
	case w.warnings <- msg:
	default:
	}
}

// abs returns the absolute path of rel.
func (w *Watcher) abs(rel string) string {
	return filepath.Join(w.root, filepath.FromSlash(rel))
}

// inScope reports whether rel lies inside one of the watched paths.
func (w *Watcher) inScope(rel string) bool {
	for _, s := range w.scopes {
		if s.contains(rel) {
			return true
		}
	}
	return false
}

// handle applies one fsnotify event to the batch b.
func (w *Watcher) handle(ev fsnotify.Event, b *batch) {
	rel, ok := relTo(w.root, filepath.Clean(ev.Name))
	if !ok {
		return
	}
	if rel == "." {
		if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
			w.rootGone()
		}
		return
	}
	if !w.inScope(rel) {
		return
	}
	now := time.Now()
	switch {
	case ev.Has(fsnotify.Create):
		fi, err := os.Lstat(ev.Name)
		if err == nil && fi.IsDir() {
			if !w.rules.ignored(rel, true) {
				w.watchTree(rel, func(p string) { b.addCreated(p, now) })
			}
			return
		}
		// A file that came and went already is still a change.
		if !w.rules.ignored(rel, false) {
			b.addCreated(rel, now)
		}
	case ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename):
		_, wasDir := w.watched[rel]
		if wasDir {
			w.unwatch(rel)
			// The root itself may be what went, unseen when it is not
			// watched (watch.paths without ".").
			if w.rootMissing() {
				b.add(rel, now)
				w.rootGone()
				return
			}
		}
		if !w.rules.ignored(rel, wasDir) {
			b.add(rel, now)
		}
	case ev.Has(fsnotify.Write):
		if !w.rules.ignored(rel, false) {
			b.add(rel, now)
		}
	case ev.Has(fsnotify.Chmod):
		// touch(1) is a common way to ask for a rebuild, so a bare chmod
		// counts for files; directories get attribute events whenever
		// their entries change, which says nothing new.
		fi, err := os.Lstat(ev.Name)
		if err != nil || fi.IsDir() || w.rules.ignored(rel, false) {
			return
		}
		b.addAttrib(rel, now)
	default:
		return
	}
	if path.Base(rel) == gitignoreName && !w.rules.ignored(rel, false) {
		w.reloadIgnores(parentRel(rel))
	}
}

// rootRecheck is how often the root is checked without an event: it may
// have been deleted while a process kept its working directory in it
// (then no event comes), and while it is gone its anchor may not be
// watchable.
const rootRecheck = time.Second

// rootMissing reports whether the root watched is no longer at its path:
// removed, moved away, or replaced by another directory.
func (w *Watcher) rootMissing() bool {
	id, ok := idOf(w.root)
	return !ok || id != w.rootID
}

// checkRoot notices a root that is missing and looks for one that is gone;
// it reports whether the root is gone (b must then wait).
func (w *Watcher) checkRoot(b *batch) bool {
	if !w.gone && w.rootMissing() {
		w.rootGone()
	}
	if w.gone {
		// A root replaced by another directory is back at once.
		w.lookForRoot(b)
	}
	return w.gone
}

// rootGone stops watching a root that was removed or moved away (watches
// on a moved tree would report its new place under the old names) and
// watches the nearest existing directory above it, to see it come back.
func (w *Watcher) rootGone() {
	if w.gone {
		return
	}
	w.gone = true
	for rel := range w.watched {
		// A removed directory's watch is gone already: errors only say so.
		_ = w.fsw.Remove(w.abs(rel))
	}
	w.watched = make(map[string]map[string]struct{})
	w.warn(fmt.Sprintf("watcher: project directory %s is gone (deleted or moved away); watching for it to come back", w.root))
	w.setAnchor()
}

// setAnchor watches the nearest existing directory above the root, in
// place of the one watched before (if any).
func (w *Watcher) setAnchor() {
	dir := filepath.Dir(w.root)
	for {
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	if dir == w.anchor {
		return
	}
	w.dropAnchor()
	if err := w.fsw.Add(dir); err == nil {
		w.anchor = dir
	}
	// Otherwise the root is looked for every rootRecheck.
}

// dropAnchor stops watching the anchor.
func (w *Watcher) dropAnchor() {
	if w.anchor != "" {
		_ = w.fsw.Remove(w.anchor) // gone with its directory, or removed now
		w.anchor = ""
	}
}

// lookForRoot checks whether a root that was gone is back. When it is, it
// reads the ignore rules again, watches the new tree and adds every file
// in it to b: what it holds may differ in any way from what was there.
// When it is not, it moves the anchor as far down as directories exist.
func (w *Watcher) lookForRoot(b *batch) {
	id, ok := idOf(w.root)
	if !ok {
		w.setAnchor()
		return
	}
	w.dropAnchor()
	w.gone = false
	w.rootID = id
	if r, err := newRules(w.root, w.opts.Ignore, w.opts.IgnorePaths); err == nil {
		w.rules = r
		for _, p := range r.problems {
			w.warn(p)
		}
	} else {
		w.warn(err.Error())
	}
	w.warn(fmt.Sprintf("watcher: project directory %s is back; watching it again", w.root))
	now := time.Now()
	b.touch(now)
	var noSpace int
	wk := w.treeWalker(&noSpace, func(p string) { b.add(p, now) })
	for _, s := range w.scopes {
		wk.scope(s)
	}
	w.warnNoSpace(noSpace)
	w.watchRoot()
}

// reloadIgnores rereads the .gitignore of dir and brings the watches in
// line with the new rules: directories now ignored lose their watch, ones
// no longer ignored gain one.
func (w *Watcher) reloadIgnores(dir string) {
	if err := w.rules.loadDir(w.abs(dir), dir); err != nil {
		w.warn(err.Error())
	}
	var drop []string
	for rel := range w.watched {
		if w.rules.ignored(rel, true) && !w.isScopeParent(rel) {
			drop = append(drop, rel)
		}
	}
	for _, rel := range drop {
		w.unwatch(rel)
	}
	w.rescan()
}

// isScopeParent reports whether rel is watched only as the parent of a
// single-file scope (such a directory may itself be ignored).
func (w *Watcher) isScopeParent(rel string) bool {
	for _, s := range w.scopes {
		if !s.dir && parentRel(s.rel) == rel {
			return true
		}
	}
	return false
}

// watchScope adds the watches of one scope.
func (w *Watcher) watchScope(s scope) {
	var noSpace int
	wk := w.treeWalker(&noSpace, nil)
	wk.scope(s)
	w.warnNoSpace(noSpace)
}

// watchTree watches dir and its non-ignored subdirectories; report (if not
// nil) receives every non-ignored file below it, which is how the contents
// of a directory created or moved in count as changes.
func (w *Watcher) watchTree(dir string, report func(rel string)) {
	var noSpace int
	wk := w.treeWalker(&noSpace, report)
	wk.walk(dir)
	w.warnNoSpace(noSpace)
}

// rescan walks every scope again and watches directories that have no
// watch (after lost events or an ignore-rule change). It reports nothing.
func (w *Watcher) rescan() {
	var noSpace int
	wk := w.treeWalker(&noSpace, nil)
	for _, s := range w.scopes {
		wk.scope(s)
	}
	w.warnNoSpace(noSpace)
}

// treeWalker returns a walker that adds a watch to every directory it
// enters, counting in noSpace those refused for the inotify watch limit.
func (w *Watcher) treeWalker(noSpace *int, report func(rel string)) *walker {
	wk := &walker{root: w.root, rules: w.rules, warn: w.warn}
	wk.enter = func(rel string) bool {
		if _, ok := w.watched[rel]; ok {
			return true
		}
		err := w.add(w.abs(rel))
		switch {
		case err == nil:
			w.watched[rel] = make(map[string]struct{})
			if rel != "." {
				if subs, ok := w.watched[parentRel(rel)]; ok {
					subs[rel] = struct{}{}
				}
			}
			return true
		case errors.Is(err, syscall.ENOSPC):
			// Keep walking: the rest of the tree is still reported and
			// counted, and may fit if watches are freed.
			*noSpace++
			return true
		case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
			return false
		default:
			w.warn(fmt.Sprintf("watcher: watch %s: %v", w.abs(rel), err))
			return true
		}
	}
	if report != nil {
		wk.file = func(rel string, _ fs.DirEntry) { report(rel) }
	}
	return wk
}

// warnNoSpace warns once per walk that n directories could not be watched
// because of the inotify watch limit.
func (w *Watcher) warnNoSpace(n int) {
	if n == 0 {
		return
	}
	limit := "unknown"
	if data, err := os.ReadFile(maxWatchesFile); err == nil {
		limit = strings.TrimSpace(string(data))
	}
	w.warn(noSpaceWarning(n, limit))
}

// noSpaceWarning words the inotify watch limit warning.
func noSpaceWarning(dirs int, limit string) string {
	noun := "directories"
	if dirs == 1 {
		noun = "directory"
	}
	return fmt.Sprintf("watcher: %d %s not watched: the inotify watch limit fs.inotify.max_user_watches (now %s) is reached; "+
		"changes there go unnoticed. Raise it with `sudo sysctl fs.inotify.max_user_watches=524288` "+
		"(and put fs.inotify.max_user_watches=524288 in /etc/sysctl.d/ to keep it), or ignore large directories",
		dirs, noun, limit)
}

// unwatch drops the watches of dir and everything below it, after it was
// removed, moved away or became ignored.
func (w *Watcher) unwatch(dir string) {
	subs, ok := w.watched[dir]
	if !ok {
		return
	}
	for sub := range subs {
		w.unwatch(sub)
	}
	delete(w.watched, dir)
	if parent, ok := w.watched[parentRel(dir)]; ok {
		delete(parent, dir)
	}
	w.rules.forgetDir(dir)
	// The kernel already dropped the watch of a removed directory, so an
	// error here only says there was nothing left to remove.
	_ = w.fsw.Remove(w.abs(dir))
}

// batch accumulates the changes of one Change.
type batch struct {
	paths map[string]struct{}
	// created holds the paths whose first event in the batch created
	// them (or a directory holding them): their absence at the end says
	// nothing about a save in progress.
	created map[string]struct{}
	// overflow says events were lost (the kernel queue overflowed).
	overflow bool
	// truncated says more than maxTracked paths changed.
	truncated bool
	// content says an event other than an attribute change was seen.
	content     bool
	first, last time.Time
}

// newBatch returns an empty batch.
func newBatch() *batch {
	return &batch{paths: make(map[string]struct{}), created: make(map[string]struct{})}
}

// empty reports whether nothing was recorded.
func (b *batch) empty() bool { return len(b.paths) == 0 && !b.overflow && !b.truncated }

// touch records an event at now.
func (b *batch) touch(now time.Time) {
	if b.first.IsZero() {
		b.first = now
	}
	b.last = now
}

// add records a changed path.
func (b *batch) add(rel string, now time.Time) {
	b.content = true
	b.addAttrib(rel, now)
}

// addAttrib records a path whose attributes (only) changed.
func (b *batch) addAttrib(rel string, now time.Time) {
	b.touch(now)
	if _, ok := b.paths[rel]; ok {
		return
	}
	if len(b.paths) >= maxTracked {
		b.truncated = true
		return
	}
	b.paths[rel] = struct{}{}
}

// addCreated records a path that an event created; it counts as created
// only when it is new to the batch.
func (b *batch) addCreated(rel string, now time.Time) {
	_, seen := b.paths[rel]
	b.add(rel, now)
	if _, ok := b.paths[rel]; ok && !seen {
		b.created[rel] = struct{}{}
	}
}

// markOverflow records that events were lost.
func (b *batch) markOverflow(now time.Time) {
	b.touch(now)
	b.overflow = true
}

// due is when the batch closes: after debounce of quiet, but no later than
// maxWait after its first event.
func (b *batch) due(debounce, maxWait time.Duration) time.Time {
	quiet := b.last.Add(debounce)
	if limit := b.first.Add(maxWait); limit.Before(quiet) {
		return limit
	}
	return quiet
}

// merge adds a later batch to b.
func (b *batch) merge(later *batch) {
	b.overflow = b.overflow || later.overflow
	b.truncated = b.truncated || later.truncated
	for p := range later.paths {
		_, seen := b.paths[p]
		b.add(p, later.last)
		if _, ok := later.created[p]; ok && !seen {
			b.created[p] = struct{}{}
		}
	}
	if b.first.IsZero() {
		b.first = later.first
	}
	if later.last.After(b.last) {
		b.last = later.last
	}
}

// change renders the batch as a Change emitted at now.
func (b *batch) change(now time.Time) Change {
	paths := make([]string, 0, len(b.paths))
	for p := range b.paths {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	c := Change{Count: len(paths), First: b.first, Emitted: now}
	if b.overflow || b.truncated {
		c.Count = -1
	}
	if b.overflow {
		paths = append([]string{OverflowPath}, paths...)
	}
	if len(paths) > MaxPaths {
		paths = paths[:MaxPaths]
	}
	c.Paths = paths
	return c
}
