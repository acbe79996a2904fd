package logs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenDiagnostics(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	logger, closer, err := OpenDiagnostics(dir)
	if err != nil {
		t.Fatal(err)
	}
	logger.Debug("probe accel", "accel", "kvm", "result", "internal-error")
	logger.Info("boot started", "boot", 3)
	if err := closer.Close(); err != nil {
		t.Fatal(err)
	}
	if err := closer.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "ukdev.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"level=DEBUG msg=\"probe accel\" accel=kvm", "level=INFO msg=\"boot started\" boot=3"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("ukdev.log lacks %q:\n%s", want, data)
		}
	}
	fi, err := os.Stat(filepath.Join(dir, "ukdev.log"))
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Fatalf("ukdev.log mode = %o, want 600", perm)
	}
	if _, _, err := OpenDiagnostics(""); err == nil {
		t.Fatal("OpenDiagnostics(\"\") succeeded")
	}
}

func TestRotatingFile(t *testing.T) {
	tests := []struct {
		name       string
		writes     []string
		wantLog    string
		wantRolled string // "" when no rotation should happen
	}{
		{"under limit", []string{"aaaa", "bbbb"}, "aaaabbbb", ""},
		{"exactly limit", []string{"aaaaa", "bbbbb"}, "aaaaabbbbb", ""},
		{"rotates", []string{"aaaaa", "bbbbb", "c"}, "c", "aaaaabbbbb"},
		{"rotates twice", []string{"aaaaaaaa", "bbbbbbbb", "ccc"}, "ccc", "bbbbbbbb"},
		{"oversized record kept whole", []string{"a", strings.Repeat("x", 25)}, strings.Repeat("x", 25), "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ukdev.log")
			r, err := openRotatingFile(path, 10)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.writes {
				if n, err := r.Write([]byte(w)); err != nil || n != len(w) {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Write([]byte("late")); !errors.Is(err, os.ErrClosed) {
				t.Fatalf("Write after Close: %v, want os.ErrClosed", err)
			}
			if got, _ := os.ReadFile(path); string(got) != tt.wantLog {
				t.Errorf("ukdev.log = %q, want %q", got, tt.wantLog)
			}
			got, err := os.ReadFile(path + ".1")
			if tt.wantRolled == "" {
				if !errors.Is(err, os.ErrNotExist) {
					t.Errorf("ukdev.log.1 exists: %q, %v", got, err)
				}
			} else if string(got) != tt.wantRolled {
				t.Errorf("ukdev.log.1 = %q, want %q", got, tt.wantRolled)
			}
		})
	}
}

func TestRotatingFileAppendsToExisting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ukdev.log")
	if err := os.WriteFile(path, []byte("12345678"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := openRotatingFile(path, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path + ".1"); string(got) != "12345678" {
		t.Fatalf("existing size not counted: ukdev.log.1 = %q", got)
	}
}
