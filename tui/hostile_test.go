package tui

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/logs"
	"github.com/ukdev/ukdev/tui/panel"
	"github.com/ukdev/ukdev/tui/panel/paneltest"
)

// hostileLines are guest console and build output lines that try to drive
// the host terminal: clear it, move the cursor, set the clipboard or the
// title, query it, leave the alternate screen, open hyperlinks, ring it,
// or rewrite what is already shown.
var hostileLines = []string{
	// The first line is every boot's banner, the line that tells the
	// status bar the guest runs.
	"\x1b]52;c;aGVsbG8=\x07\x1b[2J\x1b[Hbanner \x1b]0;pwned\x07hello from ukdev\x1b[6n\x1b[?1049l",
	"clip \x1b]52;c;aGVsbG8=\x07 board",
	"clear \x1b[2J screen",
	"home \x1b[H cursor",
	"title \x1b]0;pwned title\x07 set",
	"query \x1b[6n position",
	"leave \x1b[?1049l alt screen",
	"move \x1b[10;10H cursor",
	"dcs \x1bPq#0;2;0;0;0#1;2;100;100;0~-\x1b\\ sixel",
	"hyper \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\ text",
	"c1 csi \x9b2J raw byte and \u009b2J encoded",
	"bell \x07\x07\x07 rings",
	"back\b\b\b\bspace over\b\b\b\b",
	"progress 10%\rprogress 100%\r\n",
	"colour \x1b[31;1mred\x1b[4:3m curly \x1b[38;2;1;2;3m never reset",
	"broken \x1b[31 sequence and a lone \x1b",
	"osc string never ended \x1b]0;title forever",
	"main.c:3:1: error: \x1b]52;c;aGVsbG8=\x07 \x1b[2J in a location",
	strings.Repeat("long \x1b[2J\x1b]0;t\x07line ", 400),
	strings.Repeat("界", 3000) + " \x1b[H wide",
	"\x1b[32m" + strings.Repeat("green ", 1000),
	"bidi if admin\u202e }\u2066 \u202b{ \u2067isolate\u2069\u200f\u061c \u200e",
	// Characters whose width terminals disagree about: emoji sequences
	// joined by ZWJ, with variation selectors, skin tones and tags,
	// conjoining jamo; and marks and zero-width characters that take no
	// cell of their own.
	"emoji 👨\u200d👩\u200d👧\u200d👦 family 👩\u200d💻 coder 🏳\ufe0f\u200d🌈 flag ❤\ufe0f ✔\ufe0f 1\ufe0f\u20e3 👍🏽 🇺🇸",
	"zwj " + strings.Repeat("👩\u200d💻", 100),
	"marks e\u0301\u0302\u0303 " + strings.Repeat("Z\u0335\u0321\u0322a\u0308", 60),
	"zero a\u200bb\u200cc\u200dd\u2060e\ufefff\u00adg \u180e" + strings.Repeat("\u200b", 200),
	"tags 🏴\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F x\U000E0041\U000E0042 " + strings.Repeat("🏴\U000E0067\U000E0062\U000E007F", 50),
	"jamo \u1100\u1161\u11a8 " + strings.Repeat("\u1100\u1161\u11a8", 60),
	"vs16 " + strings.Repeat("❤\ufe0f", 80),
}

// marker is the start of what a hostile line shows: its first word once
// sanitised, at most four characters.
func marker(line string) string {
	f := strings.Fields(logs.Sanitize(line, false))
	if len(f) == 0 {
		return ""
	}
	return string([]rune(f[0])[:min(4, utf8.RuneCountInString(f[0]))])
}

// harmlessLine stands in for hostile line i in the reference session: the
// same events with plain text.
func harmlessLine(i int) string { return fmt.Sprintf("harmless line %d", i) }

