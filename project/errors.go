package project

import (
	"errors"
	"fmt"
)

// ErrNotFound is returned (wrapped) by Find when no ukdev.toml exists in the
// directory or any of its parents.
var ErrNotFound = errors.New("no " + FileName + " found")

// ErrBadPort is returned (wrapped) by ParsePort for a malformed port forward.
var ErrBadPort = errors.New("bad port forward")

// ErrBadSize is returned (wrapped) by ParseSize for a malformed size.
var ErrBadSize = errors.New("bad size")

// ErrUnsafeDir is returned (wrapped) by RuntimeDir, and by StateDir for its
// fallback under the temp dir, when a directory it would use belongs to
// another user, is group or world accessible, or is not a plain directory:
// others could reach the sockets inside, or plant symlinks where ukdev's
// files go.
var ErrUnsafeDir = errors.New("unsafe directory")

// Error is a problem in a ukdev.toml file: a TOML syntax error, an unknown
// key, a value of the wrong type or an invalid value. Line and Column are
// 1-based and point at the offending value (or key); Key is the dotted key,
// with an index for array elements ("vm.ports[1]"), empty for syntax errors
// that belong to no key.
type Error struct {
	File   string
	Line   int
	Column int
	Key    string
	Msg    string
}

// Error formats e as "file:line:column: key: message", leaving out the
// position or the key when they are unknown.
func (e *Error) Error() string {
	s := e.File
	if e.Line > 0 {
		s += fmt.Sprintf(":%d:%d", e.Line, e.Column)
	}
	if e.Key != "" {
		s += ": " + e.Key
	}
	return s + ": " + e.Msg
}
