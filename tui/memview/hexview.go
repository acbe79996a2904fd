package memview

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/symbols"
	"github.com/ukdev/ukdev/tui/panel"
)

// maxHexRead bounds the hex view's one read per refresh.
const maxHexRead = 4096

// hexPos is where the hex view looks.
type hexPos struct {
	// addr is the first byte shown, a multiple of the bytes per line.
	addr uint64
	// cursor is the word under the cursor, aligned to the pointer size.
	cursor  uint64
	virtual bool
	// delta maps an address shown to the symbols' addresses (virtual -
	// physical, for a physical view opened at a symbol).
	delta uint64
}

// hexRequest is the read a refresh does for the hex view.
type hexRequest struct {
	addr, size uint64
	virtual    bool
}

// hexResult is that read's outcome.
type hexResult struct {
	req  hexRequest
	data []byte
	err  error
}

// hexView is the hex view's state.
type hexView struct {
	open bool
	pos  hexPos
	back []hexPos
	// have is the last read; changed marks the bytes that differ from
	// the read before it at the same place.
	have    hexResult
	changed []bool
}

// resetData forgets what was read (another ELF, another boot).
func (h *hexView) resetData() { h.have, h.changed = hexResult{}, nil }

// apply takes in the refresh's read.
func (h *hexView) apply(r hexResult) {
	if r.req.size == 0 {
		return
	}
	old := h.have
	h.have, h.changed = r, nil
	if r.err != nil || old.err != nil || old.req.addr != r.req.addr || old.req.virtual != r.req.virtual {
		return
	}
	h.changed = make([]bool, len(r.data))
	for i := range min(len(r.data), len(old.data)) {
		h.changed[i] = r.data[i] != old.data[i]
	}
}

// where names the position in the title: "0x00102000 phys".
func (h *hexView) where() string {
	space := "phys"
	if h.pos.virtual {
		space = "virt"
	}
	return formatAddr(h.pos.addr) + " " + space
}

// readHex does the hex view's read, when it is open.
func readHex(ctx context.Context, in panel.Inspector, space string, req hexRequest) hexResult {
	if req.size == 0 {
		return hexResult{}
	}
	if space == devloop.SpaceNone {
		return hexResult{req: req, err: errProcessSymbols}
	}
	data, err := readGuest(ctx, in, req.addr, req.size, req.virtual)
	return hexResult{req: req, data: data, err: err}
}

// hexPerLine is how many bytes a line shows at this width.
func (m *Model) hexPerLine() uint64 {
	if m.width >= 100 {
		return 16
	}
	return 8
}

// hexRows is how many lines of bytes fit below the header and the hex
// view's status line.
func (m *Model) hexRows() int { return max(1, m.height-len(m.headerLines())-1) }

// hexRequest is the read the next refresh does: the lines on screen.
func (m *Model) hexRequest() hexRequest {
	if !m.hex.open {
		return hexRequest{}
	}
	size := min(uint64(m.hexRows())*m.hexPerLine(), maxHexRead)
	return hexRequest{addr: m.hex.pos.addr, size: size, virtual: m.hex.pos.virtual}
}

// ptrSize is the guest's pointer size (8 when no symbols say).
func (m *Model) ptrSize() uint64 {
	if m.table != nil {
		return uint64(m.table.PointerSize())
	}
	return 8
}

// openHex shows addr, pushing where the view was on the back stack.
func (m *Model) openHex(p hexPos) tea.Cmd {
	if m.hex.open {
		m.hex.back = append(m.hex.back, m.hex.pos)
		if len(m.hex.back) > 64 {
			m.hex.back = m.hex.back[1:]
		}
	}
	line := m.hexPerLine()
	p.cursor &^= m.ptrSize() - 1
	p.addr = p.cursor &^ (line - 1)
	m.hex.open, m.hex.pos, m.mode, m.notice = true, p, modeHex, ""
	return m.refresh()
}

// symbolPos is where a variable at addr is read: as readVariables reads
// it (physical through the ELF's segments unless the flavor says
// virtual).
func (m *Model) symbolPos(addr uint64) hexPos {
	space := m.snap.info.SymbolSpace
	if m.table != nil && space != devloop.SpaceVirtual {
		if p, ok := m.table.PhysAddr(addr); ok {
			return hexPos{cursor: p, delta: addr - p}
		}
	}
	return hexPos{cursor: addr, virtual: true}
}

// pointerPos is where a pointer's value leads: a virtual address, read
// through the vCPU's page tables (identity-mapped kernels map it to the
// same physical one).
func (m *Model) pointerPos(addr uint64) hexPos { return hexPos{cursor: addr, virtual: true} }