// hostileSession is a dev session whose guest and build print the given
// lines: every boot's first console line (its banner) is line 0, every
// build prints them all, the last build fails. Each event is its own
// batch so the screen is checked after each.
func hostileSession(lines []string) []panel.EventsMsg {
	at := func(sec int) time.Time { return pinnedNow.Add(time.Duration(sec-30) * time.Second) }
	ok, failed := true, false
	exit0, exit2 := 0, 2
	ms := func(v float64) *float64 { return &v }
	var events []devloop.Event
	add := func(e devloop.Event) { events = append(events, e) }
	build := func(sec, n int, pass bool) {
		add(devloop.Event{Time: at(sec), Type: devloop.TypeBuildStart, Build: n, Command: "make", Message: fmt.Sprintf("build #%d: make", n)})
		for _, l := range lines {
			add(devloop.Event{Time: at(sec), Type: devloop.TypeBuildOutput, Build: n, Stream: "stderr", Line: l, Message: l})
		}
		done := devloop.Event{Time: at(sec + 1), Type: devloop.TypeBuildDone, Build: n, OK: &ok, ExitCode: &exit0, DurationMS: ms(900), Message: fmt.Sprintf("build #%d ok", n)}
		if !pass {
			done.OK, done.ExitCode, done.Message = &failed, &exit2, fmt.Sprintf("build #%d failed (exit 2)", n)
		}
		add(done)
	}
	boot := func(sec, n int) {
		add(devloop.Event{Time: at(sec), Type: devloop.TypeImageReady, Build: n, DurationMS: ms(3), Message: "image ready"})
		add(devloop.Event{Time: at(sec), Type: devloop.TypeVMStart, Boot: n, Build: n, Accel: "tcg", Machine: "microvm", PID: 4000 + n, Message: fmt.Sprintf("boot #%d", n)})
		if n > 1 {
			add(devloop.Event{Time: at(sec), Type: devloop.TypeVMExit, Boot: n - 1, Build: n - 1, Reason: "killed", Message: "ended: killed"})
			add(devloop.Event{Time: at(sec), Type: devloop.TypeReload, Boot: n, Build: n, Timing: &devloop.Timing{TotalMS: 1500}, Message: "save → running"})
		}
		for _, l := range lines { // line 0 is the banner, the boot's first line
			add(devloop.Event{Time: at(sec + 1), Type: devloop.TypeVMConsole, Boot: n, Build: n, Line: l, Message: l})
		}
	}
	add(devloop.Event{Time: at(0), Type: devloop.TypeStart, Message: "project hello (elf)"})
	add(devloop.Event{Time: at(0), Type: devloop.TypeAccel, Accel: "tcg", Detail: "no /dev/kvm — using TCG", Message: "accel tcg"})
	build(0, 1, true)
	boot(2, 1)
	build(10, 2, true)
	boot(12, 2)
	build(20, 3, false)

	out := make([]panel.EventsMsg, len(events))
	for i, e := range events {
		out[i] = panel.EventsMsg{e}
	}
	return out
}

