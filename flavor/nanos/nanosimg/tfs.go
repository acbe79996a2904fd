package nanosimg

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
)

const (
	sectorSize = 512
	tfsMagic   = "NVMTFS"
	tfsVersion = 5
	// extSectors is the size of every log extension after the first; the
	// kernel extends its log by the same amount.
	extSectors = 1024
	// dataStart is the first sector after the one-sector initial extension
	// and the first full extension: file contents start there.
	dataStart = 1 + extSectors
)

// Log record kinds.
const (
	recEndOfLog     = 1
	recTupleAvail   = 2
	recTupleExtend  = 3
	recExtensionLnk = 5
)

// Reserves the kernel keeps free when it fills an extension: a link record
// (kind + two varints), a tuple-available header (kind + two varints), and
// at least 32 bytes of payload. Writing the same way keeps the log
// readable by a kernel that appends to it later.
const (
	maxVarint     = 10
	linkReserve   = 1 + 2*maxVarint
	recordReserve = 1 + 2*maxVarint
	minPayload    = 32
)

// node is one entry of a filesystem tree under construction.
type node struct {
	kids   map[string]*node // non-nil for a directory
	link   string           // symlink target, for a link
	src    *source          // contents, for a regular file
	given  bool             // named by the spec itself, not created as a parent
	source string           // the spec field that named it, for errors
}

func newDir() *node { return &node{kids: make(map[string]*node)} }

