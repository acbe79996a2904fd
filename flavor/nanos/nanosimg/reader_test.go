package nanosimg

// An independent reader of written images, used only by the tests: it
// parses the MBR and the TFS logs from raw bytes, following the format as
// the kernel reads it, without sharing code with the writer.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
)

type rpart struct {
	active      bool
	typ         byte
	start, size int64 // bytes
}

func readMBR(img []byte) ([4]rpart, error) {
	var p [4]rpart
	if len(img) < 512 || img[510] != 0x55 || img[511] != 0xaa {
		return p, errors.New("no MBR signature")
	}
	for i := range p {
		e := img[446+16*i:]
		p[i] = rpart{
			active: e[0] == 0x80,
			typ:    e[4],
			start:  int64(binary.LittleEndian.Uint32(e[8:])) * 512,
			size:   int64(binary.LittleEndian.Uint32(e[12:])) * 512,
		}
	}
	return p, nil
}

// rtuple is a decoded tuple with its keys in encoded order.
type rtuple struct {
	keys []string
	m    map[string]any // string, []any or *rtuple
}

func (t *rtuple) str(k string) (string, bool) {
	s, ok := t.m[k].(string)
	return s, ok
}

func (t *rtuple) tup(k string) *rtuple {
	x, _ := t.m[k].(*rtuple)
	return x
}

type rfs struct {
	part  []byte
	uuid  [16]byte
	label string
	root  *rtuple
	// used marks sectors claimed by log extensions and file extents.
	used     map[int64]string
	manifest []byte // the first tuple record's bytes
	exts     int    // log extensions read, the initial one included
}

type rdecoder struct {
	dict map[uint64]any
	n    uint64
}

func rvarint(b []byte, i *int) (uint64, error) {
	var x uint64
	for {
		if *i >= len(b) {
			return 0, errors.New("varint past end")
		}
		c := b[*i]
		*i++
		x = x<<7 | uint64(c&0x7f)
		if c&0x80 == 0 {
			return x, nil
		}
	}
}

func rheader(b []byte, i *int) (imm bool, typ byte, n uint64, err error) {
	if *i >= len(b) {
		return false, 0, 0, errors.New("header past end")
	}
	c := b[*i]
	*i++
	imm, typ, n = c&0x80 != 0, (c>>4)&7, uint64(c&7)
	if c&8 != 0 {
		for {
			if *i >= len(b) {
				return false, 0, 0, errors.New("header length past end")
			}
			d := b[*i]
			*i++
			n = n<<7 | uint64(d&0x7f)
			if d&0x80 == 0 {
				break
			}
		}
	}
	return imm, typ, n, nil
}

func (d *rdecoder) add(v any) {
	d.n++
	d.dict[d.n] = v
}

func (d *rdecoder) bytesAt(b []byte, i *int, n uint64) (string, error) {
	if uint64(len(b)-*i) < n {
		return "", errors.New("string past end")
	}
	s := string(b[*i : *i+int(n)])
	*i += int(n)
	return s, nil
}

func (d *rdecoder) value(b []byte, i *int) (any, error) {
	imm, typ, n, err := rheader(b, i)
	if err != nil {
		return nil, err
	}
	if !imm {
		return nil, fmt.Errorf("unexpected reference value of type %d at %d", typ, *i)
	}
	switch typ {
	case 1:
		t := &rtuple{m: map[string]any{}}
		d.add(t)
		for range n {
			kimm, ktyp, kn, err := rheader(b, i)
			if err != nil {
				return nil, err
			}
			if ktyp != 0 {
				return nil, fmt.Errorf("key of type %d", ktyp)
			}
			var k string
			if kimm {
				if k, err = d.bytesAt(b, i, kn); err != nil {
					return nil, err
				}
				d.add(k)
			} else {
				s, ok := d.dict[kn].(string)
				if !ok {
					return nil, fmt.Errorf("key reference %d is not a symbol", kn)
				}
				k = s
			}
			v, err := d.value(b, i)
			if err != nil {
				return nil, err
			}
			if _, dup := t.m[k]; dup {
				return nil, fmt.Errorf("duplicate key %q", k)
			}
			t.keys = append(t.keys, k)
			t.m[k] = v
		}
		return t, nil
	case 2:
		v := make([]any, 0, n)
		d.add(&v)
		for range n {
			x, err := d.value(b, i)
			if err != nil {
				return nil, err
			}
			v = append(v, x)
		}
		return v, nil
	case 4, 0:
		return d.bytesAt(b, i, n)
	}
	return nil, fmt.Errorf("unknown type %d", typ)
}

func (f *rfs) claim(sector, n int64, what string) error {
	if (sector+n)*512 > int64(len(f.part)) {
		return fmt.Errorf("%s: sectors %d+%d past the partition (%d bytes)", what, sector, n, len(f.part))
	}
	for s := sector; s < sector+n; s++ {
		if o, ok := f.used[s]; ok {
			return fmt.Errorf("%s overlaps %s at sector %d", what, o, s)
		}
		f.used[s] = what
	}
	return nil
}

