package tui

import (
	"fmt"
	"sort"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/ukdev/ukdev/tui/panel"
)

// View renders the whole screen: the status bar, the panels (or the help
// overlay) and the footer, exactly the terminal's size.
func (m Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion
	v.WindowTitle = "ukdev · " + m.status.project
	return v
}

// render is the screen as text, one line per terminal row.
func (m Model) render() string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	if m.tooSmall() {
		msg := fmt.Sprintf("terminal too small: %d×%d\nukdev needs at least %d×%d\n\nq quits", m.width, m.height, minWidth, minHeight)
		return strings.Join(fitLines(lipgloss.Place(m.width, m.height, lipgloss.Center, lipgloss.Center, msg), m.width, m.height), "\n")
	}
	lines := make([]string, 0, m.height)
	lines = append(lines, m.statusLines()...)
	body := m.body()
	switch {
	case m.showHelp:
		lines = append(lines, m.helpLines(body)...)
	case m.deploy.Active():
		lines = append(lines, m.deployLines(body)...)
	case m.crash.Active():
		lines = append(lines, m.crashLines(body)...)
	default:
		lines = append(lines, m.bodyLines(body)...)
	}
	lines = append(lines, m.footerLine())
	return strings.Join(lines, "\n")
}

// statusLines renders the status bar: one line on wide terminals, two
// (the VM, then the loop) on narrow ones.
func (m Model) statusLines() []string {
	vm, loop := m.status.segments(m.deps.Now())
	if m.drawn == nil {
		return m.drawStatus(vm, loop)
	}
	// The key holds what drawStatus reads besides the segments.
	var key strings.Builder
	fmt.Fprintf(&key, "%d %d %t %t %t %t %t\x00", m.width, m.statusHeight(), m.status.vm == vmCrashed,
		m.status.health == healthFailing, m.status.hasBuild, m.status.buildOK, m.status.building == 0)
	for _, s := range vm {
		key.WriteString(s + "\x00")
	}
	key.WriteString("\x01")
	for _, s := range loop {
		key.WriteString(s + "\x00")
	}
	return m.drawn.status.cached(key.String(), func() []string { return m.drawStatus(vm, loop) })
}

// drawStatus renders the status bar from its segments.
func (m Model) drawStatus(vm, loop []string) []string {
	bar := m.styles.StatusBar
	sep := bar.Render(" │ ")
	emphasis := func(seg string, i int, first bool) string {
		st := bar
		switch {
		case first && i == 1 && m.status.vm == vmCrashed:
			st = bar.Inherit(m.styles.Error)
		case first && i == len(vm)-1 && m.status.health == healthFailing:
			// The health segment comes last.
			st = bar.Inherit(m.styles.Error)
		case !first && i == 0 && m.status.hasBuild && !m.status.buildOK && m.status.building == 0:
			st = bar.Inherit(m.styles.Error)
		case first && i == 0:
			st = bar.Inherit(m.styles.StatusKey)
		}
		return st.Render(seg)
	}
	join := func(segs []string, first bool) string {
		parts := make([]string, len(segs))
		for i, s := range segs {
			parts[i] = emphasis(s, i, first)
		}
		return strings.Join(parts, sep)
	}
	lead := bar.Render(" ")
	var out []string
	if m.statusHeight() == 1 {
		out = []string{lead + join(vm, true) + sep + join(loop, false)}
	} else {
		out = []string{lead + join(vm, true), lead + join(loop, false)}
	}
	for i, l := range out {
		out[i] = fitLine(l, m.width, bar)
	}
	return out
}

// bodyLines composes the panels' frames into the body's rows.
func (m Model) bodyLines(body rect) []string {
	type block struct {
		r     rect
		lines []string
	}
	var blocks []block
	for i, r := range m.frames {
		if !r.empty() {
			blocks = append(blocks, block{r, m.frame(i, r)})
		}
	}
	sort.Slice(blocks, func(a, b int) bool { return blocks[a].r.x < blocks[b].r.x })
	out := make([]string, 0, body.h)
	for y := body.y; y < body.y+body.h; y++ {
		var row strings.Builder
		for _, b := range blocks {
			if y >= b.r.y && y < b.r.y+b.r.h {
				row.WriteString(b.lines[y-b.r.y])
			}
		}
		out = append(out, row.String())
	}
	return out
}

