// Package initramfs writes initial RAM file systems as the "newc" cpio
// archives Linux unpacks at boot ("070701" headers, names and data padded
// to 4 bytes, a TRAILER!!! entry last), without external tools.
package initramfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
)

// Default permissions of entries whose File.Mode has no permission bits.
const (
	// DefaultDirMode is the mode of directories, given or implied.
	DefaultDirMode fs.FileMode = 0o755
	// DefaultFileMode is the mode of files with contents from Data.
	DefaultFileMode fs.FileMode = 0o644
	// DefaultInitMode is the mode of /init: Linux runs it as the first
	// process.
	DefaultInitMode fs.FileMode = 0o755
)

// maxSize is the largest file a newc header can describe: sizes are 8 hex
// digits.
const maxSize = 1<<32 - 1

// File is one entry of the archive: a directory (Dir), a symbolic link
// (Link), or a regular file with contents from Data or the host file Host.
type File struct {
	// Path is the entry's path in the guest, e.g. "/init" or
	// "/etc/resolv.conf"; a leading slash is optional. Missing parent
	// directories are added with DefaultDirMode.
	Path string
	// Mode holds the permission bits (and setuid, setgid, sticky); with no
	// permission bits the entry gets DefaultDirMode, DefaultInitMode,
	// Host's own permissions, or DefaultFileMode.
	Mode fs.FileMode
	// Data is the contents of a regular file when Host is empty.
	Data []byte
	// Host is a host file whose contents are copied at write time.
	Host string
	// Link makes the entry a symbolic link pointing at Link.
	Link string
	// Dir makes the entry a directory.
	Dir bool
}

// ErrInvalid is returned (wrapped in a *FileError) for an entry that
// cannot be written: a bad path, contradicting kinds, a non-executable
// /init, a file too large for the format.
var ErrInvalid = errors.New("invalid initramfs entry")

// FileError says which entry could not be written and why.
type FileError struct {
	// Path is the entry's path as given.
	Path string
	// Err is ErrInvalid or the error reading the host file.
	Err error
	// Reason explains an ErrInvalid.
	Reason string
}

func (e *FileError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("initramfs: %s: %s", e.Path, e.Reason)
	}
	return fmt.Sprintf("initramfs: %s: %v", e.Path, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

func invalid(p, reason string) error { return &FileError{Path: p, Err: ErrInvalid, Reason: reason} }

// Unix file type bits of a cpio mode.
const (
	typeDir  = 0o040000
	typeReg  = 0o100000
	typeLink = 0o120000
)

// entry is a File resolved for writing.
type entry struct {
	name string // cleaned, without a leading slash
	mode uint32 // type and permission bits
	file File
	size int64
}

// Write writes files to w as a newc cpio archive. Entries are written in
// path order, parents before children, with their missing parent
// directories; a later File with the same path replaces an earlier one.
// Owners are root and times are zero, so the same files always give the
// same bytes. /init, when present, must be an executable file or a link.
func Write(w io.Writer, files []File) error {
	entries, err := resolve(files)
	if err != nil {
		return err
	}
	cw := &countWriter{w: w}
	for i, e := range entries {
		if err := writeEntry(cw, uint32(i+1), e); err != nil {
			return err
		}
	}
	if err := writeHeader(cw, header{name: "TRAILER!!!", nlink: 1}); err != nil {
		return err
	}
	return nil
}

// resolve validates files, adds missing parents and sorts the entries.
func resolve(files []File) ([]entry, error) {
	byName := map[string]entry{}
	for _, f := range files {
		e, err := resolveFile(f)
		if err != nil {
			return nil, err
		}
		byName[e.name] = e
	}
	for name := range byName {
		for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
			parent, ok := byName[dir]
			if !ok {
				byName[dir] = entry{name: dir, mode: typeDir | uint32(DefaultDirMode), file: File{Path: "/" + dir, Dir: true}}
				continue
			}
			if parent.mode&typeDir == 0 {
				return nil, invalid(parent.file.Path, fmt.Sprintf("not a directory, but %s is inside it", "/"+name))
			}
		}
	}
	entries := make([]entry, 0, len(byName))
	for _, e := range byName {
		entries = append(entries, e)
	}
	// A parent's name is a prefix of its children's, so it sorts first.
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	return entries, nil
}

