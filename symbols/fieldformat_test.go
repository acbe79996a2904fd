package symbols

import (
	"encoding/binary"
	"testing"
)

func TestFieldRawAndFloat(t *testing.T) {
	le := binary.LittleEndian
	tests := []struct {
		name     string
		f        Field
		data     []byte
		wantRaw  uint64
		wantBits uint64
		wantOK   bool
	}{
		{"u16 at offset", Field{Offset: 2, Size: 2}, []byte{0, 0, 0x34, 0x12}, 0x1234, 16, true},
		{"bit field", Field{Size: 4, BitOffset: 3, BitSize: 5}, le.AppendUint32(nil, 0b10110_101), 0b10110, 5, true},
		{"past the data", Field{Offset: 2, Size: 4}, []byte{1, 2, 3}, 0, 0, false},
		{"odd size", Field{Size: 3}, []byte{1, 2, 3}, 0, 0, false},
		{"offset overflow", Field{Offset: ^uint64(0), Size: 2}, []byte{1, 2}, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, bits, ok := tt.f.Raw(tt.data, le)
			if raw != tt.wantRaw || bits != tt.wantBits || ok != tt.wantOK {
				t.Errorf("Raw = %#x, %d, %v; want %#x, %d, %v", raw, bits, ok, tt.wantRaw, tt.wantBits, tt.wantOK)
			}
		})
	}
	if v, ok := (Field{Size: 8}).Float(le.AppendUint64(nil, 0x4004000000000000), le); !ok || v != 2.5 {
		t.Errorf("Float = %v, %v; want 2.5", v, ok)
	}
	if _, ok := (Field{Size: 2}).Float([]byte{1, 2}, le); ok {
		t.Error("Float of 2 bytes is ok")
	}
	if got := SignExtend(0b101, 3); got != -3 {
		t.Errorf("SignExtend(0b101, 3) = %d, want -3", got)
	}
	if got := Printable([]byte("a\x1b[2Jz\x7f")); got != "a.[2Jz." {
		t.Errorf("Printable = %q", got)
	}
}
