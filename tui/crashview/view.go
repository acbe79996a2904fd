package crashview

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/ukdev/ukdev/logs"
	"github.com/ukdev/ukdev/tui/panel"
)

// row is one line of the view; a row with a file is a location enter
// opens.
type row struct {
	text string
	file string
	line int
}

// target is a row that has a location.
type target struct {
	row  int
	file string
	line int
}

// targets lists the rows that have a location, in order.
func (m *Model) targets() []target {
	var out []target
	for i, r := range m.rows() {
		if r.file != "" {
			out = append(out, target{row: i, file: r.file, line: r.line})
		}
	}
	return out
}

// bodyHeight is the rows the scrolling part shows: all but the headline
// and the status.
func (m *Model) bodyHeight() int {
	if m.status != "" {
		return max(m.height-2, 1)
	}
	return max(m.height-1, 1)
}

// maxTop is the last first row that still fills the view.
func (m *Model) maxTop() int { return max(len(m.rows())-m.bodyHeight(), 0) }

// View implements panel.Panel: the headline, then the rows from top.
func (m *Model) View() string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	lines := []string{m.styles.Error.Render(m.headline())}
	if m.status != "" {
		lines = append(lines, m.styles.Warn.Render(clean(m.status)))
	}
	rows := m.rows()
	t := m.targets()
	selRow := -1
	if m.sel < len(t) {
		selRow = t[m.sel].row
	}
	top := min(m.top, m.maxTop())
	for i := top; i < len(rows) && len(lines) < m.height; i++ {
		text := panel.OneWidth(rows[i].text)
		if i == selRow {
			text = m.styles.Selected.Render(panel.PadRight(ansi.Truncate(ansi.Strip(text), m.width, "…"), m.width))
		}
		lines = append(lines, text)
	}
	return panel.FitBox(lines, m.width, m.height)
}

// headline says how the boot ended: "boot #3 crash: triple fault...".
func (m *Model) headline() string {
	c := m.crash
	s := fmt.Sprintf("boot #%d %s", c.boot, c.reason)
	if c.detail != "" {
		s += ": " + clean(c.detail)
	}
	return s
}

// rows builds the view's lines below the headline.
func (m *Model) rows() []row {
	var rows []row
	add := func(text string) { rows = append(rows, row{text: text}) }
	title := func(text string) {
		if len(rows) > 0 {
			add("")
		}
		add(m.styles.FocusedTitle.Render(text))
	}
	if m.crash.summary != "" {
		for _, l := range m.wrap("report: "+clean(m.crash.summary), 0) {
			add(l)
		}
	}
	s := m.snap
	switch {
	case s == nil && m.loading:
		add(m.styles.Muted.Render("reading the machine…"))
	case s == nil:
	case s.regsErr != nil:
		add(m.styles.Warn.Render("registers: " + clean(s.regsErr.Error())))
	default:
		pc := row{text: fmt.Sprintf("PC %s  %s", m.hex(s.regs.RIP, s.mode), s.pc)}
		if s.pc.fn == "" && s.pc.file == "" {
			pc.text += m.styles.Muted.Render("(in no known function)")
		}
		pc.file, pc.line = s.pc.file, s.pc.line
		rows = append(rows, pc)
		if s.symErr != nil {
			add(m.styles.Muted.Render("symbols: " + clean(s.symErr.Error())))
		}
		title("Registers")
		for _, l := range m.registerLines(s) {
			add(l)
		}
		title("Code")
		if s.codeErr != nil {
			add(m.styles.Warn.Render("  " + clean(s.codeErr.Error())))
		}
		for _, c := range s.code {
			add(m.codeText(c, s.mode))
		}
		title("Stack: words that point into code")
		switch {
		case s.stackErr != nil:
			add(m.styles.Warn.Render("  " + clean(s.stackErr.Error())))
		case len(s.stack) == 0:
			add(m.styles.Muted.Render("  none"))
		}
		for _, w := range s.stack {
			rows = append(rows, row{text: fmt.Sprintf("  sp+%-5s %s  %s", fmt.Sprintf("%#x", w.off), m.hex(w.value, s.mode), w.loc),
				file: w.loc.file, line: w.loc.line})
		}
	}
	if len(m.crash.frames) > 0 {
		title("Report frames")
		for i, f := range m.crash.frames {
			r := row{text: fmt.Sprintf("  #%-2d %s", i, clean(f))}
			if file, line, ok := reportLoc(clean(f)); ok {
				r.file, r.line = file, line
			}
			rows = append(rows, r)
		}
	}
	add("")
	switch {
	case m.dumping:
		add(m.styles.Muted.Render("writing the core file…"))
	case m.coreErr != "":
		for _, l := range m.wrap("core: "+clean(m.coreErr), 0) {
			add(m.styles.Warn.Render(l))
		}
	case m.core != nil:
		add(m.styles.OK.Render("core: ") + m.core.Path)
		for _, l := range m.wrap("gdb: "+m.core.CommandLine(), 5) {
			add(l)
		}
	default:
		add(m.styles.Muted.Render("D writes a core file of the frozen guest for gdb"))
	}
	return rows
}

