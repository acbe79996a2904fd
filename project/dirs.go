package project

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// MaxSocketName is the longest file name RuntimeDir leaves room for: a unix
// socket at filepath.Join(dir, name) stays within the 108 bytes of
// sockaddr_un, terminating NUL included, for any name up to this length.
const MaxSocketName = 24

// maxSocketPath is the usable length of a unix socket path on Linux.
const maxSocketPath = 107

// maxDirName bounds the project name inside directory names, keeping
// runtime paths short.
const maxDirName = 32

// StateDir returns the directory for c's persistent state (boot logs,
// history): $XDG_STATE_HOME/ukdev/<name>-<hash>, with ~/.local/state when
// XDG_STATE_HOME is unset or not absolute. <hash> is 8 hex digits of the
// SHA-256 of the project root's real path, so two projects with the same
// name do not share state and one reached through a symlink does. StateDir
// does not create that directory.
//
// Without a home either, the state goes to <temp>/ukdev-<uid>/state/
// <name>-<hash>, in a directory others can create first: StateDir then
// creates each of those directories mode 0700 and refuses (with
// ErrUnsafeDir, saying why) one that belongs to another user, is group or
// world accessible or is a symlink, as RuntimeDir does.
func StateDir(c *Config) (string, error) {
	if c == nil {
		return "", fmt.Errorf("project: state dir: no config")
	}
	base := os.Getenv("XDG_STATE_HOME")
	if !filepath.IsAbs(base) {
		home, err := os.UserHomeDir()
		if err != nil || !filepath.IsAbs(home) {
			// Without a home there is no per-user place that survives
			// reboots; a per-user temporary directory still works.
			top := filepath.Join(os.TempDir(), "ukdev-"+strconv.Itoa(os.Getuid()))
			state := filepath.Join(top, "state")
			dir := filepath.Join(state, dirName(c, maxDirName))
			if err := makePrivate("state dir", top, state, dir); err != nil {
				return "", err
			}
			return dir, nil
		}
		base = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(base, "ukdev", dirName(c, maxDirName)), nil
}

// RuntimeDir returns, creating it if needed, the private directory for c's
// sockets and other files that live only while ukdev runs:
// $XDG_RUNTIME_DIR/ukdev/<name>-<hash> or, when XDG_RUNTIME_DIR is unset,
// not absolute or too long, <temp>/ukdev-<uid>/<hash>. Every directory
// RuntimeDir creates is mode 0700, and it refuses (with ErrUnsafeDir) one
// that exists but belongs to another user, is group or world accessible or
// is a symlink, since others could then reach the sockets inside. The path
// leaves room for socket names up to MaxSocketName bytes.
func RuntimeDir(c *Config) (string, error) {
	if c == nil {
		return "", fmt.Errorf("project: runtime dir: no config")
	}
	if base := os.Getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(base) {
		top := filepath.Join(base, "ukdev")
		// Shorten the name part, not the hash, to fit a long base.
		room := maxSocketPath - MaxSocketName - 1 - len(top) - 1 - len("-") - 8
		dir := filepath.Join(top, dirName(c, min(room, maxDirName)))
		if room > 0 && fitsSocket(dir) {
			if err := makePrivate("runtime dir", top, dir); err != nil {
				return "", err
			}
			return dir, nil
		}
	}
	top := filepath.Join(os.TempDir(), "ukdev-"+strconv.Itoa(os.Getuid()))
	dir := filepath.Join(top, rootHash(c.Root))
	if !fitsSocket(dir) {
		return "", fmt.Errorf("project: runtime dir: %s is too long for unix socket paths (max %d bytes)", dir, maxSocketPath-1-MaxSocketName)
	}
	if err := makePrivate("runtime dir", top, dir); err != nil {
		return "", err
	}
	return dir, nil
}

// fitsSocket reports whether sockets of up to MaxSocketName bytes fit in dir.
func fitsSocket(dir string) bool {
	return len(dir)+1+MaxSocketName <= maxSocketPath
}

// makePrivate creates each directory in order (each the parent of the next)
// with mode 0700 and checks that it is ours alone; what names the
// directories in errors.
func makePrivate(what string, dirs ...string) error {
	for _, d := range dirs {
		if err := os.Mkdir(d, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("project: %s: %w", what, err)
		}
		if err := checkPrivate(what, d); err != nil {
			return err
		}
	}
	return nil
}

// checkPrivate checks that dir is a real directory owned by the current
// user with no group or world permissions.
func checkPrivate(what, dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("project: %s: %w", what, err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("project: %s: %w: %s is a symbolic link; remove it and ukdev creates a private directory", what, ErrUnsafeDir, dir)
	}
	if !fi.IsDir() {
		return fmt.Errorf("project: %s: %w: %s is not a directory", what, ErrUnsafeDir, dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("project: %s: %w: %s belongs to uid %d, not %d: another user created it, and ukdev does not share it", what, ErrUnsafeDir, dir, st.Uid, os.Getuid())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("project: %s: %w: %s has mode %04o; want 0700 (chmod 700 %s)", what, ErrUnsafeDir, dir, perm, dir)
	}
	return nil
}

// dirName is "<name>-<hash>", with the name made safe for a path component
// and cut to at most maxName bytes.
func dirName(c *Config, maxName int) string {
	name := []byte(c.Name)
	for i, b := range name {
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '.' || b == '_' || b == '-') {
			name[i] = '_'
		}
	}
	if len(name) > maxName {
		name = name[:max(maxName, 1)]
	}
	if len(name) == 0 || name[0] == '.' {
		name = append([]byte("p"), name...)
	}
	return string(name) + "-" + rootHash(c.Root)
}

// rootHash is 8 hex digits of the SHA-256 of a project root's real path
// (the root itself when it cannot be resolved), so that a project reached
// through a symlink has the same state, runtime dir and lock.
func rootHash(root string) string {
	if real, err := filepath.EvalSymlinks(root); err == nil {
		root = real
	}
	sum := sha256.Sum256([]byte(root))
	return hex.EncodeToString(sum[:4])
}

// RegistryDir returns, creating it if needed, the per-user directory of
// the registry of running ukdev loops (package manager):
// $XDG_RUNTIME_DIR/ukdev/vms when XDG_RUNTIME_DIR is absolute, else
// <temp>/ukdev-<uid>/vms. Like RuntimeDir, every directory it creates is
// mode 0700 and it refuses (with ErrUnsafeDir) one that belongs to another
// user, is group or world accessible or is a symlink: another user's loops
// are never listed or touched.
func RegistryDir() (string, error) {
	var top string
	if base := os.Getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(base) {
		top = filepath.Join(base, "ukdev")
	} else {
		top = filepath.Join(os.TempDir(), "ukdev-"+strconv.Itoa(os.Getuid()))
	}
	dir := filepath.Join(top, "vms")
	if err := makePrivate("registry dir", top, dir); err != nil {
		return "", err
	}
	return dir, nil
}

// DirName is the "<name>-<hash>" that names c's state directory: the
// project name made safe for a path, and 8 hex digits of its root's real
// path. It names a project's files outside its own directories (its entry
// in the registry of running loops).
func DirName(c *Config) string {
	return dirName(c, maxDirName)
}
