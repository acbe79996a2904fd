package initramfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// entryRead is one entry as a newc reader sees it.
type entryRead struct {
	Name  string
	Mode  uint32
	Nlink uint32
	Data  string
}

// readArchive parses a newc archive strictly: magic, 4-byte alignment of
// names and data, zero padding, and a TRAILER!!! entry ending the input.
func readArchive(t *testing.T, b []byte) []entryRead {
	t.Helper()
	var out []entryRead
	off := 0
	align := func() {
		for off%4 != 0 {
			if b[off] != 0 {
				t.Fatalf("non-zero padding at %d", off)
			}
			off++
		}
	}
	for {
		if off+110 > len(b) {
			t.Fatalf("truncated header at %d", off)
		}
		h := string(b[off : off+110])
		if h[:6] != "070701" {
			t.Fatalf("bad magic %q at %d", h[:6], off)
		}
		field := func(i int) uint32 {
			v, err := strconv.ParseUint(h[6+8*i:14+8*i], 16, 32)
			if err != nil {
				t.Fatalf("field %d at %d: %v", i, off, err)
			}
			return uint32(v)
		}
		mode, nlink, size, namesize := field(1), field(4), field(6), field(11)
		for _, i := range []int{2, 3, 5, 7, 8, 9, 10, 12} {
			if field(i) != 0 {
				t.Errorf("field %d = %d, want 0", i, field(i))
			}
		}
		off += 110
		name := string(b[off : off+int(namesize)])
		if !strings.HasSuffix(name, "\x00") {
			t.Fatalf("name %q not NUL-terminated", name)
		}
		name = strings.TrimSuffix(name, "\x00")
		off += int(namesize)
		align()
		data := string(b[off : off+int(size)])
		off += int(size)
		align()
		if name == "TRAILER!!!" {
			if off != len(b) {
				t.Fatalf("%d bytes after the trailer", len(b)-off)
			}
			return out
		}
		out = append(out, entryRead{Name: name, Mode: mode, Nlink: nlink, Data: data})
	}
}

func TestWrite(t *testing.T) {
	host := filepath.Join(t.TempDir(), "prog")
	if err := os.WriteFile(host, []byte("\x7fELF program"), 0o700); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(plain, []byte("abc"), 0o640); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		files []File
		want  []entryRead
	}{
		{name: "empty", files: nil, want: nil},
		{
			name:  "init from the host gets exec bits",
			files: []File{{Path: "/init", Host: plain}},
			want:  []entryRead{{"init", 0o100755 | 0o640, 1, "abc"}},
		},
		{
			name:  "init from data",
			files: []File{{Path: "init", Data: []byte("#!")}},
			want:  []entryRead{{"init", 0o100755, 1, "#!"}},
		},
		{
			name: "parents, sorted, each kind",
			files: []File{
				{Path: "/etc/ssl/certs/ca.pem", Data: []byte("pem")},
				{Path: "/init", Host: host},
				{Path: "/bin/sh", Link: "/init"},
				{Path: "/tmp", Dir: true, Mode: 0o777 | fs.ModeSticky},
				{Path: "/etc/empty", Data: []byte{}},
			},
			want: []entryRead{
				{"bin", 0o40755, 2, ""},
				{"bin/sh", 0o120777, 1, "/init"},
				{"etc", 0o40755, 2, ""},
				{"etc/empty", 0o100644, 1, ""},
				{"etc/ssl", 0o40755, 2, ""},
				{"etc/ssl/certs", 0o40755, 2, ""},
				{"etc/ssl/certs/ca.pem", 0o100644, 1, "pem"},
				{"init", 0o100700 | 0o755, 1, "\x7fELF program"},
				{"tmp", 0o41777, 2, ""},
			},
		},
		{
			name:  "later file replaces earlier, explicit mode",
			files: []File{{Path: "/a", Data: []byte("1")}, {Path: "//./a", Data: []byte("22"), Mode: 0o600 | fs.ModeSetuid}},
			want:  []entryRead{{"a", 0o104600, 1, "22"}},
		},
		{
			name:  "explicit directory keeps its mode",
			files: []File{{Path: "/d", Dir: true, Mode: 0o700}, {Path: "/d/f", Data: []byte("x")}},
			want:  []entryRead{{"d", 0o40700, 2, ""}, {"d/f", 0o100644, 1, "x"}},
		},
		{
			name:  "name lengths around the padding",
			files: []File{{Path: "/ab", Data: []byte("1")}, {Path: "/abc", Data: []byte("12")}, {Path: "/abcd", Data: []byte("123")}, {Path: "/abcde", Data: []byte("1234")}},
			want:  []entryRead{{"ab", 0o100644, 1, "1"}, {"abc", 0o100644, 1, "12"}, {"abcd", 0o100644, 1, "123"}, {"abcde", 0o100644, 1, "1234"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, tt.files); err != nil {
				t.Fatal(err)
			}
			if buf.Len()%4 != 0 {
				t.Errorf("archive of %d bytes, not a multiple of 4", buf.Len())
			}
			got := readArchive(t, buf.Bytes())
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("entries\n got %+v\nwant %+v", got, tt.want)
			}
			// Inode numbers are distinct and non-zero.
			seen := map[string]bool{}
			for off := 0; ; {
				h := buf.Bytes()[off:]
				ino := string(h[6:14])
				name := h[110:]
				n, _ := strconv.ParseUint(string(h[94:102]), 16, 32)
				size, _ := strconv.ParseUint(string(h[54:62]), 16, 32)
				if string(name[:n-1]) == "TRAILER!!!" {
					break
				}
				if seen[ino] || ino == "00000000" {
					t.Errorf("inode %s repeated or zero", ino)
				}
				seen[ino] = true
				off += (110+int(n)+3)&^3 + (int(size)+3)&^3
			}
			var again bytes.Buffer
			if err := Write(&again, tt.files); err != nil || !bytes.Equal(again.Bytes(), buf.Bytes()) {
				t.Errorf("second write differs (%v): archives must be reproducible", err)
			}
		})
	}
}

func TestWriteErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name  string
		files []File
		want  string
		is    error
	}{
		{name: "empty path", files: []File{{Path: ""}}, want: "empty path", is: ErrInvalid},
		{name: "root", files: []File{{Path: "/", Dir: true}}, want: "root directory", is: ErrInvalid},
		{name: "dot dot", files: []File{{Path: "/a/../../etc", Data: []byte("x")}}, want: "leaves the archive", is: ErrInvalid},
		{name: "NUL", files: []File{{Path: "/a\x00b", Data: []byte("x")}}, want: "NUL", is: ErrInvalid},
		{name: "two kinds", files: []File{{Path: "/a", Dir: true, Link: "b"}}, want: "more than one", is: ErrInvalid},
		{name: "data and host", files: []File{{Path: "/a", Data: []byte("x"), Host: "/etc/hostname"}}, want: "more than one", is: ErrInvalid},
		{name: "file type in mode", files: []File{{Path: "/a", Data: []byte("x"), Mode: fs.ModeDir | 0o755}}, want: "only permission", is: ErrInvalid},
		{name: "init not executable", files: []File{{Path: "/init", Data: []byte("x"), Mode: 0o644}}, want: "must be executable", is: ErrInvalid},
		{name: "init a directory", files: []File{{Path: "/init", Dir: true}}, want: "is a directory", is: ErrInvalid},
		{name: "file as a parent", files: []File{{Path: "/etc", Data: []byte("x")}, {Path: "/etc/passwd", Data: []byte("x")}}, want: "/etc: not a directory, but /etc/passwd is inside it", is: ErrInvalid},
		{name: "missing host file", files: []File{{Path: "/a", Host: filepath.Join(dir, "missing")}}, want: "/a:", is: fs.ErrNotExist},
		{name: "host directory", files: []File{{Path: "/a", Host: dir}}, want: "not a regular file", is: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Write(&buf, tt.files)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, tt.is) {
				t.Fatalf("Write = %v, want an error containing %q wrapping %v", err, tt.want, tt.is)
			}
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Errorf("error %T is not a *FileError", err)
			}
			if !strings.HasPrefix(err.Error(), "initramfs: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

// failWriter fails after n bytes.
type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, errors.New("disk full")
	}
	w.n -= len(p)
	return len(p), nil
}

func TestWriteWriterFails(t *testing.T) {
	files := []File{{Path: "/init", Data: bytes.Repeat([]byte("x"), 1000)}, {Path: "/etc/hosts", Data: []byte("h")}}
	var full bytes.Buffer
	if err := Write(&full, files); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 50, 120, 500, full.Len() - 1} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			err := Write(&failWriter{n: n}, files)
			if err == nil || !strings.Contains(err.Error(), "disk full") {
				t.Fatalf("Write with a writer failing after %d bytes = %v", n, err)
			}
		})
	}
	if err := Write(io.Discard, files); err != nil {
		t.Fatal(err)
	}
}
