package kernel

import (
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
// fills in the flavor's boot settings.
func (s *Store) Copy(build int, a Artifacts, inUse ...int) (Image, error) {
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
	img := Image{Build: build, Cmdline: a.Cmdline}
	var err error
	if img.Kernel, err = copyReadOnly(a.Kernel, filepath.Join(dir, "kernel")); err != nil {
		return Image{}, err
	}
	if a.Initrd != "" {
		if img.Initrd, err = copyReadOnly(a.Initrd, filepath.Join(dir, "initrd")); err != nil {
			return Image{}, err
		}
	}
	switch {
	case a.Symbols == "" || a.Symbols == a.Kernel:
		img.Symbols = img.Kernel
	default:
		if img.Symbols, err = copyReadOnly(a.Symbols, filepath.Join(dir, "symbols")); err != nil {
			return Image{}, err
		}
	}
	// Clip so that appending never writes into the caller's backing array.
	if err := s.prune(append(slices.Clip(inUse), build)); err != nil {
		return img, err
	}
	return img, nil
}

func copyReadOnly(src, dst string) (string, error) {
	in, err := os.Open(src)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("kernel: %s: %w", src, ErrMissingArtifact)
	}
	if err != nil {
		return "", fmt.Errorf("kernel: copy %s: %w", src, err)
	}
	defer in.Close()
	out, err := nofollow.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o400)
	if err != nil {
		return "", fmt.Errorf("kernel: copy %s: %w", src, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return "", fmt.Errorf("kernel: copy %s: %w", src, err)
	}
	if err := out.Close(); err != nil {
		return "", fmt.Errorf("kernel: copy %s: %w", src, err)
	}
	return dst, nil
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