// resolveFile validates one File and works out its mode and size.
func resolveFile(f File) (entry, error) {
	name := strings.TrimPrefix(path.Clean("/"+f.Path), "/")
	switch {
	case f.Path == "" || name == "":
		return entry{}, invalid(f.Path, "empty path or the root directory")
	case strings.Contains(f.Path, "\x00"):
		return entry{}, invalid(f.Path, "NUL byte in path")
	}
	for _, part := range strings.Split(f.Path, "/") {
		if part == ".." {
			return entry{}, invalid(f.Path, "path leaves the archive (..)")
		}
	}
	kinds := 0
	for _, set := range []bool{f.Dir, f.Link != "", f.Host != "", f.Data != nil} {
		if set {
			kinds++
		}
	}
	if kinds > 1 {
		return entry{}, invalid(f.Path, "more than one of Dir, Link, Host and Data set")
	}
	if f.Mode&^(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0 {
		return entry{}, invalid(f.Path, fmt.Sprintf("mode %v: only permission, setuid, setgid and sticky bits are allowed", f.Mode))
	}
	perm := f.Mode & fs.ModePerm
	e := entry{name: name, file: f}
	switch {
	case f.Dir:
		e.mode = typeDir | permBits(f.Mode, DefaultDirMode)
	case f.Link != "":
		e.mode = typeLink | 0o777
		e.size = int64(len(f.Link))
	case f.Host != "":
		st, err := os.Stat(f.Host)
		if err != nil {
			return entry{}, &FileError{Path: f.Path, Err: err}
		}
		if !st.Mode().IsRegular() {
			return entry{}, invalid(f.Path, fmt.Sprintf("host file %s is not a regular file", f.Host))
		}
		def := st.Mode().Perm()
		if name == "init" {
			def |= DefaultInitMode
		}
		e.mode = typeReg | permBits(f.Mode, def)
		e.size = st.Size()
	default:
		def := DefaultFileMode
		if name == "init" {
			def = DefaultInitMode
		}
		e.mode = typeReg | permBits(f.Mode, def)
		e.size = int64(len(f.Data))
	}
	if e.size > maxSize {
		return entry{}, invalid(f.Path, fmt.Sprintf("%d bytes: newc archives hold files below 4 GiB", e.size))
	}
	if name == "init" {
		switch {
		case f.Dir:
			return entry{}, invalid(f.Path, "/init is a directory: Linux runs it as the first process")
		case f.Link == "" && e.mode&0o111 == 0:
			return entry{}, invalid(f.Path, fmt.Sprintf("/init has mode %v: Linux runs it as the first process, it must be executable", perm))
		}
	}
	return e, nil
}

// permBits converts mode's permission and special bits to Unix bits, with
// def's permissions when mode has none.
func permBits(mode, def fs.FileMode) uint32 {
	if mode&fs.ModePerm == 0 {
		mode |= def & fs.ModePerm
	}
	bits := uint32(mode & fs.ModePerm)
	if mode&fs.ModeSetuid != 0 {
		bits |= 0o4000
	}
	if mode&fs.ModeSetgid != 0 {
		bits |= 0o2000
	}
	if mode&fs.ModeSticky != 0 {
		bits |= 0o1000
	}
	return bits
}

// header is the variable part of a newc header.
type header struct {
	name  string
	ino   uint32
	mode  uint32
	nlink uint32
	size  uint32
}

// writeEntry writes one entry's header, name and contents.
func writeEntry(w *countWriter, ino uint32, e entry) error {
	nlink := uint32(1)
	if e.mode&0o170000 == typeDir {
		nlink = 2
	}
	if err := writeHeader(w, header{name: e.name, ino: ino, mode: e.mode, nlink: nlink, size: uint32(e.size)}); err != nil {
		return err
	}
	switch {
	case e.file.Link != "":
		if _, err := io.WriteString(w, e.file.Link); err != nil {
			return fmt.Errorf("initramfs: write: %w", err)
		}
	case e.file.Host != "":
		if err := copyHost(w, e); err != nil {
			return err
		}
	case e.file.Data != nil:
		if _, err := w.Write(e.file.Data); err != nil {
			return fmt.Errorf("initramfs: write: %w", err)
		}
	}
	return w.pad()
}

// copyHost copies exactly e.size bytes of the host file, so a file that
// changes size after resolve cannot corrupt the archive.
func copyHost(w io.Writer, e entry) error {
	f, err := os.Open(e.file.Host)
	if err != nil {
		return &FileError{Path: e.file.Path, Err: err}
	}
	defer f.Close()
	n, err := io.Copy(w, io.LimitReader(f, e.size))
	if err != nil {
		return &FileError{Path: e.file.Path, Err: err}
	}
	if n != e.size {
		return invalid(e.file.Path, fmt.Sprintf("host file %s shrank from %d to %d bytes while being written", e.file.Host, e.size, n))
	}
	return nil
}

// writeHeader writes the 110-byte newc header, the NUL-terminated name
// and the padding to a multiple of 4 bytes.
func writeHeader(w *countWriter, h header) error {
	// ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor
	// rdevminor namesize check
	s := fmt.Sprintf("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%s\x00",
		h.ino, h.mode, 0, 0, h.nlink, 0, h.size, 0, 0, 0, 0, len(h.name)+1, 0, h.name)
	if _, err := io.WriteString(w, s); err != nil {
		return fmt.Errorf("initramfs: write: %w", err)
	}
	return w.pad()
}

// countWriter counts the bytes written, for padding.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// pad writes zeros up to the next multiple of 4 bytes.
func (c *countWriter) pad() error {
	if r := c.n % 4; r != 0 {
		if _, err := c.Write(make([]byte, 4-r)); err != nil {
			return fmt.Errorf("initramfs: write: %w", err)
		}
	}
	return nil
}
