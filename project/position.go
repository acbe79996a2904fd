package project

import (
	"errors"
	"sort"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// pos is a 1-based line and column (in bytes) in a config file.
type pos struct{ line, col int }

// positionMap knows where every key and value of a document sits, so that
// errors found after decoding can point at the offending value.
type positionMap struct {
	lineStarts []int
	// values maps a key path ("vm.ports", "vm.ports[1]") to the position of
	// its value.
	values map[string]pos
	// tables maps a table path ("vm") to the position of its [header] or of
	// the first key that created it (build.command creates "build").
	tables map[string]pos
	// firstKey maps a table path to the position of the first key under it.
	firstKey map[string]pos
	// notTable holds the paths given a value other than a table, or used
	// as an array of tables ([[path]]).
	notTable map[string]bool
}

// scanPositions parses data with go-toml's AST parser and records positions.
// A syntax error comes back as a ParserError translated into a position and
// message.
func scanPositions(data []byte) (*positionMap, *syntaxError) {
	m := &positionMap{
		values:   map[string]pos{},
		tables:   map[string]pos{},
		firstKey: map[string]pos{},
		notTable: map[string]bool{},
	}
	m.lineStarts = append(m.lineStarts, 0)
	for i, b := range data {
		if b == '\n' {
			m.lineStarts = append(m.lineStarts, i+1)
		}
	}
	var p unstable.Parser
	p.Reset(data)
	var table []string
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			parts, nodes := keyOf(e)
			if len(parts) == 0 {
				continue
			}
			table = parts
			if e.Kind == unstable.ArrayTable {
				m.notTable[keyString(parts)] = true
			}
			for i := range parts {
				m.setTable(keyString(parts[:i+1]), m.at(int(nodes[i].Raw.Offset)))
			}
		case unstable.KeyValue:
			m.keyValue(data, table, e)
		}
	}
	if err := p.Error(); err != nil {
		se := &syntaxError{msg: err.Error()}
		var perr *unstable.ParserError
		if errors.As(err, &perr) {
			se.msg = perr.Message
			se.at = m.at(subsliceOffset(data, perr.Highlight))
			if len(perr.Key) > 0 {
				se.key = keyString(perr.Key)
			}
		} else {
			se.at = pos{1, 1}
		}
		return m, se
	}
	return m, nil
}

// syntaxError is a TOML syntax error with its position.
type syntaxError struct {
	at  pos
	key string
	msg string
}

// keyOf returns the parts of a Table, ArrayTable or KeyValue node's key and
// the nodes they come from.
func keyOf(n *unstable.Node) ([]string, []*unstable.Node) {
	var parts []string
	var nodes []*unstable.Node
	it := n.Key()
	for it.Next() {
		k := it.Node()
		parts = append(parts, string(k.Data))
		nodes = append(nodes, k)
	}
	return parts, nodes
}

// keyValue records the positions of a key-value under the table prefix,
// descending into arrays and inline tables.
func (m *positionMap) keyValue(data []byte, prefix []string, kv *unstable.Node) {
	parts, nodes := keyOf(kv)
	if len(parts) == 0 {
		return
	}
	full := append(append([]string(nil), prefix...), parts...)
	// A dotted key creates the tables named by its leading parts.
	m.setFirstKey(keyString(prefix), m.at(int(nodes[0].Raw.Offset)))
	for i := range parts[:len(parts)-1] {
		path := append(append([]string(nil), prefix...), parts[:i+1]...)
		m.setTable(keyString(path), m.at(int(nodes[i].Raw.Offset)))
		m.setFirstKey(keyString(path), m.at(int(nodes[i+1].Raw.Offset)))
	}
	// Arrays carry no range of their own: find the value after "key =".
	last := nodes[len(nodes)-1]
	off := int(last.Raw.Offset + last.Raw.Length)
	off = skipBlanks(data, off)
	if off < len(data) && data[off] == '=' {
		off = skipBlanks(data, off+1)
	}
	m.value(data, full, kv.Value(), off)
}

// value records the position of a value and, for arrays and inline tables,
// of everything inside it.
func (m *positionMap) value(data []byte, path []string, v *unstable.Node, off int) {
	key := keyString(path)
	m.setValue(key, m.at(off))
	if v.Kind != unstable.InlineTable {
		m.notTable[key] = true
	}
	switch v.Kind {
	case unstable.Array:
		i := 0
		it := v.Children()
		for it.Next() {
			c := it.Node()
			if c.Kind == unstable.Comment {
				continue
			}
			coff := off
			if c.Kind != unstable.Array {
				coff = int(c.Raw.Offset)
			}
			m.setValue(key+"["+strconv.Itoa(i)+"]", m.at(coff))
			if c.Kind == unstable.InlineTable {
				m.setTable(key+"["+strconv.Itoa(i)+"]", m.at(coff))
			}
			i++
		}
	case unstable.InlineTable:
		m.setTable(key, m.at(off))
		it := v.Children()
		for it.Next() {
			if c := it.Node(); c.Kind == unstable.KeyValue {
				m.keyValue(data, path, c)
			}
		}
	}
}

func (m *positionMap) setValue(key string, p pos) {
	if _, ok := m.values[key]; !ok {
		m.values[key] = p
	}
}

func (m *positionMap) setTable(key string, p pos) {
	if _, ok := m.tables[key]; !ok {
		m.tables[key] = p
	}
}

func (m *positionMap) setFirstKey(key string, p pos) {
	if _, ok := m.firstKey[key]; !ok {
		m.firstKey[key] = p
	}
}

// at converts a byte offset into a position.
func (m *positionMap) at(off int) pos {
	if off < 0 {
		off = 0
	}
	line := sort.Search(len(m.lineStarts), func(i int) bool { return m.lineStarts[i] > off }) - 1
	if line < 0 {
		line = 0
	}
	return pos{line: line + 1, col: off - m.lineStarts[line] + 1}
}

// subsliceOffset returns where b starts inside data, which it must be a
// subslice of; a slice from elsewhere is clamped into data rather than
// trusted.
func subsliceOffset(data, b []byte) int {
	off := cap(data) - cap(b)
	if b == nil || off < 0 || off > len(data) {
		return len(data)
	}
	return off
}

// skipBlanks skips spaces and tabs.
func skipBlanks(data []byte, off int) int {
	for off < len(data) && (data[off] == ' ' || data[off] == '\t') {
		off++
	}
	return off
}

// keyString writes a key path in TOML's dotted form, quoting the parts that
// are not bare keys.
func keyString(parts []string) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('.')
		}
		if isBareKey(p) {
			b.WriteString(p)
		} else {
			b.WriteString(TOMLString(p))
		}
	}
	return b.String()
}

// isBareKey reports whether s can be written as a TOML bare key.
func isBareKey(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// TOMLString writes s as a TOML basic string, as in a value of a line of
// InitParts.
func TOMLString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			b.WriteString(`\u00`)
			b.WriteString(strconv.FormatInt(int64(r)>>4, 16))
			b.WriteString(strconv.FormatInt(int64(r)&0xf, 16))
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
