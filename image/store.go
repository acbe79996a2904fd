package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/ukdev/ukdev/nofollow"
)

// Artifacts are the files a build produced, as the project names them.
type Artifacts struct {
	Kernel  string // required
	Initrd  string // optional
	Symbols string // optional separate debug ELF; empty means the kernel itself
	Cmdline string
}

// ErrMissingArtifact is returned (wrapped) when a build said it succeeded but
// a file it should have produced is not there.
var ErrMissingArtifact = errors.New("build output missing")

// Store keeps one private, read-only copy of each build's boot files, so QEMU
// never maps a file the next build overwrites or truncates (a truncated
// -kernel file kills QEMU with SIGBUS on the next reset). Store is not safe
// for concurrent use.
type Store struct {
	// Dir holds one directory per build: build-000007/.
	Dir string
	// Keep is how many build directories survive pruning, besides those in
	// use; at least 1.
	Keep int
}

// Copy copies the artifacts of build into the store, read-only, and prunes
// older copies except the newest Keep and those whose build numbers are in
// inUse. It returns an Image whose paths point at the copies; the caller
// fills in the flavor's boot settings. An artifact that is not a regular
// file is refused (ErrNotRegular). The copies keep the sources' holes, and
// ctx is checked between chunks: when it ends, Copy returns its error and
// leaves no part of the build's copies behind.
func (s *Store) Copy(ctx context.Context, build int, a Artifacts, inUse ...int) (Image, error) {
	if a.Kernel == "" {
		return Image{}, fmt.Errorf("kernel: copy build %d: no kernel image configured", build)
	}
	dir := filepath.Join(s.Dir, fmt.Sprintf("build-%06d", build))
	if err := os.RemoveAll(dir); err != nil {
		return Image{}, fmt.Errorf("kernel: copy build %d: %w", build, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Image{}, fmt.Errorf("kernel: copy build %d: %w", build, err)
	}
	img, err := copyArtifacts(ctx, dir, build, a)
	if err != nil {
		_ = os.RemoveAll(dir)
		return Image{}, err
	}
	// Clip so that appending never writes into the caller's backing array.
	if err := s.prune(append(slices.Clip(inUse), build)); err != nil {
		return img, err
	}
	return img, nil
}

// copyArtifacts copies a's files into dir, as Copy describes.
func copyArtifacts(ctx context.Context, dir string, build int, a Artifacts) (Image, error) {
	img := Image{Build: build, Cmdline: a.Cmdline}
	var err error
	if img.Kernel, err = copyReadOnly(ctx, a.Kernel, filepath.Join(dir, "kernel")); err != nil {
		return Image{}, err
	}
	if a.Initrd != "" {
		if img.Initrd, err = copyReadOnly(ctx, a.Initrd, filepath.Join(dir, "initrd")); err != nil {
			return Image{}, err
		}
	}
	switch {
	case a.Symbols == "" || a.Symbols == a.Kernel:
		img.Symbols = img.Kernel
	default:
		if img.Symbols, err = copyReadOnly(ctx, a.Symbols, filepath.Join(dir, "symbols")); err != nil {
			return Image{}, err
		}
	}
	return img, nil
}

// ErrNotRegular is returned (wrapped) when a file ukdev reads from the
// build (kernel.image, initrd, symbols, a flavor's program) is not a
// regular file: a named pipe would block the loop until someone writes to
// it, a device would be copied without end.
var ErrNotRegular = errors.New("not a regular file")

// OpenRegular opens path for reading, or refuses it with ErrNotRegular
// when it is anything but a regular file (symlinks are followed: a build
// may link its output). The type is checked before opening, so that
// nothing special is even opened, and again on the open file, in case
// path was replaced in between; O_NONBLOCK keeps that open from waiting
// for a named pipe's writer.
func OpenRegular(path string) (*os.File, fs.FileInfo, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if err := checkRegular(path, fi); err != nil {
		return nil, nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	if fi, err = f.Stat(); err == nil {
		err = checkRegular(path, fi)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// checkRegular refuses, with ErrNotRegular and what it is, a file that is
// not regular.
func checkRegular(path string, fi fs.FileInfo) error {
	m := fi.Mode()
	if m.IsRegular() {
		return nil
	}
	kind := "a special file"
	switch {
	case m.IsDir():
		kind = "a directory"
	case m&fs.ModeNamedPipe != 0:
		kind = "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		kind = "a socket"
	case m&fs.ModeDevice != 0:
		kind = "a device"
	}
	return fmt.Errorf("kernel: %s: %w: it is %s; ukdev boots files the build writes", path, ErrNotRegular, kind)
}

// copyChunk is the most copyReadOnly copies between two looks at its
// context.
const copyChunk = 8 << 20

// copyReadOnly copies the regular file src to a new read-only file dst,
// keeping src's holes (a 3 GiB sparse image with 32 KiB of data copies 32
// KiB) and checking ctx between chunks. On any failure dst is removed.
func copyReadOnly(ctx context.Context, src, dst string) (string, error) {
	in, fi, err := OpenRegular(src)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("kernel: %s: %w", src, ErrMissingArtifact)
	case errors.Is(err, ErrNotRegular):
		return "", err
	case err != nil:
		return "", fmt.Errorf("kernel: copy %s: %w", src, err)
	}
	defer in.Close()
	out, err := nofollow.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o400)
	if err != nil {
		return "", fmt.Errorf("kernel: copy %s: %w", src, err)
	}
	err = copySparse(ctx, out, in, fi.Size())
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(dst)
		return "", fmt.Errorf("kernel: copy %s: %w", src, err)
	}
	return dst, nil
}

// copySparse copies the first size bytes of in to out, which is empty: only
// the ranges SEEK_DATA and SEEK_HOLE report as data are copied (with
// copy_file_range, through io.Copy), the rest stays a hole of out. ctx is
// checked before each chunk of at most copyChunk bytes.
func copySparse(ctx context.Context, out, in *os.File, size int64) error {
	for off := int64(0); off < size; {
		data, err := in.Seek(off, unix.SEEK_DATA)
		hole := size
		switch {
		case errors.Is(err, syscall.ENXIO):
			// Nothing but a hole from off to the end.
			return out.Truncate(size)
		case errors.Is(err, syscall.EINVAL):
			// No SEEK_DATA here: everything left is data.
			data = off
		case err != nil:
			return err
		default:
			if hole, err = in.Seek(data, unix.SEEK_HOLE); err != nil {
				return err
			}
			hole = min(hole, size)
		}
		for data < hole {
			if err := ctx.Err(); err != nil {
				return err
			}
			n := min(copyChunk, hole-data)
			if _, err := in.Seek(data, io.SeekStart); err != nil {
				return err
			}
			if _, err := out.Seek(data, io.SeekStart); err != nil {
				return err
			}
			if _, err := io.CopyN(out, in, n); err != nil {
				return err
			}
			data += n
		}
		off = hole
	}
	return out.Truncate(size)
}

// prune removes build directories beyond the newest Keep, sparing keep.
func (s *Store) prune(keep []int) error {
	entries, err := os.ReadDir(s.Dir)
	if err != nil {
		return fmt.Errorf("kernel: prune: %w", err)
	}
	var builds []int
	for _, e := range entries {
		n, ok := strings.CutPrefix(e.Name(), "build-")
		if !ok || !e.IsDir() {
			continue
		}
		if b, err := strconv.Atoi(n); err == nil {
			builds = append(builds, b)
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(builds)))
	spare := map[int]bool{}
	for _, b := range keep {
		spare[b] = true
	}
	limit := max(s.Keep, 1)
	var errs []error
	for i, b := range builds {
		if i < limit || spare[b] {
			continue
		}
		dir := filepath.Join(s.Dir, fmt.Sprintf("build-%06d", b))
		// The copies are read-only files in a writable directory: RemoveAll
		// can delete them without chmod.
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("kernel: prune: %w", errors.Join(errs...))
	}
	return nil
}
