package console

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/tui/panel"
	"github.com/ukdev/ukdev/tui/panel/paneltest"
)

// session is a console with two boots: separators, a tab, a long line,
// wide characters, colours and an exit.
func session() panel.EventsMsg {
	code := 3
	return panel.EventsMsg{
		startEv(7, 7, t0),
		lineEv(7, "hello from the unikernel"),
		lineEv(7, "name\tvalue\tunit"),
		lineEv(7, "a long line that goes on and on past the right edge of a narrow panel, more than eighty cells wide"),
		lineEv(7, "\x1b[32mOK\x1b[0m self-test passed"),
		lineEv(7, "日本語のテキスト and ascii"),
		{Time: t0.Add(2 * time.Second), Type: devloop.TypeVMExit, Boot: 7, Build: 7, Reason: "exit", ExitCode: &code},
		startEv(8, 8, t0.Add(5*time.Second)),
		lineEv(8, "hello again"),
		lineEv(8, "$ "),
	}
}

func TestGoldenViews(t *testing.T) {
	tests := []struct {
		name string
		w, h int
		keys []string
	}{
		{"follow_40x8", 40, 8, nil},
		{"follow_80x12", 80, 12, nil},
		{"paused_40x8", 40, 8, []string{"home", "j"}},
		{"nowrap_40x8", 40, 8, []string{"z", "home", "l"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := newModel(t, false, tt.w, tt.h)
			update(m, session())
			update(m, paneltest.Keys(tt.keys...)...)
			paneltest.Golden(t, paneltest.Snapshot(t, m, tt.w, tt.h))
		})
	}
}

// hostile is guest output that tries to drive the host terminal.
var hostile = []string{
	"\x1b]52;c;cm0gLXJmIH4K\x07clipboard",
	"\x1b[2Jcleared \x1b[3J\x1b[H",
	"\x1b]0;pwned title\x07titled",
	"\x1b[6nquery \x1b[c\x1b[>c\x1b[5n",
	"\x1b[10;20Hmoved \x1b[5A\x1b[3Cup\x1b[K\x1b[1M",
	"\x1bP1$r0m\x1b\\dcs \x1bPq#0;2;0;0;0#1!100~\x1b\\sixel",
	"\x1b]8;;https://evil.example/\x1b\\link\x1b]8;;\x1b\\",
	"\x1b_apc\x1b\\ \x1b^pm\x1b\\ \x1bXsos\x1b\\ strings",
	"\x1b[?1049halt screen \x1b[?25l\x1b[?1000h\x1b[?2004h modes",
	"\x1bc\x1b7\x1b8\x1b(0\x1b#8 two-byte",
	"\x9b31m8-bit C1 \u009b2J utf-8 C1 \x90dcs\x9c",
	"\r\b\a\x00\x7f\x0e\x0f controls",
	"\x1b[31mred \x1b[1;44mbold on blue, never reset, then a long tail that has to wrap over several rows of the panel",
	"\x1b[38;2;255;0;0mtruecolor\x1b[0m \x1b[38:5:208mcolon\x1b[m",
	"\x1b]52;c;unterminated clipboard at the end of the line",
	"tab\there 日本語\tend",
	"\x1b[",
	string([]byte{0xff, 0xfe, 'x'}),
}

func TestGuestEscapeSequencesAreNeutralised(t *testing.T) {
	for _, color := range []bool{false, true} {
		for _, sz := range []struct{ w, h int }{{30, 10}, {80, 25}} {
			for _, mode := range [][]string{nil, {"z"}, {"z", "l", "l"}, {"home"}} {
				name := fmt.Sprintf("color=%v/%dx%d/keys=%v", color, sz.w, sz.h, mode)
				t.Run(name, func(t *testing.T) {
					m, _ := newModel(t, color, sz.w, sz.h)
					var evs panel.EventsMsg
					evs = append(evs, startEv(1, 1, t0))
					for _, l := range hostile {
						evs = append(evs, lineEv(1, l))
					}
					evs = append(evs, devloop.Event{Type: devloop.TypeVMExit, Boot: 1, Reason: "qemu-error",
						Detail: "\x1b]0;stderr title\x07qemu: \x1b[2Jbad"})
					update(m, evs)
					update(m, paneltest.Keys(mode...)...)
					rows := viewRows(t, m, sz.w, sz.h)
					coloured := 0
					for i, r := range rows {
						checkRowSafe(t, i, r, color)
						if sgrRE.MatchString(r) {
							coloured++
						}
					}
					if color && mode == nil && coloured == 0 {
						t.Error("no row kept the guest's colours")
					}
					if title := m.Title(); strings.ContainsFunc(title, isControl) {
						t.Errorf("title holds a control character: %q", title)
					}
				})
			}
		}
	}
}

