package symbols

import (
	"debug/dwarf"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"sort"
)

// ErrNoLineTable is returned (wrapped) when an ELF has no DWARF line
// table: a stripped kernel, or one built without -g.
var ErrNoLineTable = errors.New("symbols: no DWARF line table")

// LineTable maps code addresses to source lines, from the DWARF line
// programs of an ELF file (the .dbg of a Unikraft build, or any kernel
// built with -g). It reads the tables itself: no addr2line is needed. It
// is immutable once loaded and safe for concurrent use.
type LineTable struct {
	path string
	// rows are the line table rows of every sequence, by address; at one
	// address an end-of-sequence row sorts before the row that starts the
	// next sequence there, so the last row at or before an address is the
	// one that covers it.
	rows []lineRow
}

type lineRow struct {
	addr uint64
	file string
	line int
	end  bool
}

// LoadLineTable reads the DWARF line tables of the ELF file at path. A
// file without DWARF, or whose compile units carry no line program,
// returns an error wrapping ErrNoLineTable.
func LoadLineTable(path string) (*LineTable, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("symbols: load line table: %w", err)
	}
	defer f.Close()
	d, err := f.DWARF()
	if err != nil {
		return nil, fmt.Errorf("symbols: load line table from %s: %w (%v)", path, ErrNoLineTable, err)
	}
	t := &LineTable{path: path}
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil {
			return nil, fmt.Errorf("symbols: load line table from %s: %w", path, err)
		}
		if e == nil {
			break
		}
		if e.Tag != dwarf.TagCompileUnit && e.Tag != dwarf.TagPartialUnit {
			r.SkipChildren()
			continue
		}
		lr, err := d.LineReader(e)
		if err != nil {
			return nil, fmt.Errorf("symbols: load line table from %s: %w", path, err)
		}
		r.SkipChildren()
		if lr == nil {
			continue
		}
		if err := t.addUnit(lr); err != nil {
			return nil, fmt.Errorf("symbols: load line table from %s: %w", path, err)
		}
	}
	if len(t.rows) == 0 {
		return nil, fmt.Errorf("symbols: load line table from %s: %w", path, ErrNoLineTable)
	}
	sort.SliceStable(t.rows, func(i, j int) bool {
		a, b := t.rows[i], t.rows[j]
		if a.addr != b.addr {
			return a.addr < b.addr
		}
		return a.end && !b.end
	})
	return t, nil
}

// addUnit appends the rows of one compile unit's line program.
func (t *LineTable) addUnit(lr *dwarf.LineReader) error {
	var le dwarf.LineEntry
	for {
		err := lr.Next(&le)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		row := lineRow{addr: le.Address, line: le.Line, end: le.EndSequence}
		if le.File != nil {
			row.file = le.File.Name
		}
		t.rows = append(t.rows, row)
	}
}

// Path is the ELF file the table was read from.
func (t *LineTable) Path() string { return t.path }

// LineFor returns the source file and line of the instruction at addr. It
// returns false when no line program covers addr (an address outside the
// code, or in code built without debug information). The file is the path
// the compiler recorded, usually absolute.
func (t *LineTable) LineFor(addr uint64) (file string, line int, ok bool) {
	n := sort.Search(len(t.rows), func(i int) bool { return t.rows[i].addr > addr })
	if n == 0 {
		return "", 0, false
	}
	r := t.rows[n-1]
	if r.end || r.line == 0 {
		return "", 0, false
	}
	return r.file, r.line, true
}
