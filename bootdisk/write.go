package bootdisk

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/disk"
	"github.com/diskfs/go-diskfs/filesystem"
	"github.com/diskfs/go-diskfs/partition/mbr"

	"github.com/ukdev/ukdev/image"
)

// Layout of a disk.
const (
	// SectorSize is the disk's logical sector size.
	SectorSize = 512
	// PartitionStart is where the FAT partition starts, 1 MiB in as
	// partitioning tools align it; GRUB's core.img fills the gap before
	// it from sector 1.
	PartitionStart = 1 << 20
	// VolumeLabel is the FAT filesystem's label.
	VolumeLabel = "UKDEV"
	// minPartition is the smallest FAT partition written: below it FAT32
	// has too few clusters for some readers.
	minPartition = 32 << 20
)

// Offsets in GRUB's i386-pc boot.img and diskboot.img (GRUB's
// include/grub/i386/pc/boot.h), which grub-setup patches as done here.
const (
	bootCodeSize    = 440  // boot.img's code, before the disk signature and partition table
	kernelSectorOff = 0x5c // boot.img: LBA of core.img's first sector (8 bytes)
	driveCheckOff   = 0x66 // boot.img: a jmp replaced by two nops for hard disks
	blocklistOff    = SectorSize - 12
	coreSegment     = 0x820 // where diskboot.img loads the rest of core.img
)

// coreModules are linked into core.img: reading the disk and its FAT
// partition, the configuration's commands (serial, echo, halt, the
// kernel loaders) and normal mode, which reads grub.cfg. GRUB needs no
// module directory on the disk.
var coreModules = []string{
	"biosdisk", "part_msdos", "fat", "normal", "configfile", "serial", "terminal",
	"echo", "halt", "boot", "multiboot", "linux",
}

// corePrefix is GRUB's prefix: the first BIOS disk (the one booted), its
// first partition.
const corePrefix = "(hd0,msdos1)/boot/grub"

// GRUB is the boot loader written to disks: the directory of its i386-pc
// images and the grub-mkimage that builds core.img. Its zero value uses
// Debian's paths.
type GRUB struct {
	// Dir holds boot.img and the i386-pc modules; empty means
	// /usr/lib/grub/i386-pc.
	Dir string
	// Mkimage is the grub-mkimage program; empty means grub-mkimage on
	// PATH.
	Mkimage string
}

func (g GRUB) dir() string {
	if g.Dir == "" {
		return "/usr/lib/grub/i386-pc"
	}
	return g.Dir
}

func (g GRUB) mkimage() string {
	if g.Mkimage == "" {
		return "grub-mkimage"
	}
	return g.Mkimage
}

// Installed reports whether GRUB's files and grub-mkimage are present;
// its error wraps ErrNoGRUB.
func (g GRUB) Installed() error {
	if _, err := os.Stat(filepath.Join(g.dir(), "boot.img")); err != nil {
		return fmt.Errorf("bootdisk: %w (%v)", ErrNoGRUB, err)
	}
	if _, err := exec.LookPath(g.mkimage()); err != nil {
		return fmt.Errorf("bootdisk: %w (%v)", ErrNoGRUB, err)
	}
	return nil
}

// Write writes the bootable disk of s to path: an MBR with GRUB's
// boot.img and a partition table, core.img after it, and a FAT32
// partition holding the kernel, the initrd and Config(s). The disk is
// written to a temporary file beside path and renamed into place, so a
// failed or cancelled Write (ctx) leaves nothing at path. opts.Progress
// sees the bytes copied.
func (g GRUB) Write(ctx context.Context, path string, s Spec, opts image.DiskOptions) (image.Disk, error) {
	d, err := g.write(ctx, path, s, opts)
	if err != nil {
		return image.Disk{}, fmt.Errorf("bootdisk: write %s: %w", path, err)
	}
	return d, nil
}

