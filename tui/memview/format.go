package memview

import (
	"encoding/binary"

	"github.com/ukdev/ukdev/devloop"
)

// formatField renders one field's value from the variable's bytes (data
// starts at the variable's address), as `ukdev mem read` does. Fields
// past the bytes read show "…". A pointer into a symbol of t (nil: no
// symbols) is followed by that symbol: "0x00105380 → stats+0x4".
func formatField(f devloop.Field, data []byte, order binary.ByteOrder, t *devloop.SymbolTable) string {
	text := f.Format(data, order)
	if f.Encoding != devloop.EncPointer || f.Enum != nil || t == nil {
		return text
	}
	p, _, ok := f.Raw(data, order)
	if !ok || p == 0 {
		return text
	}
	if sym := t.Describe(p); sym != "" {
		return text + " → " + sym
	}
	return text
}

// hexDump renders data read at addr, perLine bytes a line, as `ukdev mem
// dump` does: "00105380  00 01 02 03  |....|".
func hexDump(addr uint64, data []byte, perLine int) []string {
	return devloop.HexDump(addr, data, perLine)
}