// checkRowSafe fails unless row holds no escape sequence but SGR (none at
// all without colour), no control character, and resets any colour it
// sets before it ends.
func checkRowSafe(t *testing.T, i int, row string, color bool) {
	t.Helper()
	if !color && strings.Contains(row, "\x1b") {
		t.Errorf("row %d holds ESC with colour off: %q", i, row)
	}
	if rest := sgrRE.ReplaceAllString(row, ""); strings.ContainsFunc(rest, isControl) {
		t.Errorf("row %d holds a control character or non-SGR sequence: %q", i, row)
	}
	if seqs := sgrRE.FindAllString(row, -1); len(seqs) > 0 {
		if last := seqs[len(seqs)-1]; last != "\x1b[m" && last != "\x1b[0m" {
			t.Errorf("row %d leaves colour on (%q): %q", i, last, row)
		}
		if !strings.HasSuffix(row, "\x1b[m") && !strings.HasSuffix(strings.TrimRight(row, " "), "\x1b[m") &&
			!strings.HasSuffix(strings.TrimRight(row, " "), "\x1b[0m") {
			t.Errorf("row %d does not end reset: %q", i, row)
		}
	}
	if !utf8.ValidString(row) {
		t.Errorf("row %d is not valid UTF-8: %q", i, row)
	}
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) }

func TestHostileTextStaysReadable(t *testing.T) {
	m, _ := newModel(t, false, 120, len(hostile)+2)
	var evs panel.EventsMsg
	for _, l := range hostile {
		evs = append(evs, lineEv(1, l))
	}
	update(m, evs)
	text := strings.Join(plainRows(t, m, 120, len(hostile)+2), "\n")
	for _, want := range []string{"clipboard", "cleared", "titled", "query", "moved up", "link", "modes", "controls",
		"tab     here 日本語     end"} {
		if !strings.Contains(text, want) {
			t.Errorf("sanitised view lost %q:\n%s", want, text)
		}
	}
	for _, leak := range []string{"pwned", "evil.example", "cm0gLXJmIH4K", "unterminated"} {
		if strings.Contains(text, leak) {
			t.Errorf("sequence payload %q shown:\n%s", leak, text)
		}
	}
}

func TestWrappedColourCarriesOver(t *testing.T) {
	m, _ := newModel(t, true, 10, 3)
	update(m, panel.EventsMsg{lineEv(1, "\x1b[31mred red red red red\x1b[m plain")})
	rows := viewRows(t, m, 10, 3)
	if !strings.HasPrefix(rows[1], "\x1b[31m") {
		t.Errorf("second row does not restart red: %q", rows[1])
	}
	if strings.HasPrefix(rows[2], "\x1b[31m") {
		t.Errorf("row after the reset is still red: %q", rows[2])
	}
	if got := ansi.Strip(strings.Join(rows, "")); got != "red red red red red plain     " {
		t.Errorf("text %q", got)
	}
}

func TestFloodStaysBounded(t *testing.T) {
	const (
		total = 200_000
		batch = 512
		w, h  = 80, 24
	)
	m, _ := newModel(t, true, w, h)
	paused, _ := newModel(t, false, w, h)
	update(m, panel.EventsMsg{startEv(1, 1, t0)})
	update(paused, panel.EventsMsg{startEv(1, 1, t0)}, numbered(1, 1, 100), paneltest.Press("home"))
	n := 0
	for n < total {
		b := make(panel.EventsMsg, 0, batch)
		for range min(batch, total-n) {
			n++
			b = append(b, lineEv(1, fmt.Sprintf("\x1b[3%dm%08d\x1b[m flood line with some text to wrap around at eighty columns, and a bit more %d", n%8, n, n)))
		}
		update(m, b)
		update(paused, b)
		if n/batch%40 == 0 {
			viewRows(t, m, w, h)
			viewRows(t, paused, w, h)
		}
	}
	if m.sb.n > maxLines || m.sb.bytes > maxBytes {
		t.Errorf("scrollback holds %d lines, %d bytes; bounds %d, %d", m.sb.n, m.sb.bytes, maxLines, maxBytes)
	}
	rows := viewRows(t, m, w, h)
	if last := ansi.Strip(rows[h-1]); !strings.Contains(last, fmt.Sprint(total)) {
		t.Errorf("last row %q does not end with line %d", last, total)
	}
	if first := ansi.Strip(viewRows(t, paused, w, h)[0]); !strings.HasPrefix(first, fmt.Sprintf("%08d", total-maxLines+1)) {
		t.Errorf("paused view's first row %q is not the oldest line kept", first)
	}
	if !strings.Contains(paused.Title(), fmt.Sprintf("paused at 1/%d", maxLines)) {
		t.Errorf("paused title %q", paused.Title())
	}
}
