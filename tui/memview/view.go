package memview

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/tui/panel"
)

// View renders exactly width×height cells.
func (m *Model) View() string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	lines := m.headerLines()
	region := m.height - len(lines)
	switch {
	case region <= 0:
	case m.mode == modeBrowse:
		lines = append(lines, m.browserLines(region-1)...)
	case m.hex.open:
		lines = append(lines, m.hexLines(region-1)...)
	default:
		body, _ := m.symbolLines()
		if m.top < len(body) {
			lines = append(lines, body[m.top:min(len(body), m.top+region)]...)
		}
	}
	return panel.FitBox(lines, m.width, m.height)
}

// headerLines are the lines above the symbol list: VM, memory, balloon,
// a Go program's runtime statistics, symbol source, and the prompt or a
// notice.
func (m *Model) headerLines() []string {
	st := m.d.Styles
	var lines []string
	s := m.snap
	switch {
	case m.in == nil || (m.haveSnap && !s.running):
		lines = append(lines, st.Muted.Render("no VM running"))
	case !m.haveSnap:
		lines = append(lines, st.Muted.Render("reading the VM…"))
	default:
		age := m.now.Sub(s.at)
		lines = append(lines, fmt.Sprintf("boot %d · %s · %s", s.info.Boot, s.info.Where(),
			st.Muted.Render("sampled "+formatAge(age)+" ago")))
		lines = append(lines, m.memoryLine(), m.balloonLine())
		if l, ok := m.goLine(); ok {
			lines = append(lines, l)
		}
		lines = append(lines, m.symbolsLine())
	}
	if m.mode == modeBrowse || m.mode == modeGoto {
		lines = append(lines, m.prompt.View())
	} else if m.notice != "" {
		lines = append(lines, st.Error.Render(m.notice))
	}
	return lines
}

// goLine is a Go program's runtime statistics, read from its runtime's
// variables; false when the image is not a Go program.
func (m *Model) goLine() (string, bool) {
	st, s := m.d.Styles, m.snap
	switch {
	case s.goReader == nil:
		return "", false
	case s.goErr != nil:
		return "go runtime: " + st.Error.Render(s.goErr.Error()), true
	case !s.goStats.Known():
		return "go runtime: " + st.Muted.Render("no statistics read"), true
	}
	return "go runtime: " + s.goStats.Line(), true
}

func (m *Model) memoryLine() string {
	st, s := m.d.Styles, m.snap
	ram := panel.FormatBytes(float64(s.ramBytes))
	if s.ramErr != nil {
		ram = st.Error.Render(s.ramErr.Error())
	}
	rss := fmt.Sprintf("%s (peak %s) · %d threads", panel.FormatBytes(float64(s.host.RSSBytes)), panel.FormatBytes(float64(s.host.PeakRSSBytes)), s.host.Threads)
	if s.hostErr != nil {
		rss = st.Error.Render(s.hostErr.Error())
	}
	return "guest RAM " + ram + " · QEMU RSS " + rss
}

func (m *Model) balloonLine() string {
	st, b := m.d.Styles, m.snap.balloon
	switch {
	case b.err != nil && !b.present:
		return "balloon: " + st.Error.Render(b.err.Error())
	case !b.present:
		return "balloon: " + st.Muted.Render("no balloon device")
	}
	line := "balloon: " + panel.FormatBytes(float64(b.actual))
	if b.err != nil {
		return line + " · " + st.Error.Render(b.err.Error())
	}
	if len(b.stats) == 0 {
		return line + " · " + st.Muted.Render("the guest reports no stats")
	}
	for _, stat := range b.stats {
		v := fmt.Sprint(stat.Value)
		if strings.HasSuffix(stat.Name, "memory") || strings.HasSuffix(stat.Name, "caches") {
			v = panel.FormatBytes(float64(stat.Value))
		}
		line += " · " + stat.Name + " " + v
	}
	return line
}

func (m *Model) symbolsLine() string {
	st, s := m.d.Styles, m.snap
	switch {
	case s.tableErr != nil:
		return "symbols: " + st.Error.Render(s.tableErr.Error())
	case m.table == nil:
		return "symbols: " + st.Muted.Render("none (the image names no ELF)")
	case s.info.SymbolSpace == devloop.SpaceNone:
		return "symbols: " + filepath.Base(m.table.Path()) + " · " + st.Muted.Render(errProcessSymbols.Error())
	case len(s.vars) == 0:
		return "symbols: " + filepath.Base(m.table.Path()) + " · " + st.Muted.Render("none watched (a to browse)")
	}
	return fmt.Sprintf("symbols: %s · %d watched", filepath.Base(m.table.Path()), len(s.vars))
}