// openSelected opens the hex view at the selected watch, or where it
// points when it is a pointer.
func (m *Model) openSelected() tea.Cmd {
	vars := m.snap.vars
	if m.sel < 0 || m.sel >= len(vars) || vars[m.sel].v.Name == "" {
		return nil
	}
	v := vars[m.sel]
	if len(v.v.Fields) == 1 && v.v.Fields[0].Encoding == devloop.EncPointer {
		if p, ok := symbols.ReadUint(v.data, m.byteOrder()); ok && len(v.data) == int(v.v.Fields[0].Size) {
			return m.openHex(m.pointerPos(p))
		}
	}
	if v.virtual {
		return m.openHex(hexPos{cursor: v.v.Addr, virtual: true})
	}
	return m.openHex(m.symbolPos(v.v.Addr))
}

// openGoto opens the address prompt.
func (m *Model) openGoto() tea.Cmd {
	m.mode, m.notice = modeGoto, ""
	m.prompt.Prompt = "go to: "
	m.prompt.Placeholder = "0xaddress, symbol or symbol+offset"
	m.prompt.SetWidth(max(1, m.width-len(m.prompt.Prompt)-1))
	m.prompt.Reset()
	return m.prompt.Focus()
}

func (m *Model) updateGoto(msg tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(msg, m.keys.Cancel):
		m.closePrompt()
		return nil
	case key.Matches(msg, m.keys.Confirm):
		text := m.trimmed()
		m.closePrompt()
		if text == "" {
			return nil
		}
		p, err := m.parseTarget(text)
		if err != nil {
			m.notice = err.Error()
			return nil
		}
		return m.openHex(p)
	}
	var cmd tea.Cmd
	m.prompt, cmd = m.prompt.Update(msg)
	return cmd
}

// errTarget says an address typed at the prompt is not one.
var errTarget = errors.New("memview: not an address")

// parseTarget reads "0x1000", "ticks", "stats+0x10", "stats+16" or a bare
// hex number into a position.
func (m *Model) parseTarget(s string) (hexPos, error) {
	base, offText, hasOff := strings.Cut(s, "+")
	base = strings.TrimSpace(base)
	var off uint64
	if hasOff {
		var err error
		if off, err = strconv.ParseUint(strings.TrimSpace(offText), 0, 64); err != nil {
			return hexPos{}, fmt.Errorf("%w: offset %q", errTarget, offText)
		}
	}
	if strings.HasPrefix(base, "0x") || strings.HasPrefix(base, "0X") {
		a, err := strconv.ParseUint(base[2:], 16, 64)
		if err != nil {
			return hexPos{}, fmt.Errorf("%w: %q", errTarget, base)
		}
		return m.pointerPos(a + off), nil
	}
	if m.table != nil {
		if sym, ok := m.table.Lookup(base); ok {
			p := m.symbolPos(sym.Addr + off)
			return p, nil
		}
	}
	if a, err := strconv.ParseUint(base, 16, 64); err == nil {
		return m.pointerPos(a + off), nil
	}
	return hexPos{}, fmt.Errorf("%w: no symbol %q", errTarget, base)
}

func (m *Model) updateHex(msg tea.KeyPressMsg) tea.Cmd {
	k, h := m.keys, &m.hex
	line, word := m.hexPerLine(), m.ptrSize()
	page := uint64(m.hexRows()) * line
	switch {
	case key.Matches(msg, k.Close):
		h.open, h.back, m.mode = false, nil, modeList
		h.resetData()
		return nil
	case key.Matches(msg, k.Goto):
		return m.openGoto()
	case key.Matches(msg, k.Back):
		if n := len(h.back); n > 0 {
			h.pos, h.back = h.back[n-1], h.back[:n-1]
			return m.refresh()
		}
		return nil
	case key.Matches(msg, k.Follow):
		p, ok := m.wordAt(h.pos.cursor)
		if !ok {
			m.notice = "no value under the cursor (not read yet)"
			return nil
		}
		return m.openHex(m.pointerPos(p))
	case key.Matches(msg, k.Space):
		h.pos.virtual, h.pos.delta = !h.pos.virtual, 0
		h.resetData()
		return m.refresh()
	case key.Matches(msg, k.HexUp):
		return m.moveCursor(-int64(line), page)
	case key.Matches(msg, k.HexDown):
		return m.moveCursor(int64(line), page)
	case key.Matches(msg, k.Left):
		return m.moveCursor(-int64(word), page)
	case key.Matches(msg, k.Right):
		return m.moveCursor(int64(word), page)
	case key.Matches(msg, k.PageUp):
		if h.pos.addr < page {
			return nil
		}
		h.pos.addr -= page
		h.pos.cursor -= page
		return m.refresh()
	case key.Matches(msg, k.PageDown):
		h.pos.addr += page
		h.pos.cursor += page
		return m.refresh()
	}
	return nil
}