func (n *node) sortedNames() []string {
	names := make([]string, 0, len(n.kids))
	for k := range n.kids {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// source is the contents of one file: an open host file or bytes.
type source struct {
	guest  string // path in the guest, for errors
	host   string
	file   *os.File
	data   []byte
	size   int64
	sector uint64 // first sector inside its filesystem
}

func (s *source) sectors() uint64 { return uint64((s.size + sectorSize - 1) / sectorSize) }

// extension is one log extension: where it lives and its used bytes (the
// rest of it reads as zeros).
type extension struct {
	sector  uint64
	sectors uint64
	buf     []byte
}

// tfs is a laid-out filesystem, ready to be written at any offset.
type tfs struct {
	exts     []extension
	files    []*source
	sectors  uint64 // total used sectors
	manifest []byte // the encoded root tuple
}

// layoutTFS places every file of root after the first log extension (in
// sorted path order), encodes the root tuple (the directory tree, then
// extra's entries) and writes it into the log, adding extensions after the
// file data when it does not fit in the first one.
func layoutTFS(root *node, extra *Tuple, uuid [16]byte, label string) (*tfs, error) {
	t := &tfs{}
	next := uint64(dataStart)
	var place func(n *node)
	place = func(n *node) {
		for _, name := range n.sortedNames() {
			k := n.kids[name]
			switch {
			case k.kids != nil:
				place(k)
			case k.src != nil:
				k.src.sector = next
				next += k.src.sectors()
				t.files = append(t.files, k.src)
			}
		}
	}
	place(root)

	enc := newEncoder()
	n := 1
	if extra != nil {
		n += extra.Len()
		if _, ok := extra.Get("children"); ok {
			return nil, fmt.Errorf("%w: the root tuple's %q entry is the filesystem's own", ErrReservedKey, "children")
		}
	}
	enc.tupleHeader(n)
	enc.symbol("children")
	encodeDir(enc, root)
	if extra != nil {
		if err := enc.entries(extra, "", 1); err != nil {
			return nil, err
		}
	}
	t.manifest = enc.buf

	first := extension{sector: 0, sectors: 1}
	first.buf = extHeader(nil, 1)
	first.buf = append(first.buf, uuid[:]...)
	first.buf = append(first.buf, label...)
	first.buf = append(first.buf, 0)
	first.buf = appendLink(first.buf, 1, extSectors)
	t.exts = append(t.exts, first, extension{sector: 1, sectors: extSectors, buf: extHeader(nil, extSectors)})

	cur := &t.exts[len(t.exts)-1]
	rest := t.manifest
	written := 0
	for {
		size := int(cur.sectors * sectorSize)
		if len(cur.buf)+linkReserve+recordReserve+minPayload >= size {
			cur.buf = appendLink(cur.buf, next, extSectors)
			t.exts = append(t.exts, extension{sector: next, sectors: extSectors, buf: extHeader(nil, extSectors)})
			next += extSectors
			cur = &t.exts[len(t.exts)-1]
			size = int(cur.sectors * sectorSize)
		}
		avail := size - (len(cur.buf) + linkReserve + recordReserve)
		chunk := min(avail, len(rest))
		if written == 0 {
			cur.buf = append(cur.buf, recTupleAvail)
			cur.buf = appendVarint(cur.buf, uint64(len(t.manifest)))
		} else {
			cur.buf = append(cur.buf, recTupleExtend)
		}
		cur.buf = appendVarint(cur.buf, uint64(chunk))
		cur.buf = append(cur.buf, rest[:chunk]...)
		rest = rest[chunk:]
		written += chunk
		if len(rest) == 0 {
			break
		}
	}
	cur.buf = append(cur.buf, recEndOfLog)
	t.sectors = next
	return t, nil
}

// encodeDir encodes a directory's children tuple: name → entry tuple, in
// sorted name order so that equal trees encode to equal bytes.
func encodeDir(e *encoder, dir *node) {
	names := dir.sortedNames()
	e.tupleHeader(len(names))
	for _, name := range names {
		k := dir.kids[name]
		e.symbol(name)
		switch {
		case k.kids != nil:
			e.tupleHeader(1)
			e.symbol("children")
			encodeDir(e, k)
		case k.src == nil:
			e.tupleHeader(1)
			e.symbol("linktarget")
			e.str(k.link)
		default:
			// Numbers are decimal strings, as the kernel parses them.
			s := k.src
			e.tupleHeader(2)
			e.symbol("filelength")
			e.str(strconv.FormatInt(s.size, 10))
			e.symbol("extents")
			if s.size == 0 {
				e.tupleHeader(0)
				continue
			}
			// One extent at file sector 0; lengths and offsets in sectors,
			// the offset counted from the start of the filesystem.
			n := strconv.FormatUint(s.sectors(), 10)
			e.tupleHeader(1)
			e.symbol("0")
			e.tupleHeader(3)
			e.symbol("length")
			e.str(n)
			e.symbol("offset")
			e.str(strconv.FormatUint(s.sector, 10))
			e.symbol("allocated")
			e.str(n)
		}
	}
}

func extHeader(b []byte, sectors uint64) []byte {
	b = append(b, tfsMagic...)
	b = appendVarint(b, tfsVersion)
	return appendVarint(b, sectors)
}

func appendLink(b []byte, sector, sectors uint64) []byte {
	b = append(b, recExtensionLnk)
	b = appendVarint(b, sector)
	return appendVarint(b, sectors)
}

// appendVarint appends x in 7-bit groups, most significant first, bit 7
// set on every byte but the last.
func appendVarint(b []byte, x uint64) []byte {
	var tmp [maxVarint]byte
	i := len(tmp) - 1
	tmp[i] = byte(x & 0x7f)
	for x >>= 7; x != 0; x >>= 7 {
		i--
		tmp[i] = byte(x&0x7f) | 0x80
	}
	return append(b, tmp[i:]...)
}

// writeAt writes the filesystem into f at byte offset base. f must read as
// zeros where nothing is written (a new, sparse file).
func (t *tfs) writeAt(f *os.File, base int64) error {
	for _, x := range t.exts {
		if _, err := f.WriteAt(x.buf, base+int64(x.sector)*sectorSize); err != nil {
			return fmt.Errorf("write log: %w", err)
		}
	}
	for _, s := range t.files {
		off := base + int64(s.sector)*sectorSize
		if s.file == nil {
			if _, err := f.WriteAt(s.data, off); err != nil {
				return fmt.Errorf("write %s: %w", s.guest, err)
			}
			continue
		}
		// Seek + ReadFrom lets the kernel copy the file (copy_file_range)
		// without passing its bytes through this process.
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return fmt.Errorf("write %s: %w", s.guest, err)
		}
		n, err := f.ReadFrom(io.LimitReader(s.file, s.size))
		if err != nil {
			return fmt.Errorf("copy %s from %s: %w", s.guest, s.host, err)
		}
		if n != s.size {
			return fmt.Errorf("copy %s from %s: %w: read %d of %d bytes", s.guest, s.host, ErrChanged, n, s.size)
		}
	}
	return nil
}
