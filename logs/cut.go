package logs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// A boot file over its size limit is not deleted: it is replaced by a cut
// copy holding the first bytes of the boot's output, a marker line saying
// how many bytes were left out, and the most recent bytes. The copy is
// written to a temporary file and renamed over the boot's file, so the
// file is whole at every moment, also when ukdev is killed in the middle.

const (
	// minFileBytes is the smallest limit for one boot file, whatever
	// MaxBytes says: room for some head, the marker and some tail even
	// when a running boot is cut to half of it.
	minFileBytes = 1 << 10
	// markerRoom is the room kept for the marker line when cutting.
	markerRoom = 96
	// cutAttr is the extended attribute recording a cut file's cutMap, so
	// that a follower holding it knows where it is in the boot's output.
	cutAttr = "user.ukdev.cut"
	// cutTempPattern names the temporary files of cuts (see cutCopy).
	cutTempPattern = ".cut-*.tmp"
)

// cutMap says how a cut file maps to the boot's whole output: the file's
// first head bytes are the output's first head bytes, a marker line runs
// up to tail, and from tail on the file holds the output from byte
// head+cut on.
type cutMap struct {
	head, tail, cut int64
}

// outputOffset returns the offset in the boot's whole output of byte p of
// a file cut as m (nil: not cut). A p inside the marker maps to the first
// byte after the cut.
func (m *cutMap) outputOffset(p int64) int64 {
	switch {
	case m == nil || p < m.head:
		return p
	case p < m.tail:
		return m.head + m.cut
	}
	return p - m.tail + m.head + m.cut
}

// fileOffset returns where a reader that has seen the boot's output up to
// out continues in a file cut as m: the same byte when the file holds it,
// else the marker, which stands for the bytes left out.
func (m *cutMap) fileOffset(out int64) int64 {
	switch {
	case m == nil || out <= m.head:
		return out
	case out < m.head+m.cut:
		return m.head
	}
	return out - m.head - m.cut + m.tail
}

// readCutMap returns the cut recorded on f, or nil for a file never cut
// (or one on a file system without extended attributes).
func readCutMap(f *os.File) *cutMap {
	buf := make([]byte, 64)
	n, err := unix.Fgetxattr(int(f.Fd()), cutAttr, buf)
	if err != nil {
		return nil
	}
	var m cutMap
	if _, err := fmt.Sscanf(string(buf[:n]), "%d %d %d", &m.head, &m.tail, &m.cut); err != nil {
		return nil
	}
	return &m
}

// cutCopy writes a copy of src, a boot file of size bytes cut as old (nil:
// never cut), holding at most keep bytes, to a new temporary file in dir:
// the first bytes up to a quarter of keep (or old's head, when smaller),
// the marker, and the last bytes. The head ends and the tail starts at a
// line break when there is one in reach, so the marker is a line of its
// own. It returns the new file, open for reading and writing and
// positioned at its end, and its map; the caller renames or removes it.
func cutCopy(dir string, src *os.File, size int64, old *cutMap, keep int64) (*os.File, cutMap, error) {
	head := keep / 4
	if old != nil {
		head = min(head, old.head)
	}
	head, err := lineEnd(src, head)
	if err != nil {
		return nil, cutMap{}, err
	}
	from := max(size-max(keep-head-markerRoom, 0), head)
	if old != nil {
		from = max(from, old.tail)
	}
	if from, err = lineStart(src, from, size); err != nil {
		return nil, cutMap{}, err
	}
	m := cutMap{head: head, cut: old.outputOffset(from) - head}

	endsLine := head == 0
	if head > 0 {
		var last [1]byte
		if _, err := src.ReadAt(last[:], head-1); err != nil {
			return nil, cutMap{}, err
		}
		endsLine = last[0] == '\n'
	}
	marker := fmt.Sprintf("[ukdev: %d bytes of this boot's output cut here to keep logs.max_bytes]\n", m.cut)
	if !endsLine {
		marker = "\n" + marker
	}
	m.tail = head + int64(len(marker))

	tmp, err := os.CreateTemp(dir, cutTempPattern)
	if err != nil {
		return nil, cutMap{}, err
	}
	_, err = io.Copy(tmp, io.NewSectionReader(src, 0, head))
	if err == nil {
		_, err = io.WriteString(tmp, marker)
	}
	if err == nil {
		_, err = io.Copy(tmp, io.NewSectionReader(src, from, size-from))
	}
	if err == nil {
		err = unix.Fsetxattr(int(tmp.Fd()), cutAttr, []byte(fmt.Sprintf("%d %d %d", m.head, m.tail, m.cut)), 0)
		if errors.Is(err, unix.ENOTSUP) {
			// Followers then continue at the end of the cut copy.
			err = nil
		}
	}
	if err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, cutMap{}, fmt.Errorf("cut %s: %w", src.Name(), err)
	}
	return tmp, m, nil
}

// lineEnd returns where to end a head of at most n bytes of f: after the
// last line break in its second half, else n.
func lineEnd(f *os.File, n int64) (int64, error) {
	if n <= 0 {
		return 0, nil
	}
	buf := make([]byte, n-n/2)
	if _, err := f.ReadAt(buf, n/2); err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
		return n/2 + int64(i) + 1, nil
	}
	return n, nil
}

// lineStart returns where to start a tail of f that starts at from at the
// earliest: after the first line break in reach (a quarter of the tail),
// else from.
func lineStart(f *os.File, from, size int64) (int64, error) {
	reach := min((size-from)/4, 64<<10)
	if reach <= 0 {
		return from, nil
	}
	buf := make([]byte, reach)
	if _, err := f.ReadAt(buf, from); err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	if i := bytes.IndexByte(buf, '\n'); i >= 0 {
		return from + int64(i) + 1, nil
	}
	return from, nil
}

// cutFinished cuts the file of a finished boot to at most keep bytes and
// returns its new size. s.mu must be held.
func (s *Store) cutFinished(boot int, keep int64) (int64, error) {
	path := s.Path(boot)
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return 0, fmt.Errorf("cut boot %d: %w", boot, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("cut boot %d: %w", boot, err)
	}
	if fi.Size() <= keep {
		return fi.Size(), nil
	}
	tmp, _, err := cutCopy(s.dir, f, fi.Size(), readCutMap(f), keep)
	if err != nil {
		return 0, fmt.Errorf("cut boot %d: %w", boot, err)
	}
	size, err := tmp.Seek(0, io.SeekEnd)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return 0, fmt.Errorf("cut boot %d: %w", boot, err)
	}
	return size, nil
}

// removeStaleCuts removes the temporary files of cuts that a killed ukdev
// left. s.mu must be held: every cut holds it while its file exists.
func (s *Store) removeStaleCuts() {
	stale, _ := filepath.Glob(filepath.Join(s.dir, cutTempPattern))
	for _, p := range stale {
		os.Remove(p)
	}
}
