package libvirt

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ukdev/ukdev/vm"
)

// TestUploadCompletion: a volume is reused only once an upload marked it
// complete; one an interrupted upload left (same name, no marker) is sent
// again, and so is one whose marker alone is left.
func TestUploadCompletion(t *testing.T) {
	l := reachable(t)
	b := testBackend(t, l)
	pool, err := ensurePool(l, b.Pool, b.PoolDir)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "kernel")
	content := make([]byte, 300<<10)
	for i := range content {
		content[i] = byte(i * 7)
	}
	if err := os.WriteFile(file, content, 0o644); err != nil {
		t.Fatal(err)
	}
	name, err := volumeName(file)
	if err != nil {
		t.Fatal(err)
	}
	// send uploads file and returns its last report.
	send := func() vm.Transfer {
		t.Helper()
		var last vm.Transfer
		n := 0
		if _, err := upload(t.Context(), l, pool, file, func(tr vm.Transfer) { last = tr; n++ }); err != nil {
			t.Fatal(err)
		}
		if !last.Done || last.Err != nil || last.Total != int64(len(content)) || last.Dest != name {
			t.Fatalf("last report %+v after %d, want a completed transfer of %d bytes to %s", last, n, len(content), name)
		}
		return last
	}
	remove := func(vol string) {
		t.Helper()
		v, err := l.StorageVolLookupByName(pool, vol)
		if err != nil {
			t.Fatalf("volume %s: %v", vol, err)
		}
		if err := l.StorageVolDelete(v, 0); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		name        string
		before      func()
		wantSkipped bool
	}{
		{"first upload", func() {}, false},
		{"same content again", func() {}, true},
		{"interrupted: no marker", func() { remove(name + completeSuffix) }, false},
		{"marked complete again", func() {}, true},
		{"a marker without its volume", func() { remove(name) }, false},
	}
	for _, s := range steps {
		s.before()
		if got := send(); got.Skipped != s.wantSkipped {
			t.Errorf("%s: skipped %v, want %v (%+v)", s.name, got.Skipped, s.wantSkipped, got)
		}
	}
	v, err := l.StorageVolLookupByName(pool, name)
	if err != nil {
		t.Fatal(err)
	}
	p, err := l.StorageVolGetPath(v)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(p); err != nil || string(got) != string(content) {
		t.Errorf("the volume holds %d bytes (%v), want the file's %d", len(got), err, len(content))
	}
}
