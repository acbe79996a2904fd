package manager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ukdev/ukdev/nofollow"
	"github.com/ukdev/ukdev/project"
)

// The registry is one directory per user (project.RegistryDir) with one
// file per running loop, <name>-<hash>.json, holding its Entry. The owner
// holds a shared flock on the file for its life, which the kernel drops
// however the owner dies: a file whose exclusive flock can be taken is
// dead, whatever its pid says (pids are reused). The owner writes a
// temporary file, locks it and only then renames it into place, so that a
// listing never sees a live entry unlocked.

// tmpPrefix starts the names of entries being written.
const tmpPrefix = ".tmp-"

// staleTmp is the age after which an unlocked temporary entry is removed.
const staleTmp = time.Minute

// registration is a published entry: its file, locked while it is open.
type registration struct {
	path string
	f    *os.File
}

// entryFile is the name of e's file in the registry.
func entryFile(e Entry) string {
	return project.DirName(&project.Config{Name: e.Project, Root: e.Root}) + ".json"
}

// register publishes e in the registry of dir.
func register(dir string, e Entry) (*registration, error) {
	data, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("manager: register: %w", err)
	}
	path := filepath.Join(dir, entryFile(e))
	tmp := filepath.Join(dir, fmt.Sprintf("%s%d-%s", tmpPrefix, os.Getpid(), entryFile(e)))
	f, err := nofollow.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("manager: register in %s: %w", dir, err)
	}
	fail := func(err error) (*registration, error) {
		f.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("manager: register %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH); err != nil {
		return fail(err)
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	return &registration{path: path, f: f}, nil
}

// remove unpublishes the entry: the file goes first, then its lock.
func (r *registration) remove() {
	if r == nil || r.f == nil {
		return
	}
	if sameFile(r.f, r.path) {
		os.Remove(r.path)
	}
	r.f.Close()
	r.f = nil
}

// sameFile reports whether path still names f's file.
func sameFile(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Lstat(path)
	return err == nil && os.SameFile(a, b)
}

// liveEntries returns the entries of dir whose owners live, sorted by
// project and root, and removes the dead ones with their stale sockets.
func liveEntries(dir string) ([]Entry, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("manager: list %s: %w", dir, err)
	}
	var out []Entry
	for _, de := range des {
		name := de.Name()
		path := filepath.Join(dir, name)
		switch {
		case strings.HasPrefix(name, tmpPrefix):
			removeStaleTmp(path)
		case strings.HasSuffix(name, ".json"):
			if e, ok := checkEntry(path); ok {
				out = append(out, e)
			}
		}
	}
	slices.SortFunc(out, func(a, b Entry) int {
		if c := strings.Compare(a.Project, b.Project); c != 0 {
			return c
		}
		return strings.Compare(a.Root, b.Root)
	})
	return out, nil
}

// ours opens path, never through a symlink, when it is a regular file of
// the current user's.
func ours(path string) (*os.File, bool) {
	f, err := nofollow.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, false
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, false
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != os.Getuid() {
		f.Close()
		return nil, false
	}
	return f, true
}

// checkEntry reads the entry at path: ok when its owner lives. A dead one
// is removed, with its socket when nothing listens on it.
func checkEntry(path string) (Entry, bool) {
	f, ok := ours(path)
	if !ok {
		return Entry{}, false
	}
	defer f.Close()
	var e Entry
	data, rerr := io.ReadAll(io.LimitReader(f, 1<<20))
	if rerr == nil {
		rerr = json.Unmarshal(data, &e)
	}
	err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		// Held: the owner lives.
		return e, rerr == nil && e.Socket != ""
	}
	if err != nil {
		return Entry{}, false
	}
	// Dead. Its socket is removed only when it refuses connections: a
	// new ukdev on the same project may already listen there.
	if rerr == nil && e.Socket != "" {
		removeStaleSocket(e.Socket)
	}
	if sameFile(f, path) {
		os.Remove(path)
	}
	return Entry{}, false
}