// frame draws panel i in r: a border with the panel's number and title in
// the top edge, thick and highlighted when focused. A frame of height 1 is
// the title line alone.
// The frame is drawn again only when the panel's view, title, place or
// focus changed since it was last drawn.
func (m Model) frame(i int, r rect) []string {
	title, hint := m.frameTitle(i, r)
	var view string
	if r.h > 1 {
		view = m.panels[i].View()
	}
	key := drawnFrame{r: r, focused: i == m.focus, title: title, hint: hint, view: view}
	return m.drawn.frameLines(i, key, func() []string { return m.drawFrame(i, r, title, hint, view) })
}

// drawFrame draws panel i's frame in r around view.
func (m Model) drawFrame(i int, r rect, title, hint, view string) []string {
	bs, ts := m.styles.Border, m.styles.Title
	if i == m.focus {
		bs, ts = m.styles.FocusBorder, m.styles.FocusedTitle
	}
	b := bs.GetBorderStyle()
	paint := lipgloss.NewStyle().Foreground(bs.GetBorderTopForeground())
	inner := r.w - 2
	top := paint.Render(b.TopLeft+b.Top) + ts.Render(title)
	used := 1 + ansi.StringWidth(title)
	if hint != "" {
		top += paint.Render(b.Top) + m.styles.Muted.Render(hint)
		used += 1 + ansi.StringWidth(hint)
	}
	fill := max(inner-used, 0)
	lines := make([]string, 0, r.h)
	lines = append(lines, top+paint.Render(strings.Repeat(b.Top, fill)+b.TopRight))
	if r.h == 1 {
		return lines
	}
	left, right := paint.Render(b.Left), paint.Render(b.Right)
	for _, l := range fitLines(view, inner, r.h-2) {
		lines = append(lines, left+l+right)
	}
	return append(lines, paint.Render(b.BottomLeft+strings.Repeat(b.Bottom, inner)+b.BottomRight))
}

// frameTitle returns the title in panel i's top border, r wide, and for
// the metrics and VMs panels the name of the other tab that shares their
// place, when there is room for it after the title ("" when not).
func (m Model) frameTitle(i int, r rect) (title, hint string) {
	inner := r.w - 2
	title = fmt.Sprintf(" %d %s ", i+1, panel.OneWidth(ansi.Strip(m.panels[i].Title())))
	title = ansi.Truncate(title, max(inner-2, 0), "… ")
	if mate, ok := tabMate(i); ok {
		hint = fmt.Sprintf(" %d %s ", mate+1, tabNames[mate])
		if 1+ansi.StringWidth(title)+1+ansi.StringWidth(hint) >= inner {
			hint = ""
		}
	}
	return title, hint
}

// onTabHint reports whether (x, y) is on the other tab's name in panel
// i's border, and which panel that names.
func (m Model) onTabHint(i, x, y int) (int, bool) {
	r := m.frames[i]
	title, hint := m.frameTitle(i, r)
	if hint == "" || y != r.y {
		return 0, false
	}
	start := r.x + 2 + ansi.StringWidth(title) + 1
	if x < start || x >= start+ansi.StringWidth(hint) {
		return 0, false
	}
	mate, _ := tabMate(i)
	return mate, true
}

// helpLines renders the full help over the body: the global keys and the
// focused panel's own.
func (m Model) helpLines(body rect) []string {
	global := m.activeKeys().FullHelp()
	columns := []struct {
		title    string
		bindings []key.Binding
	}{
		{"dashboard", global[0]},
		{"VM and loop", global[1]},
	}
	if kb := m.panels[m.focus].KeyBindings(); len(kb) > 0 {
		columns = append(columns, struct {
			title    string
			bindings []key.Binding
		}{ansi.Strip(m.panels[m.focus].Title()), kb})
	}
	var rendered []string
	for i, c := range columns {
		col := m.styles.FocusedTitle.Render(c.title) + "\n" + m.help.FullHelpView([][]key.Binding{c.bindings})
		if i > 0 {
			col = lipgloss.NewStyle().PaddingLeft(4).Render(col)
		}
		rendered = append(rendered, col)
	}
	content := "keys — ? or esc closes\n\n" + lipgloss.JoinHorizontal(lipgloss.Top, rendered...)
	box := m.styles.FocusBorder.Padding(0, 1).Render(content)
	return fitLines(lipgloss.Place(body.w, body.h, lipgloss.Center, lipgloss.Center, box), body.w, body.h)
}

