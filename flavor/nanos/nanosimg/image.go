package nanosimg

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Image layout constants.
const (
	// KlogSize is the area after the boot record where the kernel saves
	// its log on a non-zero exit.
	KlogSize = 4 << 10
	// BootFSSize is the size of partition 1, the boot filesystem.
	BootFSSize = 12 << 20
	// PartitionType is the MBR type of both partitions.
	PartitionType = 0x83
)

// Errors callers may classify with errors.Is.
var (
	// ErrNotAbsolute: a guest path is not absolute and clean.
	ErrNotAbsolute = errors.New("path not absolute and clean")
	// ErrDuplicatePath: two entries name the same guest path.
	ErrDuplicatePath = errors.New("duplicate path")
	// ErrPathConflict: a path is used both as a file and as a directory.
	ErrPathConflict = errors.New("path used as both file and directory")
	// ErrBadValue: a manifest value cannot be encoded.
	ErrBadValue = errors.New("bad manifest value")
	// ErrReservedKey: the root tuple sets a key the filesystem writes.
	ErrReservedKey = errors.New("reserved root tuple key")
	// ErrBootFull: the kernel and klibs do not fit the boot filesystem.
	ErrBootFull = errors.New("boot filesystem full")
	// ErrBadBootImg: the boot.img file is not an ops boot image.
	ErrBadBootImg = errors.New("not a boot image")
	// ErrChanged: a host file changed size while it was being copied.
	ErrChanged = errors.New("file changed while copying")
	// ErrBadSpec: a Spec field is missing or malformed.
	ErrBadSpec = errors.New("bad spec")
)

// File is one file of a filesystem: its contents come from Host, from
// Data, or it is a symbolic link to Link.
type File struct {
	// Path is the absolute guest path, e.g. "/app". For a klib it may be
	// just the klib's name (or empty: the base name of Host).
	Path string
	// Host is the host file to copy.
	Host string
	// Data is the contents, when Host and Link are empty.
	Data []byte
	// Link makes the file a symbolic link to this target.
	Link string
}

// Spec describes one image.
type Spec struct {
	// BootImg is the optional path of ops' boot.img (MBR with stage1 +
	// stage2, 48,640 bytes), written first for disk boot on q35. Empty
	// writes a bare MBR: enough for direct kernel boot (-kernel).
	BootImg string
	// Kernel is kernel.img, stored in the boot filesystem as /kernel.
	Kernel string
	// Klibs are stored in the boot filesystem as /klib/<name>.
	Klibs []File
	// Files are the root filesystem's files; parent directories are made
	// as needed.
	Files []File
	// Dirs are extra (empty) directories of the root filesystem.
	Dirs []string
	// Root holds the root tuple's entries (program, arguments,
	// environment, ...). Write adds the filesystem's "children" entry and
	// does not modify Root.
	Root *Tuple
	// Size is the minimum image size in bytes; the root partition grows to
	// fill it, giving the guest free space. Zero: as small as possible.
	Size int64
	// Label is the root filesystem's volume label (empty: none).
	Label string
}

// Stats reports what Write did.
type Stats struct {
	// Bytes is the image size (the file is sparse: fewer bytes are
	// allocated on disk).
	Bytes int64
	// Files counts the regular files written, in both filesystems.
	Files int
	// Duration is the wall time of Write.
	Duration time.Duration
	// Layout is where the parts of the image start.
	Layout Layout
}

// Layout is where the parts of an image lie, in bytes from its start.
type Layout struct {
	// Klog is the offset of the klog dump area (KlogSize bytes): 512
	// with a bare MBR, the size of boot.img otherwise.
	Klog int64
	// BootFS is the offset of partition 1 (BootFSSize bytes).
	BootFS int64
	// RootFS and RootFSSize place partition 2.
	RootFS, RootFSSize int64
	// Size is the image size.
	Size int64
}

// Write writes the image described by s to path. It writes a temporary
// file beside path and renames it into place, so a QEMU still running the
// previous image keeps reading a consistent file.
func Write(dst string, s Spec) (Stats, error) {
	start := time.Now()
	st, err := write(dst, s)
	st.Duration = time.Since(start)
	if err != nil {
		return st, fmt.Errorf("nanosimg: write %s: %w", dst, err)
	}
	return st, nil
}

