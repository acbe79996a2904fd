package symbols

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestLineTableLookup(t *testing.T) {
	// Two sequences: 0x1000-0x1020 and 0x2000-0x2010, the second starting
	// where nothing ends.
	lt := &LineTable{rows: []lineRow{
		{addr: 0x1000, file: "/src/a.c", line: 10},
		{addr: 0x1008, file: "/src/a.c", line: 12},
		{addr: 0x1010, file: "/src/b.h", line: 3},
		{addr: 0x1020, end: true},
		{addr: 0x2000, file: "/src/c.c", line: 7},
		{addr: 0x2010, end: true},
	}}
	tests := []struct {
		addr uint64
		file string
		line int
		ok   bool
	}{
		{0x0fff, "", 0, false},
		{0x1000, "/src/a.c", 10, true},
		{0x1007, "/src/a.c", 10, true},
		{0x1008, "/src/a.c", 12, true},
		{0x101f, "/src/b.h", 3, true},
		{0x1020, "", 0, false}, // the end of a sequence is past its code
		{0x1fff, "", 0, false},
		{0x200f, "/src/c.c", 7, true},
		{0x2010, "", 0, false},
	}
	for _, tt := range tests {
		file, line, ok := lt.LineFor(tt.addr)
		if file != tt.file || line != tt.line || ok != tt.ok {
			t.Errorf("LineFor(%#x) = %q, %d, %v; want %q, %d, %v", tt.addr, file, line, ok, tt.file, tt.line, tt.ok)
		}
	}
}

func TestLoadLineTableErrors(t *testing.T) {
	dir := t.TempDir()
	notELF := filepath.Join(dir, "text")
	if err := os.WriteFile(notELF, []byte("not an ELF file"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadLineTable(notELF); err == nil {
		t.Error("LoadLineTable(text file) = nil error")
	}
	if _, err := LoadLineTable(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadLineTable(missing) = %v, want os.ErrNotExist", err)
	}
}