// TestTUIHostileGuest feeds a session whose guest console and build output
// are full of escape sequences and controls, beside the same session with
// harmless lines, and checks every screen on the way: exactly the terminal's
// size, no control but newlines and (with colour) SGR sequences, and the
// status bar, the footer and every panel border identical to the harmless
// session's, so the guest changed nothing outside its panels. It checks
// again under the help overlay, with the console, logs and build panels
// focused, maximised and scrolled (the console also unwrapped and scrolled
// right), and with the memory and metrics panels focused.
func TestTUIHostileGuest(t *testing.T) {
	harmless := make([]string, len(hostileLines))
	for i := range harmless {
		harmless[i] = harmlessLine(i)
	}
	keys := []string{
		"?", "esc", // the help overlay over the console
		"1", "f", "home", "z", "l", "l", "l", "G", "z", "f",
		"2", "f", "home", "G", "f",
		"3", "f", "home", "G", "f",
		"4", "5", "tab",
	}
	tests := []struct {
		w, h  int
		color bool
	}{
		{120, 40, false}, {120, 40, true}, {70, 30, false}, {70, 30, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%dx%d-color-%v", tt.w, tt.h, tt.color), func(t *testing.T) {
			newM := func() Model {
				d := testDeps(&fakeControl{})
				d.Styles = panel.NewStyles(tt.color)
				m := New(d, fakeInspector{}, nil, Options{Color: tt.color, Project: "hello", Flavor: "elf", Ports: []string{"tcp 8080→80"}})
				return update(m, tea.WindowSizeMsg{Width: tt.w, Height: tt.h})
			}
			bad, good := newM(), newM()
			hostile, reference := hostileSession(hostileLines), hostileSession(harmless)
			unseen := map[string]bool{}
			for _, l := range hostileLines {
				unseen[marker(l)] = true
			}
			check := func(step string) {
				t.Helper()
				checkHostileScreen(t, step, bad, good, tt.w, tt.h, tt.color)
				screen := ansi.Strip(bad.View().Content)
				for m := range unseen {
					if strings.Contains(screen, m) {
						delete(unseen, m)
					}
				}
			}
			check("before any event")
			for i := range hostile {
				bad, good = update(bad, hostile[i]), update(good, reference[i])
				ev := hostile[i][0]
				check(fmt.Sprintf("after event %d (%s boot %d build %d)", i, ev.Type, ev.Boot, ev.Build))
			}
			for i, k := range keys {
				bad, good = update(bad, paneltest.Press(k)), update(good, paneltest.Press(k))
				check(fmt.Sprintf("after keys %q", keys[:i+1]))
			}
			// The lines were shown, not dropped whole: the checks above
			// looked at them.
			for m := range unseen {
				t.Errorf("no screen showed the hostile line starting %q", m)
			}
		})
	}
}

// checkHostileScreen checks the screen of bad, fed hostile lines, against
// the rules and against good, fed harmless ones. It reports at most a few
// problems per screen.
func checkHostileScreen(t *testing.T, step string, bad, good Model, w, h int, color bool) {
	t.Helper()
	got, ref := bad.View().Content, good.View().Content
	problems := screenProblems(got, w, h, color)
	lines, refLines := strings.Split(got, "\n"), strings.Split(ref, "\n")
	if len(lines) == h && len(refLines) == h {
		sh := bad.statusHeight()
		for y := range sh {
			if lines[y] != refLines[y] {
				problems = append(problems, fmt.Sprintf("status line %d differs from the harmless session's:\n got %q\nwant %q", y, lines[y], refLines[y]))
			}
		}
		if lines[h-1] != refLines[h-1] {
			problems = append(problems, fmt.Sprintf("footer differs from the harmless session's:\n got %q\nwant %q", lines[h-1], refLines[h-1]))
		}
		if bad.frames != good.frames {
			problems = append(problems, fmt.Sprintf("layout differs: %v, harmless %v", bad.frames, good.frames))
		} else if !bad.showHelp {
			problems = append(problems, borderProblems(lines, refLines, bad.frames)...)
		}
	}
	if len(problems) > 4 {
		problems = append(problems[:4], fmt.Sprintf("… and %d more", len(problems)-4))
	}
	for _, p := range problems {
		t.Errorf("%s: %s", step, p)
	}
	if len(problems) > 0 {
		t.Logf("%s: the screen:\n%s", step, ansi.Strip(got))
	}
}

