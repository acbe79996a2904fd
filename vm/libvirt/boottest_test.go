package libvirt

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ukdev/ukdev/bootdisk"
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/vm"
)

// vm.BootTest runs through this backend: the example's GRUB disk is
// uploaded, boots as a transient virtio disk with a user network, prints
// its banner, and the disk file and its volume stay as they were.
func TestBootTestDisk(t *testing.T) {
	l := reachable(t)
	b := testBackend(t, l)
	img := image.Image{Kernel: helloELF(t), Protocols: image.Multiboot | image.PVH, Machine: "pc"}
	path := filepath.Join(t.TempDir(), "hello.raw")
	disk, err := bootdisk.WriteImage(t.Context(), img, path, image.DiskOptions{})
	if errors.Is(err, bootdisk.ErrNoGRUB) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	sum := func() []byte {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		s := sha256.Sum256(data)
		return s[:]
	}
	before := sum()
	var console bytes.Buffer
	res, err := vm.BootTest(t.Context(), b, vm.BootTestOptions{Disk: disk, MemoryMiB: 64, Console: &console})
	if err != nil {
		t.Fatalf("BootTest: %v\nconsole:\n%s", err, console.String())
	}
	if !strings.Contains(res.FirstLine, "hello from ukdev") {
		t.Errorf("first line = %q, want the banner", res.FirstLine)
	}
	if !bytes.Equal(sum(), before) {
		t.Error("the disk file changed")
	}
	// The volume is the disk as built: a second boot test reuses it, so
	// its file in the pool's directory is not written again.
	vols, err := filepath.Glob(filepath.Join(b.PoolDir, "ukdev-*-hello.raw"))
	if err != nil || len(vols) != 1 {
		t.Fatalf("volumes in the pool = %v, %v; want the disk's", vols, err)
	}
	volBefore, err := os.Stat(vols[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vm.BootTest(t.Context(), b, vm.BootTestOptions{Disk: disk, MemoryMiB: 64}); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(vols[0])
	if err != nil {
		t.Fatal(err)
	}
	if !after.ModTime().Equal(volBefore.ModTime()) {
		t.Error("the second boot test uploaded the disk again")
	}
}
