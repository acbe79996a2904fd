package memview

import (
	"fmt"
	"sort"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/sahilm/fuzzy"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/tui/panel"
)

// browseEntry is one data symbol the browser lists.
type browseEntry struct {
	name    string
	addr    uint64
	size    uint64
	section string
	typ     string
}

// browseEntries are the entries as fuzzy matching reads them.
type browseEntries []browseEntry

func (e browseEntries) String(i int) string { return e[i].name }
func (e browseEntries) Len() int            { return len(e) }

// browseIndex lists every data symbol of t: ranked (RankData's order, the
// program's own first), then the other variables (read-only data, sizeless
// ones) by name. Each carries its type from the DWARF.
func browseIndex(t *devloop.SymbolTable, ranked []devloop.Symbol) []browseEntry {
	seen := make(map[string]bool, len(ranked))
	var rest []devloop.Symbol
	for _, s := range ranked {
		seen[s.Name] = true
	}
	for _, s := range t.Symbols() {
		if s.Kind == devloop.SymObject && !seen[s.Name] {
			seen[s.Name] = true
			rest = append(rest, s)
		}
	}
	sort.SliceStable(rest, func(i, j int) bool { return rest[i].Name < rest[j].Name })
	out := make([]browseEntry, 0, len(ranked)+len(rest))
	for _, s := range append(append([]devloop.Symbol(nil), ranked...), rest...) {
		e := browseEntry{name: s.Name, addr: s.Addr, size: s.Size, section: s.Section}
		if v, err := t.Variable(s.Name); err == nil {
			e.typ = v.Type
			if e.typ == "" && len(v.Fields) > 0 {
				e.typ = v.Fields[0].Type
			}
		}
		out = append(out, e)
	}
	return out
}

// browser is the symbol browser's state: the matches of the prompt's
// text, best first, and the selection among them.
type browser struct {
	matches  []int // indexes into the model's entries
	sel, top int
}

// clamp keeps the selection among the matches and on screen, rows lines
// high.
func (b *browser) clamp(rows int) {
	b.sel = max(0, min(b.sel, len(b.matches)-1))
	if rows <= 0 {
		b.top = 0
		return
	}
	if b.sel < b.top {
		b.top = b.sel
	}
	if b.sel >= b.top+rows {
		b.top = b.sel - rows + 1
	}
	b.top = max(0, min(b.top, len(b.matches)-rows))
}

// openBrowser opens the symbol browser with an empty filter.
func (m *Model) openBrowser() tea.Cmd {
	m.mode, m.notice = modeBrowse, ""
	m.prompt.Prompt = "watch: "
	m.prompt.Placeholder = "type to filter the data symbols"
	m.prompt.SetWidth(max(1, m.width-len(m.prompt.Prompt)-1))
	m.prompt.Reset()
	m.browser = browser{}
	m.filter()
	return m.prompt.Focus()
}

// filter matches the prompt's text against the entries: every entry in
// ranked order when empty, else fuzzy matches best first (an exact name
// before all).
func (m *Model) filter() {
	pattern := m.trimmed()
	b := &m.browser
	b.matches = b.matches[:0]
	if pattern == "" {
		for i := range m.entries {
			b.matches = append(b.matches, i)
		}
	} else {
		exact := -1
		for i, e := range m.entries {
			if e.name == pattern {
				exact = i
				b.matches = append(b.matches, i)
				break
			}
		}
		for _, f := range fuzzy.FindFrom(pattern, browseEntries(m.entries)) {
			if f.Index != exact {
				b.matches = append(b.matches, f.Index)
			}
		}
	}
	b.sel, b.top = 0, 0
	b.clamp(m.browseRows())
}

func (m *Model) updateBrowser(msg tea.KeyPressMsg) tea.Cmd {
	b := &m.browser
	switch {
	case key.Matches(msg, m.keys.Cancel):
		m.closePrompt()
		return nil
	case key.Matches(msg, m.keys.Confirm):
		name := m.trimmed()
		if b.sel < len(b.matches) {
			name = m.entries[b.matches[b.sel]].name
		}
		m.closePrompt()
		return m.add(name)
	case key.Matches(msg, m.keys.PrevMatch):
		b.sel--
		b.clamp(m.browseRows())
		return nil
	case key.Matches(msg, m.keys.NextMatch):
		b.sel++
		b.clamp(m.browseRows())
		return nil
	}
	before := m.prompt.Value()
	var cmd tea.Cmd
	m.prompt, cmd = m.prompt.Update(msg)
	if m.prompt.Value() != before {
		m.filter()
	}
	return cmd
}

// browseRows is how many matches fit below the header and the status
// line.
func (m *Model) browseRows() int {
	return max(0, m.height-len(m.headerLines())-1)
}

// browserLines renders the matches: name, address, size, section, type.
func (m *Model) browserLines(rows int) []string {
	st, b := m.d.Styles, m.browser
	var lines []string
	end := min(len(b.matches), b.top+rows)
	nameW := 8
	for _, i := range b.matches[b.top:end] {
		nameW = max(nameW, ansi.StringWidth(m.entries[i].name))
	}
	nameW = min(nameW, max(12, m.width/3))
	for k, i := range b.matches[b.top:end] {
		e := m.entries[i]
		marker := "  "
		if b.top+k == b.sel {
			marker = "> "
		}
		line := fmt.Sprintf("%s%s  %s %7s  %-8s %s", marker, panel.PadRight(ansi.Truncate(e.name, nameW, "…"), nameW),
			formatAddr(e.addr), formatSize(e.size), ansi.Truncate(e.section, 8, "…"), e.typ)
		if b.top+k == b.sel {
			line = st.Selected.Render(ansi.Truncate(line, m.width, "…"))
		}
		lines = append(lines, line)
	}
	status := fmt.Sprintf("%d of %d data symbols", len(b.matches), len(m.entries))
	switch {
	case m.table == nil:
		status = "no symbols yet"
	case len(b.matches) == 0 && m.trimmed() != "":
		status = "no data symbol matches; enter watches " + fmt.Sprintf("%q", m.trimmed()) + " by name"
	}
	for len(lines) < rows {
		lines = append(lines, "")
	}
	return append(lines, st.Muted.Render(status))
}

// formatAddr renders an address with at least 8 hex digits.
func formatAddr(a uint64) string { return fmt.Sprintf("0x%08x", a) }

// formatSize renders a size in bytes compactly: "16 B", "4 KiB".
func formatSize(n uint64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	return strings.Replace(panel.FormatBytes(float64(n)), ".0 ", " ", 1)
}
