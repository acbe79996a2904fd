package nofollow

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestOpenFile(t *testing.T) {
	const content = "precious\n"
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir, path string) // makes path
		flag    int
		wantErr error // nil: opens
	}{
		{"new file", func(*testing.T, string, string) {}, os.O_WRONLY | os.O_CREATE | os.O_EXCL, nil},
		{"existing file", func(t *testing.T, _, p string) { write(t, p, "old") }, os.O_WRONLY | os.O_APPEND, nil},
		{"symlink, append", func(t *testing.T, dir, p string) { link(t, filepath.Join(dir, "victim"), p) },
			os.O_WRONLY | os.O_CREATE | os.O_APPEND, ErrSymlink},
		{"symlink, truncate", func(t *testing.T, dir, p string) { link(t, filepath.Join(dir, "victim"), p) },
			os.O_RDWR | os.O_CREATE | os.O_TRUNC, ErrSymlink},
		{"dangling symlink", func(t *testing.T, dir, p string) { link(t, filepath.Join(dir, "nothing"), p) },
			os.O_WRONLY | os.O_CREATE, ErrSymlink},
		{"symlink, exclusive", func(t *testing.T, dir, p string) { link(t, filepath.Join(dir, "victim"), p) },
			os.O_WRONLY | os.O_CREATE | os.O_EXCL, fs.ErrExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			victim := filepath.Join(dir, "victim")
			write(t, victim, content)
			p := filepath.Join(dir, "file")
			tt.setup(t, dir, p)
			f, err := OpenFile(p, tt.flag, 0o600)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("OpenFile = %v", err)
				}
				f.Close()
				return
			}
			if err == nil {
				f.Close()
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("OpenFile = %v, want %v", err, tt.wantErr)
			}
			if got, _ := os.ReadFile(victim); string(got) != content {
				t.Errorf("the link's target now holds %q", got)
			}
		})
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	for _, data := range []string{"first, longer\n", "second\n"} {
		if err := WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(p); string(got) != data {
			t.Fatalf("file holds %q, want %q", got, data)
		}
	}
	victim := filepath.Join(dir, "victim")
	write(t, victim, "precious")
	link(t, victim, filepath.Join(dir, "link"))
	if err := WriteFile(filepath.Join(dir, "link"), []byte("x"), 0o600); !errors.Is(err, ErrSymlink) {
		t.Errorf("WriteFile through a symlink = %v, want ErrSymlink", err)
	}
	if got, _ := os.ReadFile(victim); string(got) != "precious" {
		t.Errorf("the link's target now holds %q", got)
	}
	if err := Write(p, os.O_CREATE|os.O_EXCL, []byte("x"), 0o600); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Write with O_EXCL over an existing file = %v, want fs.ErrExist", err)
	}
	if err := Write(filepath.Join(dir, "new"), os.O_CREATE|os.O_EXCL, []byte("new\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "new")); string(got) != "new\n" {
		t.Errorf("Write with O_EXCL wrote %q, want %q", got, "new\n")
	}
}

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func link(t *testing.T, target, p string) {
	t.Helper()
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}
