package nanosimg

import (
	"fmt"
	"math/bits"
)

// Value type tags of the TFS (version 5) value encoding.
const (
	typeBuffer = 0 // symbols (tuple keys)
	typeTuple  = 1
	typeVector = 2
	typeString = 4
)

// maxDepth bounds the nesting of manifest values, so a tuple that contains
// itself is reported instead of recursing forever.
const maxDepth = 64

// encoder appends values in the TFS encoding. Each value starts with a
// header byte: bit 7 says immediate (1) or dictionary reference (0), bits
// 6-4 hold the type, bit 3 says more length bytes follow, bits 2-0 hold the
// top of the length; further length bytes carry 7 bits each, most
// significant first, with bit 7 set on all but the last.
//
// The decoder numbers, from 1, every symbol it reads in full and every
// tuple and vector; a symbol seen again is sent as a reference to its
// number. The numbering spans the whole log, so one encoder serves one
// filesystem.
type encoder struct {
	buf  []byte
	syms map[string]uint64
	next uint64
}

func newEncoder() *encoder {
	return &encoder{syms: make(map[string]uint64), next: 1}
}

func (e *encoder) header(immediate bool, typ byte, n uint64) {
	words := 0
	if b := bits.Len64(n); b > 3 {
		words = (b - 3 + 6) / 7
	}
	first := typ<<4 | byte(n>>(7*words))&0x7
	if immediate {
		first |= 0x80
	}
	if words > 0 {
		first |= 0x08
	}
	e.buf = append(e.buf, first)
	for i := words - 1; i >= 0; i-- {
		b := byte(n>>(7*i)) & 0x7f
		if i > 0 {
			b |= 0x80
		}
		e.buf = append(e.buf, b)
	}
}

func (e *encoder) symbol(s string) {
	if ref, ok := e.syms[s]; ok {
		e.header(false, typeBuffer, ref)
		return
	}
	e.header(true, typeBuffer, uint64(len(s)))
	e.buf = append(e.buf, s...)
	e.syms[s] = e.next
	e.next++
}

func (e *encoder) str(s string) {
	e.header(true, typeString, uint64(len(s)))
	e.buf = append(e.buf, s...)
}

// tupleHeader starts an immediate tuple of n entries; each entry follows as
// a symbol then a value.
func (e *encoder) tupleHeader(n int) {
	e.header(true, typeTuple, uint64(n))
	e.next++
}

func (e *encoder) vectorHeader(n int) {
	e.header(true, typeVector, uint64(n))
	e.next++
}

// value encodes v; where names the value in errors ("environment/HOME").
func (e *encoder) value(v Value, where string, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: %s: nested more than %d deep (a tuple containing itself?)", ErrBadValue, where, maxDepth)
	}
	switch v := v.(type) {
	case string:
		e.str(v)
	case []string:
		e.vectorHeader(len(v))
		for _, s := range v {
			e.str(s)
		}
	case Vector:
		e.vectorHeader(len(v))
		for i, x := range v {
			if err := e.value(x, fmt.Sprintf("%s[%d]", where, i), depth+1); err != nil {
				return err
			}
		}
	case *Tuple:
		if v == nil {
			return fmt.Errorf("%w: %s: nil tuple", ErrBadValue, where)
		}
		return e.tuple(v, where, depth)
	default:
		return fmt.Errorf("%w: %s: unsupported type %T (want string, Vector or *Tuple)", ErrBadValue, where, v)
	}
	return nil
}

func (e *encoder) tuple(t *Tuple, where string, depth int) error {
	e.tupleHeader(len(t.keys))
	return e.entries(t, where, depth)
}

// entries encodes t's entries without a tuple header, for callers that
// add entries of their own to the same tuple.
func (e *encoder) entries(t *Tuple, where string, depth int) error {
	for _, k := range t.keys {
		if k == "" {
			return fmt.Errorf("%w: %s: empty key", ErrBadValue, where)
		}
		e.symbol(k)
		if err := e.value(t.vals[k], where+"/"+k, depth+1); err != nil {
			return err
		}
	}
	return nil
}
