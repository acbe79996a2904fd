package memview

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/symbols"
)

// fieldKey names one shown value: a watch and its field ("" for a
// scalar).
type fieldKey struct{ watch, field string }

// seenValue is a value as the last refresh showed it.
type seenValue struct {
	text string
	// raw and bits are an integer's bits, for its rate of change.
	raw   uint64
	bits  uint64
	isInt bool
}

// changeTracker remembers the values of the last refresh, to highlight
// those that changed since and give counters a rate ("+10/s").
type changeTracker struct {
	boot    int
	at      time.Time
	last    map[fieldKey]seenValue
	changed map[fieldKey]bool
	rates   map[fieldKey]float64
}

// update compares a refresh's values, taken at at on boot, with the last
// ones, pointers named by t's symbols. A new boot starts afresh: its values did not change, they began.
func (c *changeTracker) update(at time.Time, boot int, vars []varValue, order binary.ByteOrder, t *devloop.SymbolTable) {
	if boot != c.boot {
		c.last = nil
	}
	next := make(map[fieldKey]seenValue)
	changed := make(map[fieldKey]bool)
	rates := make(map[fieldKey]float64)
	dt := at.Sub(c.at).Seconds()
	for _, v := range vars {
		if v.err != nil || v.v.Name == "" {
			continue
		}
		for _, f := range v.v.Fields {
			text := formatField(f, v.data, order, t)
			if text == "…" {
				continue
			}
			k := fieldKey{v.name, f.Name}
			sv := seenValue{text: text}
			sv.raw, sv.bits, sv.isInt = intBits(f, v.data, order)
			next[k] = sv
			old, ok := c.last[k]
			if !ok || old.text == text {
				continue
			}
			changed[k] = true
			if sv.isInt && old.isInt && old.bits == sv.bits && dt > 0 {
				rates[k] = float64(symbols.SignExtend(sv.raw-old.raw, sv.bits)) / dt
			}
		}
	}
	c.boot, c.at, c.last, c.changed, c.rates = boot, at, next, changed, rates
}

// intBits reads a counter-like field (a signed or unsigned integer, bit
// fields too) as its raw bits.
func intBits(f devloop.Field, data []byte, order binary.ByteOrder) (raw, bits uint64, ok bool) {
	if f.Encoding != devloop.EncUnsigned && f.Encoding != devloop.EncSigned {
		return 0, 0, false
	}
	end := f.Offset + f.Size
	if end > uint64(len(data)) || end < f.Offset {
		return 0, 0, false
	}
	raw, ok = symbols.ReadUint(data[f.Offset:end], order)
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

// formatRate renders a rate of change: "+10/s", "-0.5/s".
func formatRate(r float64) string {
	if r >= 10 || r <= -10 {
		return fmt.Sprintf("%+.0f/s", r)
	}
	return strings.TrimSuffix(fmt.Sprintf("%+.1f", r), ".0") + "/s"
}

// value renders a field's text, highlighted when it changed since the
// last refresh, with its rate when it is a counter that moved.
func (m *Model) value(watch string, f devloop.Field, text string) string {
	k := fieldKey{watch, f.Name}
	if !m.changes.changed[k] {
		return text
	}
	out := m.d.Styles.Changed.Render(text)
	if r, ok := m.changes.rates[k]; ok {
		out += "  " + m.d.Styles.Changed.Render(formatRate(r))
	}
	return out
}
