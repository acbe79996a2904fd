package memview

import (
	"encoding/binary"

	"github.com/ukdev/ukdev/devloop"
)

// formatField renders one field's value from the variable's bytes (data
// starts at the variable's address), as `ukdev mem read` does. Fields
// past the bytes read show "…".
func formatField(f devloop.Field, data []byte, order binary.ByteOrder) string {
	return f.Format(data, order)
}

// hexDump renders data read at addr, perLine bytes a line, as `ukdev mem
// dump` does: "00105380  00 01 02 03  |....|".
func hexDump(addr uint64, data []byte, perLine int) []string {
	return devloop.HexDump(addr, data, perLine)
}