// symbolLines renders the watched symbols, and where each one's lines
// start (one more entry: the total).
func (m *Model) symbolLines() ([]string, []int) {
	st := m.d.Styles
	vars := m.snap.vars
	if !m.snap.running || m.snap.info.SymbolSpace == devloop.SpaceNone {
		vars = nil
	}
	nameW := 0
	for _, v := range vars {
		nameW = max(nameW, ansi.StringWidth(v.name))
	}
	nameW = min(nameW, 24)
	perLine := 16
	if m.width < 82 { // "    " + a 16-byte line
		perLine = 8
	}
	order := m.byteOrder()

	var lines []string
	starts := make([]int, 0, len(vars)+1)
	for i, v := range vars {
		starts = append(starts, len(lines))
		marker := "  "
		if i == m.sel {
			marker = "> "
		}
		name := panel.PadRight(ansi.Truncate(v.name, nameW, "…"), nameW)
		head := marker + name
		if v.err != nil && v.v.Name == "" {
			head += "  " + st.Error.Render(v.err.Error())
			lines = append(lines, m.selectStyle(i, head))
			continue
		}
		addr := fmt.Sprintf("0x%08x", v.v.Addr)
		if v.virtual {
			addr += " (virt)"
		}
		typ := v.v.Type
		if typ == "" {
			typ = v.v.Fields[0].Type
		}
		head += "  " + st.Muted.Render(addr) + "  " + st.Muted.Render(typ)
		single := len(v.v.Fields) == 1 && v.v.Fields[0].Name == "" && v.v.Fields[0].Encoding != devloop.EncBytes
		switch {
		case v.err != nil:
			lines = append(lines, m.selectStyle(i, head+"  "+st.Error.Render(v.err.Error())))
			continue
		case single:
			f := v.v.Fields[0]
			lines = append(lines, m.selectStyle(i, head+"  "+m.value(v.name, f, formatField(f, v.data, order, m.table))))
			continue
		}
		lines = append(lines, m.selectStyle(i, head+"  "+st.Muted.Render(sizeNote(v))))
		if len(v.v.Fields) == 1 && v.v.Fields[0].Name == "" {
			for _, l := range hexDump(v.phys, v.data, perLine) {
				lines = append(lines, "    "+l)
			}
			continue
		}
		fieldW := 0
		for _, f := range v.v.Fields {
			fieldW = max(fieldW, ansi.StringWidth(f.Name))
		}
		fieldW = min(fieldW, 28)
		for _, f := range v.v.Fields {
			lines = append(lines, fmt.Sprintf("    %s %s  %s", panel.PadRight(ansi.Truncate(f.Name, fieldW, "…"), fieldW),
				st.Muted.Render(fmt.Sprintf("+%-4d", f.Offset)), m.value(v.name, f, formatField(f, v.data, order, m.table))))
		}
		if v.v.Truncated {
			lines = append(lines, st.Muted.Render("    … more members"))
		}
	}
	starts = append(starts, len(lines))
	return lines, starts
}

func (m *Model) selectStyle(i int, line string) string {
	if i == m.sel && m.focused {
		return m.d.Styles.Selected.Render(line)
	}
	return line
}

// byteOrder is the guest's, from the symbols (little-endian x86 when
// unknown).
func (m *Model) byteOrder() binary.ByteOrder {
	if m.table != nil {
		return m.table.ByteOrder()
	}
	return binary.LittleEndian
}

// sizeNote says how big a variable is and how much of it is shown.
func sizeNote(v varValue) string {
	n := fmt.Sprintf("%d B", v.v.Size)
	if got := uint64(len(v.data)); got < v.v.Size {
		n += fmt.Sprintf(" (first %d shown)", got)
	}
	return n
}

// formatAge renders how old the data is: "0.4s", "12s", "3m05s".
func formatAge(d time.Duration) string {
	switch {
	case d < 0:
		return "0.0s"
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	}
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}