// screenProblems checks a whole screen: h lines of exactly w cells, no
// BEL, no other C0 control but newline, no DEL, no C1 control (raw or
// encoded) and no invalid UTF-8; every ESC starts an SGR sequence and
// nothing else, and without colour that SGR only resets or sets bold or
// reverse (the dashboard's own emphasis, which the terminal's colour
// profile strips for TERM=dumb): no guest colour gets through.
func screenProblems(s string, w, h int, color bool) []string {
	var out []string
	lines := strings.Split(s, "\n")
	if len(lines) != h {
		out = append(out, fmt.Sprintf("%d lines, want %d", len(lines), h))
	}
	for y, l := range lines {
		// The dashboard lays out with lipgloss's measure (grapheme
		// clusters); Bubble Tea's renderer, and a terminal that does not
		// report grapheme clustering (mode 2027), count cells code point
		// by code point. A row must have the screen's width by both.
		if cw := ansi.StringWidth(l); cw != w {
			out = append(out, fmt.Sprintf("line %d is %d cells wide, want %d: %q", y, cw, w, ansi.Strip(l)))
		} else if ww := ansi.WcWidth.StringWidth(l); ww != w {
			out = append(out, fmt.Sprintf("line %d is %d cells wide code point by code point, want %d: %q", y, ww, w, ansi.Strip(l)))
		}
		for i := 0; i < len(l); {
			r, size := utf8.DecodeRuneInString(l[i:])
			switch {
			case r == utf8.RuneError && size == 1:
				out = append(out, fmt.Sprintf("line %d byte %d: invalid UTF-8 byte %#x", y, i, l[i]))
			case r == 0x1b:
				n := sgrLen(l[i:])
				switch {
				case n == 0:
					out = append(out, fmt.Sprintf("line %d byte %d: ESC that does not start an SGR sequence: %q", y, i, around(l, i)))
				case !color && !plainSGR(l[i+2:i+n-1]):
					out = append(out, fmt.Sprintf("line %d byte %d: SGR other than bold, reverse or reset without colour: %q", y, i, around(l, i)))
				}
				i += max(n, size)
				continue
			case r < 0x20 || r == 0x7f:
				out = append(out, fmt.Sprintf("line %d byte %d: control %#x: %q", y, i, r, around(l, i)))
			case r >= 0x80 && r <= 0x9f:
				out = append(out, fmt.Sprintf("line %d byte %d: C1 control U+%04X: %q", y, i, r, around(l, i)))
			case (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x200e || r == 0x200f || r == 0x061c:
				out = append(out, fmt.Sprintf("line %d byte %d: bidirectional control U+%04X: %q", y, i, r, around(l, i)))
			}
			i += size
		}
	}
	return out
}

// sgrLen returns the length of the SGR sequence (ESC [ digits, ';' and
// ':' then m) at the start of s, or 0 when s does not start with one.
func sgrLen(s string) int {
	if !strings.HasPrefix(s, "\x1b[") {
		return 0
	}
	for i := 2; i < len(s); i++ {
		switch c := s[i]; {
		case c == 'm':
			return i + 1
		case (c < '0' || c > '9') && c != ';' && c != ':':
			return 0
		}
	}
	return 0
}

// plainSGR reports whether SGR parameters only reset, or set or clear
// bold and reverse: the emphasis the dashboard keeps without colour.
func plainSGR(params string) bool {
	for p := range strings.SplitSeq(params, ";") {
		switch p {
		case "", "0", "1", "7", "22", "27":
		default:
			return false
		}
	}
	return true
}

// around quotes a few bytes of l around byte i.
func around(l string, i int) string {
	return l[max(i-12, 0):min(i+24, len(l))]
}

// borderProblems checks that every panel's border (all but the title in
// its top edge, which says what the panel shows) is drawn in the same
// cells and with the same SGR attributes as in the harmless screen, and
// that every line ends with the same attributes still set (they would
// carry over into the next line): no guest colour bleeds out of a panel.
func borderProblems(lines, refLines []string, frames [numPanels]rect) []string {
	var out []string
	grid, refGrid := cellGrid(lines), cellGrid(refLines)
	for y := range grid.ends {
		if y < len(refGrid.ends) && grid.ends[y] != refGrid.ends[y] {
			out = append(out, fmt.Sprintf("line %d ends with SGR %q set, harmless %q", y, grid.ends[y], refGrid.ends[y]))
		}
	}
	for i, r := range frames {
		if r.empty() {
			continue
		}
		var cells [][2]int
		cells = append(cells, [2]int{r.x, r.y}, [2]int{r.x + 1, r.y}, [2]int{r.x + r.w - 1, r.y})
		if r.h > 1 {
			for y := r.y + 1; y < r.y+r.h; y++ {
				cells = append(cells, [2]int{r.x, y}, [2]int{r.x + r.w - 1, y})
			}
			for x := r.x; x < r.x+r.w; x++ {
				cells = append(cells, [2]int{x, r.y + r.h - 1})
			}
		}
		for _, c := range cells {
			if got, want := grid.at(c[0], c[1]), refGrid.at(c[0], c[1]); got != want {
				out = append(out, fmt.Sprintf("panel %d border at (%d,%d) is %+v, harmless %+v; row %q", i+1, c[0], c[1], got, want, ansi.Strip(lines[c[1]])))
				break
			}
		}
	}
	return out
}

// screenCell is one terminal cell: its grapheme ("" in the second cell of
// a wide one) and the SGR attributes set when it is drawn.
type screenCell struct{ text, pen string }

// screenGrid is a screen as cells, and the SGR attributes still set at the
// end of each line.
type screenGrid struct {
	cells [][]screenCell
	ends  []string
}

func (g screenGrid) at(x, y int) screenCell {
	if y >= len(g.cells) || x >= len(g.cells[y]) {
		return screenCell{}
	}
	return g.cells[y][x]
}

// cellGrid splits a screen's lines into cells, following the SGR state
// from line to line as a terminal does.
func cellGrid(lines []string) screenGrid {
	g := screenGrid{cells: make([][]screenCell, len(lines)), ends: make([]string, len(lines))}
	pen := ""
	for y, rest := range lines {
		for rest != "" {
			if rest[0] == 0x1b {
				n := max(sgrLen(rest), 1) // screenProblems reports anything else
				if n > 1 {
					pen = applySGR(pen, rest[2:n-1])
				}
				rest = rest[n:]
				continue
			}
			text, w := ansi.FirstGraphemeCluster(rest, ansi.GraphemeWidth)
			if text == "" {
				break
			}
			rest = rest[len(text):]
			if w == 0 {
				// A zero-width cluster takes no cell: a terminal (and
				// Bubble Tea's renderer) draws it with the cell before.
				if n := len(g.cells[y]); n > 0 {
					g.cells[y][n-1].text += text
				}
				continue
			}
			g.cells[y] = append(g.cells[y], screenCell{text, pen})
			for range w - 1 {
				g.cells[y] = append(g.cells[y], screenCell{"", pen})
			}
		}
		g.ends[y] = pen
	}
	return g
}

// applySGR returns the attributes set after the SGR parameters params are
// applied to pen: a reset (0 or empty) clears them, anything else is kept
// in order. It need not know what the attributes mean, only compare them.
func applySGR(pen, params string) string {
	ps := strings.Split(params, ";")
	for i := 0; i < len(ps); i++ {
		switch p := ps[i]; p {
		case "", "0":
			pen = ""
		case "38", "48", "58": // extended colour: its arguments follow
			n := 0
			if i+1 < len(ps) {
				switch ps[i+1] {
				case "5":
					n = 2
				case "2":
					n = 4
				}
			}
			end := min(i+1+n, len(ps))
			pen += strings.Join(ps[i:end], ";") + ";"
			i = end - 1
		default:
			pen += p + ";"
		}
	}
	return pen
}

// TestTUIScreenProblems checks the screen checker itself: it must see
// every kind of leak the hostile guest test looks for.
func TestTUIScreenProblems(t *testing.T) {
	tests := []struct {
		name   string
		screen string
		color  bool
		want   string // a substring of one of the problems; "" for none
	}{
		{name: "plain", screen: "abcd\nefgh"},
		{name: "wide runes", screen: "界界\nabcd"},
		{name: "SGR with colour", screen: "\x1b[31;1mab\x1b[mcd\n\x1b[38:2::1:2:3mefgh", color: true},
		{name: "bold and reverse without colour", screen: "\x1b[1;7mab\x1b[mcd\nefgh"},
		{name: "colour without colour", screen: "\x1b[31mabcd\nefgh", want: "SGR other than"},
		{name: "too few lines", screen: "abcd", want: "1 lines, want 2"},
		{name: "too wide", screen: "abcde\nefgh", want: "5 cells wide"},
		{name: "too narrow", screen: "abc\nefgh", want: "3 cells wide"},
		{name: "a cluster wider code point by code point", screen: "👩\u200d💻ab\nefgh", want: "6 cells wide code point by code point"},
		{name: "a cluster narrower code point by code point", screen: "❤\ufe0fab\nefgh", want: "3 cells wide code point by code point"},
		{name: "combining marks", screen: "e\u0301fgh\nefgh"},
		{name: "clipboard", screen: "\x1b]52;c;aGVsbG8=\x07abcd\nefgh", color: true, want: "does not start an SGR"},
		{name: "clear", screen: "\x1b[2Jabcd\nefgh", color: true, want: "does not start an SGR"},
		{name: "private mode", screen: "\x1b[?1049labcd\nefgh", color: true, want: "does not start an SGR"},
		{name: "bell", screen: "ab\acd\nefgh", want: "control 0x7"},
		{name: "carriage return", screen: "ab\rcd\nefgh", want: "control 0xd"},
		{name: "tab", screen: "ab\tc\nefgh", want: "control 0x9"},
		{name: "raw C1", screen: "ab\x9bcd\nefgh", want: "invalid UTF-8 byte 0x9b"},
		{name: "encoded C1", screen: "ab\u009bcd\nefgh", want: "C1 control U+009B"},
		{name: "right-to-left override", screen: "ab\u202ecd\nefgh", want: "bidirectional control U+202E"},
		{name: "isolate", screen: "ab\u2066cd\nefgh", want: "bidirectional control U+2066"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := screenProblems(tt.screen, 4, 2, tt.color)
			switch {
			case tt.want == "" && len(got) > 0:
				t.Errorf("problems %q, want none", got)
			case tt.want != "" && !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, tt.want) }):
				t.Errorf("problems %q, want one about %q", got, tt.want)
			}
		})
	}
}