func write(dst string, s Spec) (Stats, error) {
	var opened []*os.File
	defer func() {
		for _, f := range opened {
			f.Close()
		}
	}()
	open := func(host, guest string) (*source, error) {
		f, err := os.Open(host)
		if err != nil {
			return nil, fmt.Errorf("file %s: %w", guest, err)
		}
		opened = append(opened, f)
		fi, err := f.Stat()
		if err != nil {
			return nil, fmt.Errorf("file %s: %w", guest, err)
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("file %s: %w: host %s is not a regular file", guest, ErrBadSpec, host)
		}
		return &source{guest: guest, host: host, file: f, size: fi.Size()}, nil
	}

	if s.Kernel == "" {
		return Stats{}, fmt.Errorf("%w: no kernel", ErrBadSpec)
	}
	boot := newDir()
	ksrc, err := open(s.Kernel, "kernel")
	if err != nil {
		return Stats{}, err
	}
	boot.kids["kernel"] = &node{src: ksrc, given: true}
	nfiles := 1
	if len(s.Klibs) > 0 {
		klib := newDir()
		boot.kids["klib"] = klib
		for i, k := range s.Klibs {
			name := path.Base(k.Path)
			if k.Path == "" {
				name = filepath.Base(k.Host)
			}
			if name == "" || name == "." || name == ".." || name == "/" {
				return Stats{}, fmt.Errorf("%w: klib %d has no name", ErrBadSpec, i)
			}
			if _, dup := klib.kids[name]; dup {
				return Stats{}, fmt.Errorf("klib %s: %w", name, ErrDuplicatePath)
			}
			src, err := fileSource(k, "/klib/"+name, open)
			if err != nil {
				return Stats{}, err
			}
			klib.kids[name] = &node{src: src, link: k.Link, given: true}
			nfiles++
		}
	}

	root := newDir()
	for _, f := range s.Files {
		src, err := fileSource(f, f.Path, open)
		if err != nil {
			return Stats{}, err
		}
		if err := insert(root, f.Path, &node{src: src, link: f.Link, given: true, source: "file"}); err != nil {
			return Stats{}, err
		}
		if src != nil {
			nfiles++
		}
	}
	for _, d := range s.Dirs {
		n := newDir()
		n.given, n.source = true, "dir"
		if err := insert(root, d, n); err != nil {
			return Stats{}, err
		}
	}

	var bootUUID, rootUUID [16]byte
	newUUID(&bootUUID)
	newUUID(&rootUUID)
	bootFS, err := layoutTFS(boot, nil, bootUUID, "")
	if err != nil {
		return Stats{}, err
	}
	if bootFS.sectors*sectorSize > BootFSSize {
		return Stats{}, fmt.Errorf("%w: kernel and klibs need %d bytes, the boot partition holds %d", ErrBootFull, bootFS.sectors*sectorSize, BootFSSize)
	}
	rootFS, err := layoutTFS(root, s.Root, rootUUID, s.Label)
	if err != nil {
		return Stats{}, fmt.Errorf("root tuple: %w", err)
	}

	var mbr []byte
	if s.BootImg != "" {
		if mbr, err = readBootImg(s.BootImg); err != nil {
			return Stats{}, err
		}
	} else {
		mbr = make([]byte, sectorSize)
		mbr[510], mbr[511] = 0x55, 0xAA
	}
	lay := layout(int64(len(mbr)), int64(rootFS.sectors)*sectorSize, s.Size)
	setPartition(mbr, 0, lay.BootFS, BootFSSize)
	setPartition(mbr, 1, lay.RootFS, lay.RootFSSize)

	dir, base := filepath.Split(dst)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return Stats{}, err
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.WriteAt(mbr, 0); err != nil {
		return Stats{}, err
	}
	if err := bootFS.writeAt(tmp, lay.BootFS); err != nil {
		return Stats{}, fmt.Errorf("boot filesystem: %w", err)
	}
	if err := rootFS.writeAt(tmp, lay.RootFS); err != nil {
		return Stats{}, fmt.Errorf("root filesystem: %w", err)
	}
	if err := tmp.Truncate(lay.Size); err != nil {
		return Stats{}, err
	}
	if err := tmp.Close(); err != nil {
		return Stats{}, err
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return Stats{}, err
	}
	done = true
	return Stats{Bytes: lay.Size, Files: nfiles, Layout: lay}, nil
}

// fileSource validates f and returns its contents (nil for a link).
func fileSource(f File, guest string, open func(host, guest string) (*source, error)) (*source, error) {
	switch {
	case f.Link != "":
		if f.Host != "" || f.Data != nil {
			return nil, fmt.Errorf("file %s: %w: a link has no contents", guest, ErrBadSpec)
		}
		return nil, nil
	case f.Host != "":
		if f.Data != nil {
			return nil, fmt.Errorf("file %s: %w: both Host and Data set", guest, ErrBadSpec)
		}
		return open(f.Host, guest)
	default:
		return &source{guest: guest, data: f.Data, size: int64(len(f.Data))}, nil
	}
}