func (g GRUB) write(ctx context.Context, path string, s Spec, opts image.DiskOptions) (image.Disk, error) {
	if err := g.Installed(); err != nil {
		return image.Disk{}, err
	}
	files := []struct{ host, guest string }{{s.Kernel, KernelPath}}
	if s.Initrd != "" {
		files = append(files, struct{ host, guest string }{s.Initrd, InitrdPath})
	}
	cfg := []byte(Config(s))
	var content int64
	for _, f := range files {
		fi, err := os.Stat(f.host)
		if err != nil {
			return image.Disk{}, err
		}
		if !fi.Mode().IsRegular() {
			return image.Disk{}, fmt.Errorf("%s: %w", f.host, image.ErrNotRegular)
		}
		content += fi.Size()
	}

	// Named like path at its end, so that an ignore pattern for the disk
	// (*.raw) covers the temporary directory too.
	tmpDir, err := os.MkdirTemp(filepath.Dir(path), ".tmp-*-"+filepath.Base(path))
	if err != nil {
		return image.Disk{}, err
	}
	defer os.RemoveAll(tmpDir)

	boot, err := g.bootImage()
	if err != nil {
		return image.Disk{}, err
	}
	core, err := g.coreImage(ctx, tmpDir)
	if err != nil {
		return image.Disk{}, err
	}

	partSize := PartitionSize(content + int64(len(cfg)))
	used := PartitionStart + partSize
	size := max(used, roundUp(opts.MinSize, SectorSize))
	total := int64(len(boot)+len(core)) + content + int64(len(cfg))
	var written int64
	progress := func(n int64) {
		written += n
		if opts.Progress != nil {
			opts.Progress(written, total)
		}
	}

	raw := filepath.Join(tmpDir, "disk.raw")
	dsk, err := diskfs.Create(raw, used, diskfs.SectorSizeDefault)
	if err != nil {
		return image.Disk{}, err
	}
	closed := false
	defer func() {
		if !closed {
			dsk.Close()
		}
	}()
	table := &mbr.Table{
		LogicalSectorSize:  SectorSize,
		PhysicalSectorSize: SectorSize,
		Partitions: []*mbr.Partition{{
			Index:    1,
			Bootable: true,
			Type:     mbr.Fat32LBA,
			Start:    PartitionStart / SectorSize,
			Size:     uint32(partSize / SectorSize),
		}},
	}
	if err := dsk.Partition(table); err != nil {
		return image.Disk{}, fmt.Errorf("partition table: %w", err)
	}
	fsys, err := dsk.CreateFilesystem(disk.FilesystemSpec{Partition: 1, FSType: filesystem.TypeFat32, VolumeLabel: VolumeLabel})
	if err != nil {
		return image.Disk{}, fmt.Errorf("FAT filesystem: %w", err)
	}
	if err := fsys.Mkdir(filepath.Dir(ConfigPath)); err != nil {
		return image.Disk{}, fmt.Errorf("FAT filesystem: %w", err)
	}
	for _, f := range files {
		if err := copyIn(ctx, fsys, f.host, f.guest, progress); err != nil {
			return image.Disk{}, err
		}
	}
	if err := writeFile(fsys, ConfigPath, cfg); err != nil {
		return image.Disk{}, err
	}
	progress(int64(len(cfg)))

	w, err := dsk.Backend.Writable()
	if err != nil {
		return image.Disk{}, err
	}
	if _, err := w.WriteAt(boot[:bootCodeSize], 0); err != nil {
		return image.Disk{}, fmt.Errorf("boot.img: %w", err)
	}
	if _, err := w.WriteAt(core, SectorSize); err != nil {
		return image.Disk{}, fmt.Errorf("core.img: %w", err)
	}
	progress(int64(len(boot) + len(core)))
	closed = true
	if err := dsk.Close(); err != nil {
		return image.Disk{}, err
	}
	if err := ctx.Err(); err != nil {
		return image.Disk{}, err
	}
	// The rest of a larger disk is a hole: nothing to write.
	if err := os.Truncate(raw, size); err != nil {
		return image.Disk{}, err
	}
	if err := os.Rename(raw, path); err != nil {
		return image.Disk{}, err
	}
	return image.Disk{
		Path:         path,
		Size:         size,
		Machine:      orDefault(s.Machine, "pc"),
		Firmware:     image.FirmwareBIOS,
		Loader:       "grub",
		Handover:     Handover,
		LoaderFailed: LoaderFailed,
	}, nil
}

// PartitionSize returns the size of the FAT partition for content bytes
// of files: room for them, the filesystem's own tables and slack, in
// whole MiB, at least 32 MiB.
func PartitionSize(content int64) int64 {
	return max(roundUp(content+content/8+4<<20, 1<<20), minPartition)
}

