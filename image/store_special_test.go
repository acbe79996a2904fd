package image

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ukdev/ukdev/image/imagetest"
)

// A kernel.image that is not a regular file is refused at once, with a
// reason: a FIFO must not block the loop (opening it for reading waits for
// a writer), a device must not be copied without end. The flavors' own
// reads of the build output are checked in their package.
func TestSpecialKernelImageRefused(t *testing.T) {
	imagetest.RefusesSpecialFiles(t, ErrNotRegular, []imagetest.Op{
		{Name: "store copy", Run: func(dir, k string) error {
			s := &Store{Dir: filepath.Join(dir, "images"), Keep: 2}
			_, err := s.Copy(t.Context(), 1, Artifacts{Kernel: k})
			return err
		}},
		{Name: "inspect", Run: func(_, k string) error {
			_, err := Inspect(k)
			return err
		}},
	})
}

// dataRanges returns the [start, end) ranges of f that hold data, by
// SEEK_DATA and SEEK_HOLE.
func dataRanges(t *testing.T, path string) [][2]int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	var ranges [][2]int64
	for off := int64(0); off < fi.Size(); {
		data, err := f.Seek(off, unix.SEEK_DATA)
		if errors.Is(err, syscall.ENXIO) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		hole, err := f.Seek(data, unix.SEEK_HOLE)
		if err != nil {
			t.Fatal(err)
		}
		ranges = append(ranges, [2]int64{data, hole})
		off = hole
	}
	return ranges
}

// allocated is the space a file takes on disk.
func allocated(t *testing.T, path string) int64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}

// A sparse kernel.image (3 GiB, a few KiB of data) is copied sparsely:
// the copy takes about as little disk as the original and reads the same.
func TestStoreCopySparse(t *testing.T) {
	const size = 3 << 30
	src := filepath.Join(t.TempDir(), "kernel.elf")
	f, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	chunks := map[int64]string{0: "\x7fELF head", 1 << 30: "in the middle", size - 4096: "at the end"}
	for off, s := range chunks {
		if _, err := f.WriteAt(bytes.Repeat([]byte(s), 4096/len(s)), off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if a := allocated(t, src); a > 1<<20 {
		t.Skipf("this file system does not keep %s sparse (%d bytes allocated)", src, a)
	}

	s := &Store{Dir: filepath.Join(t.TempDir(), "images"), Keep: 2}
	start := time.Now()
	img, err := s.Copy(t.Context(), 1, Artifacts{Kernel: src})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("copied a %d-byte file with %d bytes allocated in %s; the copy has %d bytes allocated",
		int64(size), allocated(t, src), time.Since(start).Round(time.Millisecond), allocated(t, img.Kernel))

	if a := allocated(t, img.Kernel); a > 1<<20 {
		t.Errorf("the copy has %d bytes allocated, want the few KiB of data", a)
	}
	fi, err := os.Stat(img.Kernel)
	if err != nil || fi.Size() != size {
		t.Fatalf("copy: %v, %v; want %d bytes", fi, err, int64(size))
	}
	// Same data in the same places, holes (zeros) elsewhere: the same bytes.
	want, got := dataRanges(t, src), dataRanges(t, img.Kernel)
	if len(got) == 0 || len(got) > len(want) {
		t.Fatalf("copy's data ranges %v, want those of the source %v", got, want)
	}
	a, b := open(t, src), open(t, img.Kernel)
	for _, r := range want {
		x, y := make([]byte, r[1]-r[0]), make([]byte, r[1]-r[0])
		if _, err := a.ReadAt(x, r[0]); err != nil && err != io.EOF {
			t.Fatal(err)
		}
		if _, err := b.ReadAt(y, r[0]); err != nil && err != io.EOF {
			t.Fatal(err)
		}
		if !bytes.Equal(x, y) {
			t.Fatalf("bytes %d-%d differ", r[0], r[1])
		}
	}
	for _, r := range got {
		if !covered(want, r) {
			t.Errorf("the copy has data at %v where the source has a hole", r)
		}
	}
}

func covered(ranges [][2]int64, r [2]int64) bool {
	for _, w := range ranges {
		if r[0] >= w[0] && r[1] <= w[1] {
			return true
		}
	}
	return false
}

func open(t *testing.T, p string) *os.File {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// countdownCtx is a context that ends after its Err has been asked n
// times: a copy cancelled in the middle, at a known point.
type countdownCtx struct {
	context.Context
	n atomic.Int32
}

func (c *countdownCtx) Err() error {
	if c.n.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

// A copy cancelled in the middle returns the context's error at once and
// leaves no partial file, nor the build's directory.
func TestStoreCopyCancelled(t *testing.T) {
	src := filepath.Join(t.TempDir(), "kernel.elf")
	data := bytes.Repeat([]byte("dense kernel data\n"), (3*copyChunk)/18+1)
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	s := &Store{Dir: filepath.Join(t.TempDir(), "images"), Keep: 2}
	for _, after := range []int32{0, 1, 2} {
		ctx := &countdownCtx{Context: t.Context()}
		ctx.n.Store(after)
		img, err := s.Copy(ctx, 1, Artifacts{Kernel: src})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Copy cancelled after %d chunks = %+v, %v; want context.Canceled", after, img, err)
		}
		if _, err := os.Stat(s.BuildDir(1)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("cancelled after %d chunks: %s is left behind (%v)", after, s.BuildDir(1), err)
		}
	}
	// Not cancelled: the whole file.
	img, err := s.Copy(t.Context(), 1, Artifacts{Kernel: src})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(img.Kernel); err != nil || !bytes.Equal(got, data) {
		t.Errorf("copy of %d bytes: %d bytes, %v", len(data), len(got), err)
	}
}
