package symbols

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The value of a Field, read from a variable's bytes. The memory panel
// and `ukdev mem` show values the same way through these.

// Bytes returns the field's bytes within data (the variable's bytes,
// starting at its address), false when the field lies past them.
func (f Field) Bytes(data []byte) ([]byte, bool) {
	end := f.Offset + f.Size
	if end > uint64(len(data)) || end < f.Offset {
		return nil, false
	}
	return data[f.Offset:end], true
}

// Raw reads an integer, bool or pointer field as an unsigned number of
// bits bits: a bit field's bits shifted down. It returns false when the
// field is not 1, 2, 4 or 8 bytes, or lies past data.
func (f Field) Raw(data []byte, order binary.ByteOrder) (raw, bits uint64, ok bool) {
	b, ok := f.Bytes(data)
	if !ok {
		return 0, 0, false
	}
	raw, ok = ReadUint(b, order)
	if !ok {
		return 0, 0, false
	}
	bits = f.Size * 8
	if f.BitSize != 0 && f.BitOffset+f.BitSize <= bits {
		raw = raw >> f.BitOffset & (1<<f.BitSize - 1)
		bits = f.BitSize
	}
	return raw, bits, true
}

// Format renders the field's value from the variable's bytes (data starts
// at the variable's address): "42 (0x2a)", "-1 (0xffffffff)", "true",
// "0x001052a0", "1.5", "BLUE (2)" for an enum, "\"text\"" for a C char
// array, or up to 16 bytes as hex and ASCII. A field past
// the bytes read shows "…", an empty one "(empty)".
func (f Field) Format(data []byte, order binary.ByteOrder) string {
	if f.Size == 0 {
		return "(empty)"
	}
	b, ok := f.Bytes(data)
	if !ok {
		return "…"
	}
	switch f.Encoding {
	case EncUnsigned, EncSigned, EncBool, EncPointer:
		raw, bits, ok := f.Raw(data, order)
		if !ok {
			return BytesInline(b)
		}
		if f.Enum != nil {
			v := int64(raw)
			if f.Encoding == EncSigned {
				v = SignExtend(raw, bits)
			}
			if name, ok := f.EnumName(v); ok {
				return fmt.Sprintf("%s (%d)", name, v)
			}
			return strconv.FormatInt(v, 10)
		}
		switch f.Encoding {
		case EncBool:
			return strconv.FormatBool(raw != 0)
		case EncPointer:
			return fmt.Sprintf("0x%0*x", f.Size*2, raw)
		case EncSigned:
			return fmt.Sprintf("%d (0x%x)", SignExtend(raw, bits), raw)
		}
		return fmt.Sprintf("%d (0x%x)", raw, raw)
	case EncCString:
		return quoteCString(b)
	case EncFloat:
		if v, ok := f.Float(data, order); ok {
			return strconv.FormatFloat(v, 'g', -1, int(f.Size*8))
		}
	}
	return BytesInline(b)
}

// maxTextShown bounds the text a C string field shows.
const maxTextShown = 48

// quoteCString renders a C char array as quoted text up to its NUL
// (escaped, so guest bytes can never be escape sequences).
func quoteCString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	if len(b) > maxTextShown {
		return strconv.QuoteToASCII(string(b[:maxTextShown])) + "…"
	}
	return strconv.QuoteToASCII(string(b))
}

// Float reads a 4 or 8-byte IEEE 754 field; false for any other size or
// a field past data.
func (f Field) Float(data []byte, order binary.ByteOrder) (float64, bool) {
	b, ok := f.Bytes(data)
	if !ok {
		return 0, false
	}
	switch len(b) {
	case 4:
		return float64(math.Float32frombits(order.Uint32(b))), true
	case 8:
		return math.Float64frombits(order.Uint64(b)), true
	}
	return 0, false
}

// ReadUint reads a 1, 2, 4 or 8-byte unsigned integer.
func ReadUint(b []byte, order binary.ByteOrder) (uint64, bool) {
	switch len(b) {
	case 1:
		return uint64(b[0]), true
	case 2:
		return uint64(order.Uint16(b)), true
	case 4:
		return uint64(order.Uint32(b)), true
	case 8:
		return order.Uint64(b), true
	}
	return 0, false
}

// SignExtend reads the low bits of v as a two's complement number.
func SignExtend(v, bits uint64) int64 {
	if bits == 0 || bits >= 64 {
		return int64(v)
	}
	shift := 64 - bits
	return int64(v<<shift) >> shift
}

// inlineBytes is how many bytes BytesInline shows.
const inlineBytes = 16

// BytesInline renders up to 16 bytes as hex and printable ASCII:
// "68 69 00 00  |hi..|", with " …" when b is longer.
func BytesInline(b []byte) string {
	more := len(b) > inlineBytes
	if more {
		b = b[:inlineBytes]
	}
	var sb strings.Builder
	for i, c := range b {
		if i > 0 {
			sb.WriteByte(' ')
		}
		fmt.Fprintf(&sb, "%02x", c)
	}
	if more {
		sb.WriteString(" …")
	}
	sb.WriteString("  |")
	sb.WriteString(Printable(b))
	sb.WriteString("|")
	return sb.String()
}

// Printable maps bytes to ASCII, with '.' for anything unprintable (so
// guest bytes can never be escape sequences).
func Printable(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			c = '.'
		}
		out[i] = c
	}
	return string(out)
}

// HexDump renders data read at addr, perLine bytes a line (16 when
// perLine <= 0): "00105380  00 01 02 03  |....|".
func HexDump(addr uint64, data []byte, perLine int) []string {
	if perLine <= 0 {
		perLine = 16
	}
	var lines []string
	for off := 0; off < len(data); off += perLine {
		row := data[off:min(off+perLine, len(data))]
		var sb strings.Builder
		fmt.Fprintf(&sb, "%08x ", addr+uint64(off))
		for i := range perLine {
			if i < len(row) {
				fmt.Fprintf(&sb, " %02x", row[i])
			} else {
				sb.WriteString("   ")
			}
		}
		sb.WriteString("  |")
		sb.WriteString(Printable(row))
		sb.WriteString("|")
		lines = append(lines, sb.String())
	}
	return lines
}
