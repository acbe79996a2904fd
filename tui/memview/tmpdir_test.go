package memview

import (
	"os"
	"path/filepath"
	"testing"
)

// Reading guest memory never puts a file in the shared temp dir: dumps
// belong in ukdev's private runtime dir (the Inspector's business), where
// no other user can read the guest's memory or plant a file in its place.
func TestSamplingLeavesNothingInTMPDIR(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	f, _ := newFake(t)
	var seen []string
	f.onRead = func() {
		found, _ := filepath.Glob(filepath.Join(tmp, "ukdev-mem-*"))
		seen = append(seen, found...)
	}
	m := newModel(f)
	m.SetSize(120, 20)
	for range 3 {
		refresh(t, m)
	}
	if f.count("pmemsave") == 0 {
		t.Fatal("no memory was read")
	}
	if len(seen) > 0 {
		t.Errorf("guest memory was dumped into TMPDIR: %v", seen)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("TMPDIR holds %v after sampling", left)
	}
}
