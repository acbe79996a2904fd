package memview

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/ukdev/ukdev/devloop"
)

// formatField renders one field's value from the variable's bytes (data
// starts at the variable's address). Fields past the bytes read show "…".
func formatField(f devloop.Field, data []byte, order binary.ByteOrder) string {
	end := f.Offset + f.Size
	if f.Size == 0 {
		return "(empty)"
	}
	if end > uint64(len(data)) || end < f.Offset {
		return "…"
	}
	b := data[f.Offset:end]
	switch f.Encoding {
	case devloop.EncUnsigned, devloop.EncSigned, devloop.EncBool, devloop.EncPointer:
		raw, ok := readUint(b, order)
		if !ok {
			return bytesInline(b)
		}
		bits := f.Size * 8
		if f.BitSize != 0 && f.BitOffset+f.BitSize <= bits {
			raw = raw >> f.BitOffset & (1<<f.BitSize - 1)
			bits = f.BitSize
		}
		if f.Enum != nil {
			v := int64(raw)
			if f.Encoding == devloop.EncSigned {
				v = signExtend(raw, bits)
			}
			if name, ok := f.EnumName(v); ok {
				return fmt.Sprintf("%s (%d)", name, v)
			}
			return strconv.FormatInt(v, 10)
		}
		switch f.Encoding {
		case devloop.EncBool:
			return strconv.FormatBool(raw != 0)
		case devloop.EncPointer:
			return fmt.Sprintf("0x%0*x", f.Size*2, raw)
		case devloop.EncSigned:
			return fmt.Sprintf("%d (0x%x)", signExtend(raw, bits), raw)
		}
		return fmt.Sprintf("%d (0x%x)", raw, raw)
	case devloop.EncCString:
		return quoteCString(b)
	case devloop.EncFloat:
		raw, ok := readUint(b, order)
		switch {
		case !ok:
			return bytesInline(b)
		case f.Size == 4:
			return strconv.FormatFloat(float64(math.Float32frombits(uint32(raw))), 'g', -1, 32)
		default:
			return strconv.FormatFloat(math.Float64frombits(raw), 'g', -1, 64)
		}
	}
	return bytesInline(b)
}

// readUint reads a 1, 2, 4 or 8-byte unsigned integer.
func readUint(b []byte, order binary.ByteOrder) (uint64, bool) {
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

// signExtend reads the low bits of v as a two's complement number.
func signExtend(v, bits uint64) int64 {
	if bits == 0 || bits >= 64 {
		return int64(v)
	}
	shift := 64 - bits
	return int64(v<<shift) >> shift
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

// inlineBytes is how many bytes a field shows on its own line.
const inlineBytes = 16

// bytesInline renders up to 16 bytes as hex and printable ASCII:
// "68 69 00 00  |hi..|".
func bytesInline(b []byte) string {
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
	sb.WriteString(printable(b))
	sb.WriteString("|")
	return sb.String()
}

// printable maps bytes to ASCII, with '.' for anything unprintable (so
// guest bytes can never be escape sequences).
func printable(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			c = '.'
		}
		out[i] = c
	}
	return string(out)
}

// hexDump renders data read at addr, perLine bytes a line:
// "00105380  00 01 02 03  |....|".
func hexDump(addr uint64, data []byte, perLine int) []string {
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
		sb.WriteString(printable(row))
		sb.WriteString("|")
		lines = append(lines, sb.String())
	}
	return lines
}