// removeStaleSocket removes the unix socket at path when it is ours and
// nothing listens on it.
func removeStaleSocket(path string) {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode().Type() != fs.ModeSocket {
		return
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != os.Getuid() {
		return
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		os.Remove(path)
	}
}

// removeStaleTmp removes a temporary entry left by an owner that died
// while registering.
func removeStaleTmp(path string) {
	f, ok := ours(path)
	if !ok {
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || time.Since(fi.ModTime()) < staleTmp {
		return
	}
	if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil && sameFile(f, path) {
		os.Remove(path)
	}
}

// statusTimeout bounds one loop's status round in List.
const statusTimeout = 2 * time.Second

// List returns the running loops of the current user, sorted by project,
// each with its VM's status; a loop that does not answer has Error set.
// It removes the entries of dead loops and their stale sockets.
func List(ctx context.Context) ([]VM, error) {
	dir, err := project.RegistryDir()
	if err != nil {
		return nil, fmt.Errorf("manager: %w", err)
	}
	entries, err := liveEntries(dir)
	if err != nil {
		return nil, err
	}
	return statuses(ctx, entries), nil
}

// statuses asks each entry's loop for its status, all at once.
func statuses(ctx context.Context, entries []Entry) []VM {
	out := make([]VM, len(entries))
	done := make(chan struct{})
	for i, e := range entries {
		go func() {
			defer func() { done <- struct{}{} }()
			out[i] = status(ctx, e)
		}()
	}
	for range entries {
		<-done
	}
	return out
}

// status asks e's loop for its status.
func status(ctx context.Context, e Entry) VM {
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	c, err := Dial(ctx, e)
	if err != nil {
		return VM{Entry: e, State: "none", Error: err.Error()}
	}
	defer c.Close()
	v, err := c.Status(ctx)
	if err != nil {
		return VM{Entry: e, State: "none", Error: err.Error()}
	}
	return v
}

// ListSampled is List with CPUPercent measured: the loops are asked for
// their status twice, gap apart.
func ListSampled(ctx context.Context, gap time.Duration) ([]VM, error) {
	first, err := List(ctx)
	if err != nil || len(first) == 0 {
		return first, err
	}
	start := time.Now()
	select {
	case <-time.After(gap):
	case <-ctx.Done():
		return first, nil
	}
	entries := make([]Entry, len(first))
	for i, v := range first {
		entries[i] = v.Entry
	}
	second := statuses(ctx, entries)
	elapsed := time.Since(start)
	for i := range second {
		a, b := first[i], &second[i]
		if a.Error == "" && b.Error == "" && a.QEMUPID != 0 && a.QEMUPID == b.QEMUPID && b.CPUTime >= a.CPUTime {
			b.CPUPercent = 100 * (b.CPUTime - a.CPUTime).Seconds() / elapsed.Seconds()
		}
	}
	return second, nil
}

// Find returns the running loop that nameOrDir names: a project name, or
// a directory inside (or at) a loop's project root. It fails wrapping
// ErrNotFound when none matches and ErrAmbiguous when several do.
func Find(ctx context.Context, nameOrDir string) (VM, error) {
	vms, err := List(ctx)
	if err != nil {
		return VM{}, err
	}
	return match(vms, nameOrDir)
}

// match picks the VM nameOrDir names out of vms (see Find).
func match(vms []VM, nameOrDir string) (VM, error) {
	var found []VM
	for _, v := range vms {
		if v.Project == nameOrDir {
			found = append(found, v)
		}
	}
	// Not a name: a directory, if there is one by that name (a name
	// mistyped inside a project must not pick that project).
	if fi, err := os.Stat(nameOrDir); len(found) == 0 && err == nil && fi.IsDir() {
		if dir, err := filepath.Abs(nameOrDir); err == nil {
			if real, err := filepath.EvalSymlinks(dir); err == nil {
				dir = real
			}
			// The innermost root that holds dir: a project nested in
			// another is its own.
			best := -1
			for i, v := range vms {
				if within(dir, v.Root) && (best < 0 || len(v.Root) > len(vms[best].Root)) {
					best = i
				}
			}
			if best >= 0 {
				found = append(found, vms[best])
			}
		}
	}
	switch len(found) {
	case 0:
		if len(vms) == 0 {
			return VM{}, fmt.Errorf("manager: %q: %w: no ukdev is running (ukdev up starts one)", nameOrDir, ErrNotFound)
		}
		names := make([]string, len(vms))
		for i, v := range vms {
			names[i] = v.Project
		}
		return VM{}, fmt.Errorf("manager: %q: %w: it is neither the name of a running project (%s) nor a directory in one", nameOrDir, ErrNotFound, strings.Join(names, ", "))
	case 1:
		return found[0], nil
	}
	roots := make([]string, len(found))
	for i, v := range found {
		roots[i] = v.Root
	}
	return VM{}, fmt.Errorf("manager: %q: %w: %s; give the project's directory instead", nameOrDir, ErrAmbiguous, strings.Join(roots, ", "))
}

// within reports whether dir is root or inside it.
func within(dir, root string) bool {
	rel, err := filepath.Rel(root, dir)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}