// insert adds n at guest path p under root, creating parent directories.
// A directory named both by Dirs and as a parent of a file is fine; any
// other second use of a path is an error.
func insert(root *node, p string, n *node) error {
	if !path.IsAbs(p) || path.Clean(p) != p || p == "/" || strings.ContainsRune(p, 0) {
		return fmt.Errorf("%s %q: %w", n.source, p, ErrNotAbsolute)
	}
	parts := strings.Split(p[1:], "/")
	dir := root
	for i, part := range parts[:len(parts)-1] {
		k, ok := dir.kids[part]
		if !ok {
			k = newDir()
			dir.kids[part] = k
		}
		if k.kids == nil {
			return fmt.Errorf("%s %s: %w: /%s is a file", n.source, p, ErrPathConflict, strings.Join(parts[:i+1], "/"))
		}
		dir = k
	}
	name := parts[len(parts)-1]
	old, ok := dir.kids[name]
	switch {
	case !ok:
		dir.kids[name] = n
	case old.kids != nil && n.kids != nil && !(old.given && n.given):
		old.given = true
	case old.given && n.given && (old.kids == nil) == (n.kids == nil):
		return fmt.Errorf("%s %s: %w", n.source, p, ErrDuplicatePath)
	default:
		return fmt.Errorf("%s %s: %w", n.source, p, ErrPathConflict)
	}
	return nil
}

// readBootImg reads boot.img and checks it: an MBR signature, and when its
// MBR records the size of the loader that follows it (a "filesystem
// region" entry just before the partition table), that size must match the
// file.
func readBootImg(p string) ([]byte, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("boot image: %w", err)
	}
	if len(b) < sectorSize || b[510] != 0x55 || b[511] != 0xAA {
		return nil, fmt.Errorf("boot image %s: %w: no MBR signature", p, ErrBadBootImg)
	}
	const regionFilesystem = 12
	if binary.LittleEndian.Uint32(b[442:446]) == regionFilesystem {
		n := binary.LittleEndian.Uint64(b[434:442])
		if sectorSize+n != uint64(len(b)) {
			return nil, fmt.Errorf("boot image %s: %w: its MBR says %d bytes follow, the file has %d", p, ErrBadBootImg, n, len(b)-sectorSize)
		}
	}
	if r := len(b) % sectorSize; r != 0 {
		b = append(b, make([]byte, sectorSize-r)...)
	}
	return b, nil
}

func layout(bootLen, rootUsed, minSize int64) Layout {
	var l Layout
	l.Klog = bootLen
	l.BootFS = l.Klog + KlogSize
	l.RootFS = l.BootFS + BootFSSize
	l.RootFSSize = rootUsed
	if minSize > l.RootFS+rootUsed {
		l.RootFSSize = (minSize - l.RootFS + sectorSize - 1) / sectorSize * sectorSize
	}
	l.Size = l.RootFS + l.RootFSSize
	return l
}

// setPartition fills MBR partition entry i: active, type 0x83, CHS and LBA
// start and length.
func setPartition(mbr []byte, i int, off, size int64) {
	e := mbr[446+16*i : 446+16*(i+1)]
	clear(e)
	e[0] = 0x80
	e[4] = PartitionType
	chs(e[1:4], off/sectorSize)
	chs(e[5:8], (off+size)/sectorSize-1)
	binary.LittleEndian.PutUint32(e[8:12], uint32(off/sectorSize))
	binary.LittleEndian.PutUint32(e[12:16], uint32(size/sectorSize))
}

// chs encodes an LBA in the legacy 255-head, 63-sector geometry, clamped
// to the largest address it can hold.
func chs(b []byte, lba int64) {
	const heads, spt, maxCyl = 255, 63, 1023
	cyl := lba / spt / heads
	head := lba / spt % heads
	sec := lba%spt + 1
	if cyl > maxCyl {
		cyl, head, sec = maxCyl, 254, 63
	}
	b[0] = byte(head)
	b[1] = byte(sec) | byte(cyl>>8)<<6
	b[2] = byte(cyl)
}

func newUUID(u *[16]byte) {
	if _, err := io.ReadFull(rand.Reader, u[:]); err != nil {
		// crypto/rand does not fail on Linux; a fixed UUID still boots.
		return
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
}
