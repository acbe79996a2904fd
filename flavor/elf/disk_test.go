package elf_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ukdev/ukdev/bootdisk"
	"github.com/ukdev/ukdev/flavor/elf"
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/vm"
	"github.com/ukdev/ukdev/vm/qemu"
)

// buildHello builds a copy of examples/hello and returns its kernel.
func buildHello(t *testing.T) string {
	t.Helper()
	src := filepath.Join("..", "..", "examples", "hello")
	dir := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("make", "-s")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make examples/hello: %v\n%s", err, out)
	}
	return filepath.Join(dir, "build", "hello.elf")
}

// TestHelloDiskBootsUnderQEMU writes the disk of examples/hello and boots
// it from the disk alone (GRUB, multiboot) under TCG, until its banner.
func TestHelloDiskBootsUnderQEMU(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a disk under TCG")
	}
	for _, tool := range []string{vm.DefaultQEMU, "make", "gcc"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: run scripts/deps.sh", tool)
		}
	}
	if err := (bootdisk.GRUB{}).Installed(); err != nil {
		t.Fatalf("%v", err)
	}
	kernel := buildHello(t)
	store := &image.Store{Dir: t.TempDir(), Keep: 1}
	img, err := elf.Kernel{}.Prepare(t.Context(), store, 1, image.Artifacts{Kernel: kernel})
	if err != nil {
		t.Fatal(err)
	}
	d, err := elf.Kernel{}.WriteDisk(t.Context(), img, filepath.Join(t.TempDir(), "hello.raw"), image.DiskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Machine != "pc" || d.Loader != "grub" {
		t.Errorf("disk = %+v", d)
	}
	before, err := os.ReadFile(d.Path)
	if err != nil {
		t.Fatal(err)
	}
	var console strings.Builder
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	res, err := vm.BootTest(ctx, qemu.Backend{}, vm.BootTestOptions{
		Disk: d, Accel: &vm.Accel{Name: "tcg"}, MemoryMiB: 64, Console: &console,
	})
	if err != nil {
		t.Fatalf("%v\nconsole:\n%s", err, console.String())
	}
	if res.FirstLine != "hello from ukdev" {
		t.Errorf("first line %q, want the banner; console:\n%s", res.FirstLine, console.String())
	}
	t.Logf("banner after %v", res.Elapsed.Round(time.Millisecond))
	after, err := os.ReadFile(d.Path)
	if err != nil || string(after) != string(before) {
		t.Errorf("the boot changed the disk file (%v)", err)
	}
}

// TestPVHOnlyDiskRefused: a kernel with only a PVH note cannot be made a
// disk.
func TestPVHOnlyDiskRefused(t *testing.T) {
	img := image.Image{Kernel: "/k.elf", Protocols: image.PVH, Machine: "microvm"}
	_, err := elf.Kernel{}.WriteDisk(t.Context(), img, filepath.Join(t.TempDir(), "k.raw"), image.DiskOptions{})
	var fe *image.FormatError
	if !errors.Is(err, image.ErrNoDiskBoot) || !errors.As(err, &fe) || !strings.Contains(fe.Reason, "PVH") {
		t.Fatalf("err = %v, want a FormatError wrapping ErrNoDiskBoot about PVH", err)
	}
}
