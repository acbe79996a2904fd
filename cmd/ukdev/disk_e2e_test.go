package main

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ukdev/ukdev/bootdisk"
	"github.com/ukdev/ukdev/image/imagetest"
)

// needGRUB fails the test when the disk writer's GRUB is missing.
func needGRUB(t *testing.T) {
	t.Helper()
	if err := (bootdisk.GRUB{}).Installed(); err != nil {
		t.Fatalf("%v: run `make deps` (make test does)", err)
	}
}

// TestDiskHello: ukdev disk builds examples/hello, writes its disk and
// boots it from the disk alone until the banner; --no-test --out writes
// elsewhere without booting.
func TestDiskHello(t *testing.T) {
	dir, env := helloProject(t, "")
	needGRUB(t)
	r := runCLI(t, dir, env, "", "disk")
	want := filepath.Join(dir, filepath.Base(dir)+".raw")
	if r.code != 0 || strings.TrimSpace(r.stdout) != want {
		t.Fatalf("ukdev disk: want exit 0 and %s on stdout\n%s", want, r)
	}
	for _, part := range []string{"ukdev: building: make", "ukdev: writing " + want + ": ", "ukdev: boot-testing " + want + " on pc",
		`ukdev: the disk boots (`, `"hello from ukdev"`} {
		if !strings.Contains(r.stderr, part) {
			t.Errorf("stderr lacks %q\n%s", part, r)
		}
	}
	if fi, err := os.Stat(want); err != nil || fi.Size() < bootdisk.PartitionStart {
		t.Fatalf("disk: %v, %v", fi, err)
	}

	out := filepath.Join(t.TempDir(), "sub", "h.raw")
	r = runCLI(t, dir, env, "", "disk", "--no-test", "--out", out)
	if r.code != 0 || strings.TrimSpace(r.stdout) != out || strings.Contains(r.stderr, "boot-testing") {
		t.Fatalf("ukdev disk --no-test --out: want exit 0, %s on stdout and no boot test\n%s", out, r)
	}
	if _, err := os.Stat(out); err != nil {
		t.Fatal(err)
	}
	waitNoQEMU(t, runtimeDirOf(t, env), quickWait)
}

// silentKernel is a multiboot kernel that halts at once and never prints.
func silentKernel() []byte {
	header := imagetest.MultibootHeader(0, true)
	code := 4 + len(header)
	load := []byte{0xEB, byte(code - 2), 0x90, 0x90} // jmp over the header
	load = append(load, header...)
	load = append(load, 0xFA, 0xF4, 0xEB, 0xFD) // cli; hlt; jmp back to hlt
	return imagetest.ELF{Class: elf.ELFCLASS32, Load: load}.Bytes()
}

// TestDiskInterruptedDuringBootTest: ^C while the boot test waits for a
// guest that never prints ends ukdev disk with 130, removes the disk and
// leaves no QEMU behind.
func TestDiskInterruptedDuringBootTest(t *testing.T) {
	needQEMU(t)
	needGRUB(t)
	dir := newProject(t, "silent", map[string]string{
		"ukdev.toml": "flavor = \"elf\"\nkernel.image = \"k.elf\"\n",
		"k.elf":      string(silentKernel()),
	})
	env := testEnv(t)
	r := startRunning(t, ukdevCmd(dir, env, "disk"), func(l string) (string, error) { return l, nil })
	if !pollUntil(bootWait, func() bool { return strings.Contains(r.stderr.String(), "ukdev: boot-testing") }) {
		r.kill()
		t.Fatalf("no boot test started\n%s", r.transcript())
	}
	// The machine runs: the guest halts at once, silent, until ^C.
	if !pollUntil(bootWait, func() bool { return len(qemuPIDs(runtimeDirOf(t, env))) > 0 }) {
		r.kill()
		t.Fatalf("no QEMU running for the boot test\n%s", r.transcript())
	}
	if code := r.stop(syscall.SIGINT); code != 130 {
		t.Errorf("exit %d after SIGINT, want 130\n%s", code, r.transcript())
	}
	if _, err := os.Stat(filepath.Join(dir, "silent.raw")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("disk left behind after ^C: %v", err)
	}
	if !strings.Contains(r.stderr.String(), "removed") {
		t.Errorf("stderr does not say the disk was removed\n%s", r.transcript())
	}
	waitNoQEMU(t, runtimeDirOf(t, env), quickWait)
}

// TestDiskRefusesPVHOnly: a PVH-only kernel has no disk loader; ukdev
// disk says so and writes nothing.
func TestDiskRefusesPVHOnly(t *testing.T) {
	pvh := imagetest.ELF{Class: elf.ELFCLASS64, SegNotes: imagetest.PVHNote(binary.LittleEndian), Load: []byte{0xf4}}.Bytes()
	dir := newProject(t, "pvh", map[string]string{
		"ukdev.toml": "flavor = \"elf\"\nkernel.image = \"k.elf\"\n",
		"k.elf":      string(pvh),
	})
	r := runCLI(t, dir, testEnv(t), "", "disk")
	if r.code != 1 || !strings.Contains(r.stderr, "only a PVH entry point") {
		t.Fatalf("ukdev disk of a PVH-only kernel: want exit 1 and the reason\n%s", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "pvh.raw")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("disk written: %v", err)
	}
}

// TestDiskNanos: the disk of examples/nanos-http boots from ops' boot
// loader on q35, where a Nanos kernel is present.
func TestDiskNanos(t *testing.T) {
	dir := nanosProject(t, 8090)
	env := testEnv(t)
	r := runCLIWithin(t, 3*bootWait, dir, env, "", "disk")
	if r.code != 0 || !strings.Contains(r.stderr, "ukdev: the disk boots (") || !strings.Contains(r.stderr, "on q35 (bios firmware, nanos loader)") {
		t.Fatalf("ukdev disk on nanos-http: want exit 0 and a boot on q35\n%s", r)
	}
	waitNoQEMU(t, runtimeDirOf(t, env), quickWait)
}