// bootImage reads GRUB's boot.img, patched as grub-setup patches it for a
// hard disk with core.img at sector 1.
func (g GRUB) bootImage() ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(g.dir(), "boot.img"))
	if err != nil {
		return nil, fmt.Errorf("%w (%v)", ErrNoGRUB, err)
	}
	if len(b) != SectorSize || b[510] != 0x55 || b[511] != 0xAA {
		return nil, fmt.Errorf("%s: not GRUB's boot.img (%d bytes, no boot signature)", filepath.Join(g.dir(), "boot.img"), len(b))
	}
	binary.LittleEndian.PutUint64(b[kernelSectorOff:], 1)
	// Some BIOSes pass a floppy's drive number for a hard disk: the
	// check that would trust it is skipped, as grub-setup does.
	b[driveCheckOff], b[driveCheckOff+1] = 0x90, 0x90
	return b, nil
}

// coreImage builds core.img with grub-mkimage in dir and returns it with
// its first sector's blocklist pointing at the rest of it, which follows
// on the disk from sector 2.
func (g GRUB) coreImage(ctx context.Context, dir string) ([]byte, error) {
	out := filepath.Join(dir, "core.img")
	args := append([]string{"-O", "i386-pc", "-d", g.dir(), "-p", corePrefix, "-o", out}, coreModules...)
	cmd := exec.CommandContext(ctx, g.mkimage(), args...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("grub-mkimage: %w: %s", err, msg)
	}
	core, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("grub-mkimage: %w", err)
	}
	if r := len(core) % SectorSize; r != 0 {
		core = append(core, make([]byte, SectorSize-r)...)
	}
	sectors := len(core) / SectorSize
	switch {
	case sectors < 2:
		return nil, fmt.Errorf("grub-mkimage: core.img of %d bytes is too small", len(core))
	case SectorSize+len(core) > PartitionStart:
		return nil, fmt.Errorf("grub-mkimage: core.img of %d bytes does not fit before the partition at %d", len(core), PartitionStart)
	}
	bl := core[blocklistOff:SectorSize]
	binary.LittleEndian.PutUint64(bl[0:], 2)
	binary.LittleEndian.PutUint16(bl[8:], uint16(sectors-1))
	binary.LittleEndian.PutUint16(bl[10:], coreSegment)
	return core, nil
}

// copyIn copies the host file into fsys at guest, in chunks, stopping
// when ctx ends.
func copyIn(ctx context.Context, fsys filesystem.FileSystem, host, guest string, progress func(int64)) error {
	src, err := os.Open(host)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := fsys.OpenFile(guest, os.O_CREATE|os.O_RDWR)
	if err != nil {
		return fmt.Errorf("FAT filesystem: %s: %w", guest, err)
	}
	if err := copyChunks(ctx, dst, src, progress); err != nil {
		dst.Close()
		return fmt.Errorf("FAT filesystem: %s: %w", guest, err)
	}
	if err := dst.Close(); err != nil {
		return fmt.Errorf("FAT filesystem: %s: %w", guest, err)
	}
	return nil
}

// copyChunks copies src to dst a MiB at a time, reporting each chunk, and
// stops with ctx's error when ctx ends.
func copyChunks(ctx context.Context, dst io.Writer, src io.Reader, progress func(int64)) error {
	buf := make([]byte, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, rerr := io.ReadFull(src, buf)
		if n > 0 {
			if _, err := dst.Write(buf[:n]); err != nil {
				return err
			}
			progress(int64(n))
		}
		switch {
		case errors.Is(rerr, io.EOF), errors.Is(rerr, io.ErrUnexpectedEOF):
			return nil
		case rerr != nil:
			return rerr
		}
	}
}

func writeFile(fsys filesystem.FileSystem, guest string, data []byte) error {
	f, err := fsys.OpenFile(guest, os.O_CREATE|os.O_RDWR)
	if err != nil {
		return fmt.Errorf("FAT filesystem: %s: %w", guest, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("FAT filesystem: %s: %w", guest, err)
	}
	return f.Close()
}

func roundUp(n, to int64) int64 { return (n + to - 1) / to * to }

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