// registerLines lays the registers out in as many columns as fit.
func (m *Model) registerLines(s *snapshot) []string {
	r := s.regs
	type reg struct {
		name string
		v    uint64
	}
	var regs []reg
	if s.mode == 64 {
		regs = []reg{{"rax", r.RAX}, {"rbx", r.RBX}, {"rcx", r.RCX}, {"rdx", r.RDX},
			{"rsi", r.RSI}, {"rdi", r.RDI}, {"rbp", r.RBP}, {"rsp", r.RSP},
			{"r8", r.R8}, {"r9", r.R9}, {"r10", r.R10}, {"r11", r.R11},
			{"r12", r.R12}, {"r13", r.R13}, {"r14", r.R14}, {"r15", r.R15},
			{"rip", r.RIP}, {"rflags", r.RFLAGS}}
	} else {
		regs = []reg{{"eax", r.RAX}, {"ebx", r.RBX}, {"ecx", r.RCX}, {"edx", r.RDX},
			{"esi", r.RSI}, {"edi", r.RDI}, {"ebp", r.RBP}, {"esp", r.RSP},
			{"eip", r.RIP}, {"eflags", r.RFLAGS}}
	}
	regs = append(regs, reg{"cr0", r.CR0}, reg{"cr2", r.CR2}, reg{"cr3", r.CR3}, reg{"cr4", r.CR4}, reg{"efer", r.EFER})
	cells := make([]string, 0, len(regs)+1)
	for _, g := range regs {
		cells = append(cells, fmt.Sprintf("%-6s %s", g.name, m.hex(g.v, s.mode)))
	}
	state := fmt.Sprintf("%-6s %d", "cpl", r.CPL)
	if r.Halted {
		state += " halted"
	}
	cells = append(cells, state)
	cellW := 0
	for _, c := range cells {
		cellW = max(cellW, len(c))
	}
	cols := max((m.width-2)/(cellW+2), 1)
	var out []string
	for i := 0; i < len(cells); i += cols {
		var b strings.Builder
		b.WriteString(" ")
		for j := i; j < min(i+cols, len(cells)); j++ {
			b.WriteString(" " + panel.PadRight(cells[j], cellW) + " ")
		}
		out = append(out, strings.TrimRight(b.String(), " "))
	}
	return out
}

// codeText renders an instruction, the faulting one marked.
func (m *Model) codeText(c codeLine, mode int) string {
	mark := "   "
	if c.pc {
		mark = " → "
	}
	at := c.at
	if at != "" {
		at = "<" + at + ">"
	}
	text := fmt.Sprintf("%s%s %-18s %s", mark, m.hex(c.addr, mode), at, c.text)
	if c.pc {
		return m.styles.Error.Render(text)
	}
	return text
}

// hex renders a register-sized value: 16 digits in long mode, 8 else.
func (m *Model) hex(v uint64, mode int) string {
	if mode == 64 {
		return fmt.Sprintf("%016x", v)
	}
	return fmt.Sprintf("%08x", v)
}

// wrap wraps s to the view's width, later lines indented by indent.
func (m *Model) wrap(s string, indent int) []string {
	w := max(m.width-indent, 10)
	lines := strings.Split(ansi.Wrap(s, w, " /"), "\n")
	for i := 1; i < len(lines); i++ {
		lines[i] = strings.Repeat(" ", indent) + lines[i]
	}
	return lines
}

// clean makes guest or tool text safe to show: no escapes, one line.
func clean(s string) string {
	return strings.ReplaceAll(logs.Sanitize(s, false), "\n", " ")
}
