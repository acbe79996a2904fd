package unikraft

import (
	"debug/elf"
	"errors"
	"io/fs"
	"path/filepath"
	"testing"

	diskfs "github.com/diskfs/go-diskfs"

	"github.com/ukdev/ukdev/bootdisk"
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/image/imagetest"
)

// TestWriteDisk writes the disk of a multiboot Unikraft image, and
// refuses one GRUB cannot start.
func TestWriteDisk(t *testing.T) {
	tests := []struct {
		name    string
		header  []byte
		wantErr error
	}{
		{name: "multiboot", header: imagetest.MultibootHeader(0, true)},
		{name: "multiboot2 only", header: imagetest.Multiboot2Header(true), wantErr: image.ErrNoDiskBoot},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.wantErr == nil {
				if err := (bootdisk.GRUB{}).Installed(); err != nil {
					t.Skipf("%v", err)
				}
			}
			kernel := imagetest.WriteTemp(t, "app_qemu-x86_64", imagetest.ELF{Class: elf.ELFCLASS64, Load: tt.header}.Bytes())
			u, err := New(Options{KernelArgs: "vfs.fstab=x", AppArgs: "-v"})
			if err != nil {
				t.Fatal(err)
			}
			img := image.Image{Build: 1, Kernel: kernel, Cmdline: Cmdline("vfs.fstab=x", "-v"), Machine: "pc"}
			if img.Protocols, err = image.Inspect(kernel); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "app.raw")
			d, err := u.WriteDisk(t.Context(), img, out, image.DiskOptions{})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Machine != "pc" || d.Loader != "grub" || d.Path != out {
				t.Errorf("disk = %+v", d)
			}
			dsk, err := diskfs.Open(out, diskfs.WithOpenMode(diskfs.ReadOnly))
			if err != nil {
				t.Fatal(err)
			}
			defer dsk.Close()
			fsys, err := dsk.GetFilesystem(1)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := fs.ReadFile(fsys, "boot/grub/grub.cfg")
			want := bootdisk.Config(bootdisk.Spec{Kind: bootdisk.Multiboot, Kernel: kernel, Cmdline: "vfs.fstab=x -- -v"})
			if err != nil || string(cfg) != want {
				t.Errorf("grub.cfg = %q, %v; want %q", cfg, err, want)
			}
		})
	}
}
