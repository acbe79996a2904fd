package console

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// View renders exactly width×height cells: the rows from the top visible
// row down, each padded to the width. It costs O(visible rows): only lines
// on screen are wrapped, and their rows are cached.
func (m *Model) View() string {
	if m.height <= 0 {
		return ""
	}
	rows := make([]string, 0, m.height)
	if m.sb.empty() {
		rows = append(rows, m.fit(m.deps.Styles.Muted.Render("waiting for the guest's console output…")))
	} else {
		lo := m.layout()
		p := m.topPos()
		for len(rows) < m.height && p.seq <= m.sb.last() {
			l := m.sb.at(p.seq)
			switch {
			case l.kind == markerLine:
				rows = append(rows, m.marker(l.text))
			case m.wrap:
				rs := lo.rows(p.seq)
				for r := p.row; r < len(rs) && len(rows) < m.height; r++ {
					rows = append(rows, m.fit(rs[r]))
				}
			default:
				rows = append(rows, m.fit(closeSGR(ansi.Cut(l.text, m.xoff, m.xoff+m.width))))
			}
			p = pos{seq: p.seq + 1}
		}
	}
	blank := strings.Repeat(" ", m.width)
	for len(rows) < m.height {
		rows = append(rows, blank)
	}
	return strings.Join(rows, "\n")
}

// fit truncates or pads s to exactly the width.
func (m *Model) fit(s string) string {
	w := ansi.StringWidth(s)
	if w > m.width {
		s = closeSGR(ansi.Truncate(s, m.width, ""))
		w = ansi.StringWidth(s)
	}
	return s + strings.Repeat(" ", m.width-w)
}

// marker renders a separator row: "── boot 7 · build 7 · 12:03:11 ────…".
func (m *Model) marker(text string) string {
	s := "── " + text + " "
	if fill := m.width - ansi.StringWidth(s); fill > 0 {
		s += strings.Repeat("─", fill)
	}
	return m.fit(m.deps.Styles.Separator.Render(ansi.Truncate(s, m.width, "")))
}