// moveCursor moves the cursor by delta bytes, scrolling the view a line
// when it leaves it.
func (m *Model) moveCursor(delta int64, page uint64) tea.Cmd {
	h := &m.hex
	c := h.pos.cursor + uint64(delta)
	if delta < 0 && h.pos.cursor < uint64(-delta) {
		return nil
	}
	h.pos.cursor = c
	line := m.hexPerLine()
	switch {
	case c < h.pos.addr:
		h.pos.addr = c &^ (line - 1)
		return m.refresh()
	case c >= h.pos.addr+page:
		h.pos.addr = (c &^ (line - 1)) - page + line
		return m.refresh()
	}
	return nil
}

// wordAt reads the pointer-sized word at addr from the last read, if it
// holds it.
func (m *Model) wordAt(addr uint64) (uint64, bool) {
	r := m.hex.have
	if r.err != nil || r.req.virtual != m.hex.pos.virtual || addr < r.req.addr {
		return 0, false
	}
	off, n := addr-r.req.addr, m.ptrSize()
	if off+n > uint64(len(r.data)) {
		return 0, false
	}
	return symbols.ReadUint(r.data[off:off+n], m.byteOrder())
}

// describe names the symbol that covers the symbol address a ("stats+0x8"),
// "" when none does.
func (m *Model) describe(a uint64) string {
	if m.table == nil {
		return ""
	}
	syms := m.table.Symbols()
	n := sort.Search(len(syms), func(i int) bool { return syms[i].Addr > a })
	for i := n - 1; i >= 0 && i >= n-32; i-- {
		s := syms[i]
		if s.Size == 0 || a >= s.Addr+s.Size {
			continue
		}
		if a == s.Addr {
			return s.Name
		}
		return fmt.Sprintf("%s+0x%x", s.Name, a-s.Addr)
	}
	return ""
}

// maxLineSymbols bounds the symbols named beside one hex line.
const maxLineSymbols = 3

// lineSymbols names what covers the line of n bytes at the symbol address
// a: the symbol its first byte is in, then those that start on it
// ("counters+0xc, balance").
func (m *Model) lineSymbols(a, n uint64) string {
	names := []string{}
	if d := m.describe(a); d != "" {
		names = append(names, d)
	}
	if m.table != nil {
		syms := m.table.Symbols()
		i := sort.Search(len(syms), func(i int) bool { return syms[i].Addr > a })
		for ; i < len(syms) && syms[i].Addr < a+n && len(names) < maxLineSymbols; i++ {
			if syms[i].Size > 0 && (len(names) == 0 || !strings.HasPrefix(names[len(names)-1], syms[i].Name)) {
				names = append(names, syms[i].Name)
			}
		}
	}
	return strings.Join(names, ", ")
}

// hexLines renders the hex view: a status line, then the bytes, a line
// each with the symbol that covers its first byte.
func (m *Model) hexLines(rows int) []string {
	st, h := m.d.Styles, &m.hex
	line := m.hexPerLine()
	r := h.have
	fresh := r.req.size > 0 && r.req.addr == h.pos.addr && r.req.virtual == h.pos.virtual
	status := h.where() + " · cursor " + formatAddr(h.pos.cursor)
	if v, ok := m.wordAt(h.pos.cursor); ok && fresh {
		status += fmt.Sprintf(" = 0x%0*x", m.ptrSize()*2, v)
		if d := m.describe(v); d != "" {
			status += " → " + d
		}
	}
	lines := []string{status}
	switch {
	case m.haveSnap && !m.snap.running:
		lines = append(lines, st.Muted.Render("nothing to read: no VM running"))
		return lines
	case !fresh:
		lines = append(lines, st.Muted.Render("reading…"))
		return lines
	case r.err != nil:
		lines = append(lines, st.Error.Render(r.err.Error()))
		return lines
	}
	digits := 8
	if h.pos.addr+uint64(rows)*line > 1<<32 {
		digits = 16
	}
	for row := range rows {
		start := uint64(row) * line
		if start >= uint64(len(r.data)) {
			break
		}
		addr := h.pos.addr + start
		var sb strings.Builder
		fmt.Fprintf(&sb, "%0*x ", digits, addr)
		for i := range line {
			off := start + i
			if off >= uint64(len(r.data)) {
				sb.WriteString("   ")
				continue
			}
			cell := fmt.Sprintf("%02x", r.data[off])
			a := addr + i
			switch {
			case m.focused && a >= h.pos.cursor && a < h.pos.cursor+m.ptrSize():
				cell = st.Selected.Render(cell)
			case int(off) < len(h.changed) && h.changed[off]:
				cell = st.Changed.Render(cell)
			}
			sb.WriteString(" " + cell)
		}
		end := min(start+line, uint64(len(r.data)))
		sb.WriteString("  |" + symbols.Printable(r.data[start:end]) + "|")
		if d := m.lineSymbols(addr+h.pos.delta, line); d != "" {
			sb.WriteString("  " + st.Muted.Render(d))
		}
		lines = append(lines, sb.String())
	}
	return lines
}