// TestTUICellGrid checks that the cell grid follows SGR state across cells
// and lines as a terminal does, so a colour left set is seen where it lands.
func TestTUICellGrid(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		x, y  int
		want  screenCell
		ends  []string
	}{
		{name: "plain", lines: []string{"ab"}, x: 1, want: screenCell{"b", ""}, ends: []string{""}},
		{name: "set then reset", lines: []string{"\x1b[31ma\x1b[mb"}, x: 1, want: screenCell{"b", ""}, ends: []string{""}},
		{name: "left set bleeds to the next line", lines: []string{"\x1b[1;31ma", "b"}, y: 1, want: screenCell{"b", "1;31;"}, ends: []string{"1;31;", "1;31;"}},
		{name: "reset inside parameters", lines: []string{"\x1b[4m\x1b[0;32ma"}, want: screenCell{"a", "32;"}, ends: []string{"32;"}},
		{name: "extended colour with a zero", lines: []string{"\x1b[38;5;0ma"}, want: screenCell{"a", "38;5;0;"}, ends: []string{"38;5;0;"}},
		{name: "wide rune takes two cells", lines: []string{"界b"}, x: 2, want: screenCell{"b", ""}, ends: []string{""}},
		{name: "zero width takes none", lines: []string{"a\u200bb"}, x: 1, want: screenCell{"b", ""}, ends: []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := cellGrid(tt.lines)
			if got := g.at(tt.x, tt.y); got != tt.want {
				t.Errorf("cell (%d,%d) = %+v, want %+v", tt.x, tt.y, got, tt.want)
			}
			if !slices.Equal(g.ends, tt.ends) {
				t.Errorf("line ends %q, want %q", g.ends, tt.ends)
			}
		})
	}
}
