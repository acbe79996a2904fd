package bootdisk_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/partition/mbr"

	"github.com/ukdev/ukdev/bootdisk"
	"github.com/ukdev/ukdev/image"
)

func TestForImage(t *testing.T) {
	tests := []struct {
		name     string
		img      image.Image
		wantKind bootdisk.Kind
		machine  string
		wantErr  error
	}{
		{"multiboot on pc", image.Image{Kernel: "/k", Protocols: image.Multiboot, Machine: "pc"}, bootdisk.Multiboot, "pc", nil},
		{"PVH and multiboot: multiboot, not microvm", image.Image{Kernel: "/k", Protocols: image.PVH | image.Multiboot, Machine: "microvm"}, bootdisk.Multiboot, "pc", nil},
		{"linux on q35", image.Image{Kernel: "/k", Initrd: "/i", Protocols: image.LinuxBoot, Machine: "q35"}, bootdisk.Linux, "q35", nil},
		{"PVH only", image.Image{Kernel: "/k", Protocols: image.PVH}, 0, "", image.ErrNoDiskBoot},
		{"multiboot2 only", image.Image{Kernel: "/k", Protocols: image.Multiboot2}, 0, "", image.ErrNoDiskBoot},
		{"no kernel file (a Nanos disk)", image.Image{Disk: "/d"}, 0, "", image.ErrNoDiskBoot},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := bootdisk.ForImage(tt.img)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				var fe *image.FormatError
				if tt.img.Kernel != "" && (!errors.As(err, &fe) || fe.Reason == "") {
					t.Errorf("err = %v, want a *image.FormatError saying why", err)
				}
				return
			}
			if err != nil || s.Kind != tt.wantKind || s.Machine != tt.machine || s.Kernel != tt.img.Kernel || s.Initrd != tt.img.Initrd {
				t.Fatalf("ForImage = %+v, %v", s, err)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	head := "serial --unit=0 --speed=115200\nterminal_input serial console\nterminal_output serial console\nset timeout=0\n"
	tail := "echo 'ukdev-boot: the kernel did not start'\nhalt\n"
	tests := []struct {
		name string
		spec bootdisk.Spec
		want string
	}{
		{
			name: "multiboot without initrd",
			spec: bootdisk.Spec{Kind: bootdisk.Multiboot, Kernel: "/k", Cmdline: "a  b"},
			want: "# Written by ukdev: starts the multiboot kernel of this disk.\n" + head +
				"if multiboot /boot/kernel 'a' 'b'; then\n" +
				"\techo 'ukdev-boot: starting the kernel'\n\tterminal_output console\n\tboot\n\tterminal_output serial console\n" +
				"fi\n" + tail,
		},
		{
			name: "multiboot with a module",
			spec: bootdisk.Spec{Kind: bootdisk.Multiboot, Kernel: "/k", Initrd: "/i"},
			want: "# Written by ukdev: starts the multiboot kernel of this disk.\n" + head +
				"if multiboot /boot/kernel; then\n\tif module /boot/initrd initrd; then\n" +
				"\t\techo 'ukdev-boot: starting the kernel'\n\t\tterminal_output console\n\t\tboot\n\t\tterminal_output serial console\n" +
				"\tfi\nfi\n" + tail,
		},
		{
			name: "linux with initramfs and a quoted command line",
			spec: bootdisk.Spec{Kind: bootdisk.Linux, Kernel: "/k", Initrd: "/i", Cmdline: "console=ttyS0 x=$HOME it's"},
			want: "# Written by ukdev: starts the linux kernel of this disk.\n" + head +
				"if linux /boot/kernel 'console=ttyS0' 'x=$HOME' 'it'\\''s'; then\n\tif initrd /boot/initrd; then\n" +
				"\t\techo 'ukdev-boot: starting the kernel'\n\t\tterminal_output console\n\t\tboot\n\t\tterminal_output serial console\n" +
				"\tfi\nfi\n" + tail,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := bootdisk.Config(tt.spec); got != tt.want {
				t.Errorf("Config =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// fakeGRUB is a GRUB directory with a boot.img of recognisable bytes and a
// grub-mkimage that writes a core.img of coreSectors sectors and records
// its arguments.
func fakeGRUB(t *testing.T, coreSectors int) (bootdisk.GRUB, string) {
	t.Helper()
	dir := t.TempDir()
	boot := bytes.Repeat([]byte{0xEB}, 512)
	boot[510], boot[511] = 0x55, 0xAA
	if err := os.WriteFile(filepath.Join(dir, "boot.img"), boot, 0o644); err != nil {
		t.Fatal(err)
	}
	argsFile := filepath.Join(dir, "args")
	script := "#!/bin/sh\necho \"$@\" > " + argsFile + "\n" +
		"while [ $# -gt 0 ]; do [ \"$1\" = -o ] && out=$2; shift; done\n" +
		"head -c " + itoa(coreSectors*512-100) + " /dev/zero | tr '\\0' '\\314' > \"$out\"\n"
	mk := filepath.Join(dir, "grub-mkimage")
	if err := os.WriteFile(mk, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bootdisk.GRUB{Dir: dir, Mkimage: mk}, argsFile
}

func itoa(n int) string {
	var b []byte
	for n > 0 || len(b) == 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

func writeFile(t *testing.T, dir, name string, size int) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, bytes.Repeat([]byte(name[:1]), size), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestWriteLayout(t *testing.T) {
	src := t.TempDir()
	kernel := writeFile(t, src, "kernel", 3<<20+17)
	initrd := writeFile(t, src, "initrd", 5<<20)
	tests := []struct {
		name     string
		spec     bootdisk.Spec
		minSize  int64
		wantSize int64
		files    map[string]int64
	}{
		{
			name:     "multiboot kernel alone",
			spec:     bootdisk.Spec{Kind: bootdisk.Multiboot, Kernel: kernel},
			wantSize: bootdisk.PartitionStart + 32<<20,
			files:    map[string]int64{"/boot/kernel": 3<<20 + 17},
		},
		{
			name:     "linux with initramfs, sized for a cloud",
			spec:     bootdisk.Spec{Kind: bootdisk.Linux, Kernel: kernel, Initrd: initrd, Cmdline: "console=ttyS0", Machine: "q35"},
			minSize:  1 << 30,
			wantSize: 1 << 30,
			files:    map[string]int64{"/boot/kernel": 3<<20 + 17, "/boot/initrd": 5 << 20},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, argsFile := fakeGRUB(t, 3)
			out := filepath.Join(t.TempDir(), "disk.raw")
			var last, total int64
			d, err := g.Write(t.Context(), out, tt.spec, image.DiskOptions{MinSize: tt.minSize, Progress: func(w, tot int64) {
				if w < last {
					t.Errorf("progress went back: %d after %d", w, last)
				}
				last, total = w, tot
			}})
			if err != nil {
				t.Fatal(err)
			}
			wantMachine := tt.spec.Machine
			if wantMachine == "" {
				wantMachine = "pc"
			}
			want := image.Disk{Path: out, Size: tt.wantSize, Machine: wantMachine, Firmware: image.FirmwareBIOS, Loader: "grub",
				Handover: bootdisk.Handover, LoaderFailed: bootdisk.LoaderFailed}
			if d != want {
				t.Errorf("Disk = %+v, want %+v", d, want)
			}
			if last != total || total == 0 {
				t.Errorf("progress ended at %d of %d", last, total)
			}
			fi, err := os.Stat(out)
			if err != nil || fi.Size() != tt.wantSize {
				t.Fatalf("disk file: %v, %v; want %d bytes", fi, err, tt.wantSize)
			}
			args, _ := os.ReadFile(argsFile)
			if !strings.Contains(string(args), "-O i386-pc -d "+g.Dir+" -p (hd0,msdos1)/boot/grub -o ") ||
				!strings.Contains(string(args), " biosdisk part_msdos fat normal") {
				t.Errorf("grub-mkimage args = %s", args)
			}

			f, err := os.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			raw := make([]byte, bootdisk.PartitionStart)
			_, err = f.ReadAt(raw, 0)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			// MBR: boot.img's code (patched), one active FAT32 partition.
			if raw[0] != 0xEB || raw[0x66] != 0x90 || raw[0x67] != 0x90 || binary.LittleEndian.Uint64(raw[0x5c:]) != 1 {
				t.Errorf("boot code not GRUB's patched boot.img: % x", raw[0x5c:0x68])
			}
			if raw[510] != 0x55 || raw[511] != 0xAA {
				t.Error("no MBR signature")
			}
			// core.img from sector 1, its blocklist naming the 2 sectors after its first.
			bl := raw[512+500 : 512+512]
			if binary.LittleEndian.Uint64(bl) != 2 || binary.LittleEndian.Uint16(bl[8:]) != 2 || binary.LittleEndian.Uint16(bl[10:]) != 0x820 {
				t.Errorf("core.img blocklist = % x", bl)
			}
			if raw[512] != 0xCC || raw[3*512-101] != 0xCC {
				t.Error("core.img not at sector 1")
			}

			dsk, err := diskfs.Open(out, diskfs.WithOpenMode(diskfs.ReadOnly))
			if err != nil {
				t.Fatal(err)
			}
			defer dsk.Close()
			table, err := dsk.GetPartitionTable()
			if err != nil {
				t.Fatal(err)
			}
			var parts []*mbr.Partition
			for _, p := range table.(*mbr.Table).Partitions {
				if p.Type != mbr.Empty {
					parts = append(parts, p)
				}
			}
			if len(parts) != 1 || !parts[0].Bootable || parts[0].Type != mbr.Fat32LBA || parts[0].Start != 2048 {
				t.Fatalf("partitions = %+v", parts)
			}
			fsys, err := dsk.GetFilesystem(1)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(fsys.Label()); got != bootdisk.VolumeLabel {
				t.Errorf("label = %q", got)
			}
			for p, size := range tt.files {
				fi, err := fs.Stat(fsys, p[1:])
				if err != nil || fi.Size() != size {
					t.Errorf("%s: %v, %v; want %d bytes", p, fi, err, size)
				}
			}
			if _, err := fs.Stat(fsys, "boot/initrd"); (err == nil) != (tt.spec.Initrd != "") {
				t.Errorf("/boot/initrd: %v with Initrd %q", err, tt.spec.Initrd)
			}
			cfg, err := fs.ReadFile(fsys, "boot/grub/grub.cfg")
			if err != nil || string(cfg) != bootdisk.Config(tt.spec) {
				t.Errorf("grub.cfg = %q, %v", cfg, err)
			}
		})
	}
}

func TestWriteCancelledLeavesNothing(t *testing.T) {
	src := t.TempDir()
	kernel := writeFile(t, src, "kernel", 4<<20)
	g, _ := fakeGRUB(t, 3)
	dir := t.TempDir()
	out := filepath.Join(dir, "disk.raw")
	ctx, cancel := context.WithCancel(t.Context())
	_, err := g.Write(ctx, out, bootdisk.Spec{Kind: bootdisk.Multiboot, Kernel: kernel}, image.DiskOptions{Progress: func(w, _ int64) {
		if w >= 1<<20 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}

func TestWriteWithoutGRUB(t *testing.T) {
	src := t.TempDir()
	kernel := writeFile(t, src, "kernel", 1000)
	g := bootdisk.GRUB{Dir: t.TempDir(), Mkimage: "grub-mkimage"}
	out := filepath.Join(t.TempDir(), "disk.raw")
	if _, err := g.Write(t.Context(), out, bootdisk.Spec{Kind: bootdisk.Multiboot, Kernel: kernel}, image.DiskOptions{}); !errors.Is(err, bootdisk.ErrNoGRUB) {
		t.Fatalf("err = %v, want ErrNoGRUB", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("disk written: %v", err)
	}
}
