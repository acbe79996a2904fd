// Package nofollow opens the files ukdev writes without following a
// symbolic link in their place. ukdev writes into directories it has
// checked are its own (the state and runtime dirs) and into the user's
// project; a symlink planted where one of its files goes would otherwise
// have ukdev truncate or append to the link's target, with the user's
// rights. Only the last path component is protected: the directories on
// the way are the callers' to check (project.StateDir, project.RuntimeDir).
package nofollow

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// ErrSymlink is returned, in an *fs.PathError, when the file to open is a
// symbolic link.
var ErrSymlink = errors.New("is a symbolic link, which ukdev does not write through")

// OpenFile is os.OpenFile with O_NOFOLLOW: when name is a symbolic link
// (dangling or not) it fails with ErrSymlink instead of opening the link's
// target. With O_CREATE|O_EXCL a symlink fails with fs.ErrExist, as it
// does for os.OpenFile.
func OpenFile(name string, flag int, perm fs.FileMode) (*os.File, error) {
	f, err := os.OpenFile(name, flag|syscall.O_NOFOLLOW, perm)
	if err != nil && errors.Is(err, syscall.ELOOP) {
		// ELOOP also means too many links on the way to name; only a
		// link at name itself is ErrSymlink.
		if fi, lerr := os.Lstat(name); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return nil, &fs.PathError{Op: "open", Path: name, Err: ErrSymlink}
		}
	}
	return f, err
}

// WriteFile is os.WriteFile through OpenFile: it creates name with perm or
// truncates it, and refuses a symbolic link with ErrSymlink.
func WriteFile(name string, data []byte, perm fs.FileMode) error {
	return Write(name, os.O_CREATE|os.O_TRUNC, data, perm)
}

// Write opens name for writing through OpenFile with flag (such as
// O_CREATE|O_EXCL for a file that must be new), writes data and closes
// it.
func Write(name string, flag int, data []byte, perm fs.FileMode) error {
	f, err := OpenFile(name, os.O_WRONLY|flag, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