// deployFrame is the size of the deploy view's frame in body: most of it,
// up to 80×24.
func deployFrame(body rect) (w, h int) {
	return min(body.w-2, 80), min(body.h, 24)
}

// deployLines renders the deploy view, framed and titled, over the body.
func (m Model) deployLines(body rect) []string {
	w, h := deployFrame(body)
	return m.overlayLines(body, w, h, m.deploy)
}

// crashFrame is the size of the crash view's frame in body: all of it,
// for the registers and code.
func crashFrame(body rect) (w, h int) {
	return body.w, body.h
}

// crashLines renders the crash view, framed and titled, over the body.
func (m Model) crashLines(body rect) []string {
	w, h := crashFrame(body)
	return m.overlayLines(body, w, h, m.crash)
}

// overlayLines renders p in a w×h frame with its title, centred over
// the body.
func (m Model) overlayLines(body rect, w, h int, p panel.Panel) []string {
	b := m.styles.FocusBorder.GetBorderStyle()
	paint := lipgloss.NewStyle().Foreground(m.styles.FocusBorder.GetBorderTopForeground())
	inner := w - 2
	title := ansi.Truncate(" "+panel.OneWidth(ansi.Strip(p.Title()))+" ", max(inner-2, 0), "… ")
	box := make([]string, 0, h)
	box = append(box, paint.Render(b.TopLeft+b.Top)+m.styles.FocusedTitle.Render(title)+paint.Render(strings.Repeat(b.Top, max(inner-1-ansi.StringWidth(title), 0))+b.TopRight))
	for _, l := range fitLines(p.View(), inner-2, h-2) {
		box = append(box, paint.Render(b.Left)+" "+l+" "+paint.Render(b.Right))
	}
	box = append(box, paint.Render(b.BottomLeft+strings.Repeat(b.Bottom, inner)+b.BottomRight))
	return fitLines(lipgloss.Place(body.w, body.h, lipgloss.Center, lipgloss.Center, strings.Join(box, "\n")), body.w, body.h)
}

// footerLine is the short help: the main global keys and the focused
// panel's, or only the panel's while it captures the keyboard.
func (m Model) footerLine() string {
	if m.status.stopping {
		return fitLine(m.styles.Footer.Render(" stopping the VM… q again quits at once"), m.width, m.styles.Footer)
	}
	var p panel.Panel = m.panels[m.focus]
	switch {
	case m.deploy.Active():
		p = m.deploy
	case m.crash.Active():
		p = m.crash
	}
	var bindings []key.Binding
	if !p.Capturing() {
		bindings = m.activeKeys().ShortHelp()
	}
	bindings = append(bindings, p.KeyBindings()...)
	draw := func() []string {
		h := m.help
		h.SetWidth(m.width - 1)
		return []string{fitLine(" "+h.ShortHelpView(bindings), m.width, m.styles.Footer)}
	}
	if m.drawn == nil {
		return draw()[0]
	}
	return m.drawn.footer.cached(fmt.Sprintf("%d\x00", m.width)+bindingsKey(bindings), draw)[0]
}

// fitLines makes s exactly w cells wide and h lines high: long lines are
// cut, short ones padded, missing lines added blank.
func fitLines(s string, w, h int) []string {
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	for i, l := range lines {
		lines[i] = fitLine(l, w, lipgloss.NewStyle())
	}
	return lines
}

// fitLine makes one line exactly w cells wide; pad renders the padding.
// A line carrying escapes ends with a reset so its styles do not bleed
// into the border beside it. Characters the renderer would count
// differently from lipgloss are replaced first (panel.OneWidth), so the
// line is w cells wide for the terminal too.
func fitLine(l string, w int, pad lipgloss.Style) string {
	l = panel.OneWidth(l)
	if ansi.StringWidth(l) > w {
		l = ansi.Truncate(l, w, "")
	}
	if strings.Contains(l, "\x1b") {
		l += ansi.ResetStyle
	}
	if n := w - ansi.StringWidth(l); n > 0 {
		l += pad.Render(strings.Repeat(" ", n))
	}
	return l
}