func readTFS(part []byte) (*rfs, error) {
	f := &rfs{part: part, used: map[int64]string{}}
	d := &rdecoder{dict: map[uint64]any{}}
	sector, size := int64(0), int64(1)
	var staging []byte
	var remain uint64
	for {
		if err := f.claim(sector, size, "log"); err != nil {
			return nil, err
		}
		f.exts++
		b := part[sector*512 : (sector+size)*512]
		if !bytes.HasPrefix(b, []byte("NVMTFS")) {
			return nil, fmt.Errorf("no magic at sector %d", sector)
		}
		i := 6
		v, _ := rvarint(b, &i)
		n, _ := rvarint(b, &i)
		if v != 5 || int64(n) != size {
			return nil, fmt.Errorf("extension at %d: version %d size %d, want 5 and %d", sector, v, n, size)
		}
		if sector == 0 {
			copy(f.uuid[:], b[i:])
			i += 16
			end := bytes.IndexByte(b[i:], 0)
			f.label = string(b[i : i+end])
			i += end + 1
		}
		next := int64(-1)
	records:
		for {
			if i >= len(b) {
				return nil, fmt.Errorf("extension at %d: no end of log", sector)
			}
			rec := b[i]
			i++
			switch rec {
			case 1:
				break records
			case 2, 3:
				var total uint64
				if rec == 2 {
					if remain != 0 {
						return nil, errors.New("tuple available while a tuple is pending")
					}
					total, _ = rvarint(b, &i)
					remain = total
					staging = nil
				}
				l, _ := rvarint(b, &i)
				if l > remain || i+int(l) > len(b) {
					return nil, fmt.Errorf("bad record length %d (remain %d)", l, remain)
				}
				staging = append(staging, b[i:i+int(l)]...)
				i += int(l)
				remain -= l
				if remain == 0 {
					if f.manifest == nil {
						f.manifest = staging
					}
					j := 0
					t, err := d.value(staging, &j)
					if err != nil {
						return nil, err
					}
					if j != len(staging) {
						return nil, fmt.Errorf("tuple record has %d trailing bytes", len(staging)-j)
					}
					if _, ok := t.(*rtuple); !ok {
						return nil, errors.New("log record is not a tuple")
					}
				}
			case 5:
				s, _ := rvarint(b, &i)
				l, _ := rvarint(b, &i)
				next, size = int64(s), int64(l)
				break records
			default:
				return nil, fmt.Errorf("unknown record %d at sector %d offset %d", rec, sector, i-1)
			}
		}
		if next < 0 {
			break
		}
		sector = next
	}
	if remain != 0 {
		return nil, errors.New("log ends inside a tuple")
	}
	root, ok := d.dict[1].(*rtuple)
	if !ok {
		return nil, errors.New("no root tuple")
	}
	f.root = root
	return f, nil
}

// entry is one walked filesystem entry.
type rentry struct {
	dir  bool
	link string
	data []byte
}

// walk lists every path of the tree with its contents, checking extents.
func (f *rfs) walk() (map[string]rentry, error) {
	out := map[string]rentry{}
	var visit func(dir *rtuple, prefix string) error
	visit = func(dir *rtuple, prefix string) error {
		kids := dir.tup("children")
		if kids == nil {
			return fmt.Errorf("%s: no children", prefix)
		}
		for _, name := range kids.keys {
			p := prefix + "/" + name
			e := kids.tup(name)
			if e == nil {
				return fmt.Errorf("%s: not a tuple", p)
			}
			switch {
			case e.tup("children") != nil:
				out[p] = rentry{dir: true}
				if err := visit(e, p); err != nil {
					return err
				}
			case e.m["linktarget"] != nil:
				t, _ := e.str("linktarget")
				out[p] = rentry{link: t}
			default:
				data, err := f.file(p, e)
				if err != nil {
					return err
				}
				out[p] = rentry{data: data}
			}
		}
		return nil
	}
	return out, visit(f.root, "")
}

func (f *rfs) file(p string, e *rtuple) ([]byte, error) {
	ls, ok := e.str("filelength")
	if !ok {
		return nil, fmt.Errorf("%s: no filelength", p)
	}
	length, err := strconv.ParseInt(ls, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	ext := e.tup("extents")
	if ext == nil {
		return nil, fmt.Errorf("%s: no extents", p)
	}
	data := make([]byte, length)
	keys := slices.Clone(ext.keys)
	for _, k := range keys {
		x := ext.tup(k)
		num := func(name string) int64 {
			s, _ := x.str(name)
			n, err2 := strconv.ParseInt(s, 10, 64)
			if err2 != nil {
				err = fmt.Errorf("%s: extent %s: %s %q", p, k, name, s)
			}
			return n
		}
		fileSector, _ := strconv.ParseInt(k, 10, 64)
		off, n, alloc := num("offset"), num("length"), num("allocated")
		if err != nil {
			return nil, err
		}
		if alloc != n {
			return nil, fmt.Errorf("%s: allocated %d != length %d", p, alloc, n)
		}
		if err := f.claim(off, n, p); err != nil {
			return nil, err
		}
		start := fileSector * 512
		end := min(start+n*512, length)
		copy(data[start:end], f.part[off*512:])
		// The sector tail past the file's end must be zero.
		if tail := f.part[off*512+(end-start) : (off+n)*512]; bytes.IndexFunc(tail, func(r rune) bool { return r != 0 }) >= 0 {
			return nil, fmt.Errorf("%s: nonzero bytes after the end", p)
		}
	}
	return data, nil
}
