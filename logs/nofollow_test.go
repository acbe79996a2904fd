package logs

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The files logs writes in the state dir are never written through a
// symlink planted in their place: the link's target stays as it was.
func TestSymlinkedFilesRefused(t *testing.T) {
	tests := []struct {
		name string
		file string // the file replaced by a symlink
		open func(dir string) error
	}{
		{"ukdev.log", diagnosticsName, func(dir string) error {
			_, c, err := OpenDiagnostics(dir)
			if err == nil {
				c.Close()
			}
			return err
		}},
		{"boot log", bootFileName(1), func(dir string) error {
			s, err := Open(dir, Options{})
			if err != nil {
				return err
			}
			w, err := s.StartBoot(BootInfo{Boot: 1, Build: 1})
			if err == nil {
				_, _ = w.Write([]byte("guest output\n"))
				_ = w.Finish(time.Now(), "exit", nil)
			}
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			victim := filepath.Join(t.TempDir(), "victim")
			const content = "precious\n"
			if err := os.WriteFile(victim, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(victim, filepath.Join(dir, tt.file)); err != nil {
				t.Fatal(err)
			}
			if err := tt.open(dir); err == nil {
				t.Errorf("%s through a symlink: no error", tt.name)
			}
			if got, err := os.ReadFile(victim); err != nil || string(got) != content {
				t.Errorf("the symlink's target was changed: %q, %v; want %q", got, err, content)
			}
		})
	}
}
