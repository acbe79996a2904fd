package console

import (
	"bytes"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/tui/panel"
	"github.com/ukdev/ukdev/tui/panel/paneltest"
)

func TestInputKeysReachTheGuest(t *testing.T) {
	tests := []struct {
		name string
		key  tea.KeyPressMsg
		want string
	}{
		{"letter", tea.KeyPressMsg{Code: 'a', Text: "a"}, "a"},
		{"shifted letter", tea.KeyPressMsg{Code: 'a', ShiftedCode: 'A', Text: "A", Mod: tea.ModShift}, "A"},
		{"q is not quit", tea.KeyPressMsg{Code: 'q', Text: "q"}, "q"},
		{"utf-8", tea.KeyPressMsg{Code: 'é', Text: "é"}, "é"},
		{"space", tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}, " "},
		{"enter", tea.KeyPressMsg{Code: tea.KeyEnter}, "\r"},
		{"backspace", tea.KeyPressMsg{Code: tea.KeyBackspace}, "\x7f"},
		{"tab", tea.KeyPressMsg{Code: tea.KeyTab}, "\t"},
		{"shift+tab", tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}, "\x1b[Z"},
		{"ctrl+c goes to the guest", tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}, "\x03"},
		{"ctrl+a", tea.KeyPressMsg{Code: 'a', Mod: tea.ModCtrl}, "\x01"},
		{"ctrl+z", tea.KeyPressMsg{Code: 'z', Mod: tea.ModCtrl}, "\x1a"},
		{"ctrl+d", tea.KeyPressMsg{Code: 'd', Mod: tea.ModCtrl}, "\x04"},
		{"ctrl+backslash", tea.KeyPressMsg{Code: '\\', Mod: tea.ModCtrl}, "\x1c"},
		{"ctrl+space", tea.KeyPressMsg{Code: tea.KeySpace, Mod: tea.ModCtrl}, "\x00"},
		{"ctrl+[ is a literal ESC", tea.KeyPressMsg{Code: '[', Mod: tea.ModCtrl}, "\x1b"},
		{"alt+b", tea.KeyPressMsg{Code: 'b', Mod: tea.ModAlt}, "\x1bb"},
		{"alt+enter", tea.KeyPressMsg{Code: tea.KeyEnter, Mod: tea.ModAlt}, "\x1b\r"},
		{"up", tea.KeyPressMsg{Code: tea.KeyUp}, "\x1b[A"},
		{"down", tea.KeyPressMsg{Code: tea.KeyDown}, "\x1b[B"},
		{"right", tea.KeyPressMsg{Code: tea.KeyRight}, "\x1b[C"},
		{"left", tea.KeyPressMsg{Code: tea.KeyLeft}, "\x1b[D"},
		{"ctrl+right", tea.KeyPressMsg{Code: tea.KeyRight, Mod: tea.ModCtrl}, "\x1b[1;5C"},
		{"home", tea.KeyPressMsg{Code: tea.KeyHome}, "\x1b[H"},
		{"end", tea.KeyPressMsg{Code: tea.KeyEnd}, "\x1b[F"},
		{"insert", tea.KeyPressMsg{Code: tea.KeyInsert}, "\x1b[2~"},
		{"delete", tea.KeyPressMsg{Code: tea.KeyDelete}, "\x1b[3~"},
		{"pgup", tea.KeyPressMsg{Code: tea.KeyPgUp}, "\x1b[5~"},
		{"pgdown", tea.KeyPressMsg{Code: tea.KeyPgDown}, "\x1b[6~"},
		{"f1", tea.KeyPressMsg{Code: tea.KeyF1}, "\x1bOP"},
		{"f5", tea.KeyPressMsg{Code: tea.KeyF5}, "\x1b[15~"},
		{"f12", tea.KeyPressMsg{Code: tea.KeyF12}, "\x1b[24~"},
		{"shifted key without text", tea.KeyPressMsg{Code: 'a', ShiftedCode: 'A', Mod: tea.ModShift}, "A"},
		{"lone modifier sends nothing", tea.KeyPressMsg{Code: tea.KeyLeftShift}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ctrl := newModel(t, false, 40, 5)
			update(m, paneltest.Press("i"))
			if !m.Capturing() {
				t.Fatal("i did not enter input mode")
			}
			update(m, tt.key)
			if got := ctrl.sent(); got != tt.want {
				t.Errorf("sent %q, want %q", got, tt.want)
			}
			if !m.Capturing() {
				t.Error("the key left input mode")
			}
		})
	}
}

func TestInputModeEnterAndLeave(t *testing.T) {
	tests := []struct {
		name    string
		keys    []tea.Msg
		capture bool
		sent    string
	}{
		{"i enters", paneltest.Keys("i"), true, ""},
		{"enter enters", paneltest.Keys("enter"), true, ""},
		{"esc leaves", paneltest.Keys("i", "x", "esc"), false, "x"},
		{"alt+esc leaves", []tea.Msg{paneltest.Press("i"), tea.KeyPressMsg{Code: tea.KeyEscape, Mod: tea.ModAlt}}, false, ""},
		{"ctrl+] leaves", paneltest.Keys("i", "ctrl+]"), false, ""},
		{"keys after leaving scroll again", paneltest.Keys("i", "esc", "k", "i", "k"), true, "k"},
		{"paste goes as is", []tea.Msg{paneltest.Press("i"), tea.PasteMsg{Content: "echo hi\nls\t-l"}}, true, "echo hi\nls\t-l"},
		{"paste outside input mode is ignored", []tea.Msg{tea.PasteMsg{Content: "rm -rf"}}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ctrl := newModel(t, false, 40, 5)
			update(m, tt.keys...)
			if m.Capturing() != tt.capture {
				t.Errorf("Capturing() = %v, want %v", m.Capturing(), tt.capture)
			}
			if got := ctrl.sent(); got != tt.sent {
				t.Errorf("sent %q, want %q", got, tt.sent)
			}
			inTitle := strings.Contains(m.Title(), "INPUT (esc to leave)")
			if inTitle != tt.capture {
				t.Errorf("title %q: input mode shown = %v, want %v", m.Title(), inTitle, tt.capture)
			}
		})
	}
}

func TestFocusLossLeavesInputMode(t *testing.T) {
	m, _ := newModel(t, false, 40, 5)
	m.Focus(true)
	update(m, paneltest.Press("i"))
	m.Focus(false)
	if m.Capturing() {
		t.Error("still capturing after losing focus")
	}
}

// TestInputWritesInOrder checks that keys typed while a write runs are sent
// after it, in order, in one write.
func TestInputWritesInOrder(t *testing.T) {
	m, ctrl := newModel(t, false, 40, 5)
	update(m, paneltest.Press("i"))
	_, first := m.Update(paneltest.Press("a"))
	if first == nil {
		t.Fatal("no write command for the first key")
	}
	for _, k := range []string{"b", "c"} {
		if _, cmd := m.Update(paneltest.Press(k)); cmd != nil {
			t.Fatalf("key %q started a second concurrent write", k)
		}
	}
	update(m, first())
	want := [][]byte{[]byte("a"), []byte("bc")}
	if len(ctrl.writes) != len(want) {
		t.Fatalf("writes %q, want %q", ctrl.writes, want)
	}
	for i := range want {
		if !bytes.Equal(ctrl.writes[i], want[i]) {
			t.Errorf("write %d = %q, want %q", i, ctrl.writes[i], want[i])
		}
	}
}

func TestInputErrorShownInTitle(t *testing.T) {
	m, ctrl := newModel(t, false, 40, 5)
	ctrl.err = errNoVM
	update(m, paneltest.Press("i"), paneltest.Press("a"))
	if !strings.Contains(m.Title(), "input failed: devloop: no VM is running") {
		t.Errorf("title %q does not show the write error", m.Title())
	}
	ctrl.err = nil
	update(m, paneltest.Press("b"))
	if strings.Contains(m.Title(), "failed") {
		t.Errorf("title %q still shows the error after a good write", m.Title())
	}
}

func TestInputWithoutControl(t *testing.T) {
	m := New(panel.Deps{})
	m.SetSize(20, 2)
	update(m, paneltest.Press("i"), paneltest.Press("a"))
	if !strings.Contains(m.Title(), "no console") {
		t.Errorf("title %q does not say input went nowhere", m.Title())
	}
}

func TestScrolling(t *testing.T) {
	const w, h = 20, 5
	tests := []struct {
		name   string
		keys   []tea.Msg
		first  string // first row of the view
		follow bool
		title  string
	}{
		{"follows by default", nil, "line 96", true, "console · boot 1"},
		{"k pauses", paneltest.Keys("k"), "line 95", false, "paused at 95/100"},
		{"up pauses", paneltest.Keys("up", "up"), "line 94", false, "paused at 94/100"},
		{"j back to the bottom resumes", paneltest.Keys("k", "k", "j", "j"), "line 96", true, ""},
		{"pgup", paneltest.Keys("pgup"), "line 92", false, "paused at 92/100"},
		{"pgup pgdown", paneltest.Keys("pgup", "pgup", "pgdown"), "line 92", false, ""},
		{"ctrl+u", paneltest.Keys("ctrl+u"), "line 94", false, ""},
		{"ctrl+u ctrl+d", paneltest.Keys("ctrl+u", "ctrl+u", "ctrl+d"), "line 94", false, ""},
		{"home top", paneltest.Keys("home"), "line 1", false, "paused at 1/100"},
		{"home top", paneltest.Keys("home"), "line 1", false, ""},
		{"k at top stays", paneltest.Keys("home", "k"), "line 1", false, ""},
		{"G follows", paneltest.Keys("home", "G"), "line 96", true, ""},
		{"end follows", paneltest.Keys("home", "end"), "line 96", true, ""},
		{"wheel up", []tea.Msg{tea.MouseWheelMsg{Button: tea.MouseWheelUp}}, "line 93", false, ""},
		{"wheel down to the bottom", []tea.Msg{tea.MouseWheelMsg{Button: tea.MouseWheelUp},
			tea.MouseWheelMsg{Button: tea.MouseWheelDown}}, "line 96", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := newModel(t, false, w, h)
			update(m, numbered(1, 1, 100))
			update(m, tt.keys...)
			rows := plainRows(t, m, w, h)
			if rows[0] != tt.first {
				t.Errorf("first row %q, want %q", rows[0], tt.first)
			}
			if m.scroller.Following() != tt.follow {
				t.Errorf("follow = %v, want %v", m.scroller.Following(), tt.follow)
			}
			if !strings.Contains(m.Title(), tt.title) {
				t.Errorf("title %q does not contain %q", m.Title(), tt.title)
			}
			if tt.follow && strings.Contains(m.Title(), "paused") {
				t.Errorf("title %q says paused while following", m.Title())
			}
		})
	}
}

func TestPausedViewStaysWhileLinesArrive(t *testing.T) {
	const w, h = 20, 4
	m, _ := newModel(t, false, w, h)
	update(m, numbered(1, 1, 50))
	update(m, paneltest.Keys("k", "k")...)
	before := plainRows(t, m, w, h)
	update(m, numbered(1, 51, 80))
	if after := plainRows(t, m, w, h); strings.Join(after, "|") != strings.Join(before, "|") {
		t.Errorf("paused view moved: %q → %q", before, after)
	}
	update(m, paneltest.Press("G"))
	if rows := plainRows(t, m, w, h); rows[h-1] != "line 80" {
		t.Errorf("after G the last row is %q, want line 80", rows[h-1])
	}
	update(m, numbered(1, 81, 81))
	if rows := plainRows(t, m, w, h); rows[h-1] != "line 81" {
		t.Errorf("following: last row %q, want line 81", rows[h-1])
	}
}

func TestFewLinesFollowFromTheTop(t *testing.T) {
	m, _ := newModel(t, false, 10, 4)
	update(m, numbered(1, 1, 2))
	update(m, paneltest.Press("k"))
	if rows := plainRows(t, m, 10, 4); rows[0] != "line 1" || rows[1] != "line 2" || rows[2] != "" {
		t.Errorf("rows %q", rows)
	}
	if !m.scroller.Following() {
		t.Error("scrolling up content that fits paused following")
	}
}

func TestWrapAndHorizontalScroll(t *testing.T) {
	long := "0123456789abcdefghijklmnopqrstuvwxyz"
	tests := []struct {
		name  string
		keys  []tea.Msg
		rows  []string
		title string
	}{
		{"wraps", nil, []string{"0123456789", "abcdefghij", "klmnopqrst", "uvwxyz", "short"}, "console"},
		{"z: no wrap", paneltest.Keys("z"), []string{"0123456789", "short", "", "", ""}, "nowrap"},
		{"l scrolls right", paneltest.Keys("z", "l"), []string{"89abcdefgh", "", "", "", ""}, "nowrap +8"},
		{"right stops at the widest line", paneltest.Keys("z", "right", "right", "right", "right"),
			[]string{"qrstuvwxyz", "", "", "", ""}, "nowrap +26"},
		{"h scrolls back", paneltest.Keys("z", "l", "l", "h"), []string{"89abcdefgh", "", "", "", ""}, "nowrap +8"},
		{"left stops at 0", paneltest.Keys("z", "left"), []string{"0123456789", "short", "", "", ""}, "nowrap"},
		{"h with wrap on does nothing", paneltest.Keys("h"), []string{"0123456789", "abcdefghij", "klmnopqrst", "uvwxyz", "short"}, ""},
		{"z z wraps again", paneltest.Keys("z", "l", "z"), []string{"0123456789", "abcdefghij", "klmnopqrst", "uvwxyz", "short"}, ""},
		{"wheel right", []tea.Msg{paneltest.Press("z"), tea.MouseWheelMsg{Button: tea.MouseWheelRight}},
			[]string{"89abcdefgh", "", "", "", ""}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := newModel(t, false, 10, 5)
			update(m, panel.EventsMsg{lineEv(1, long), lineEv(1, "short")})
			update(m, tt.keys...)
			rows := plainRows(t, m, 10, 5)
			if strings.Join(rows, "|") != strings.Join(tt.rows, "|") {
				t.Errorf("rows\n%q\nwant\n%q", rows, tt.rows)
			}
			if !strings.Contains(m.Title(), tt.title) {
				t.Errorf("title %q does not contain %q", m.Title(), tt.title)
			}
		})
	}
}

func TestWrappedScrollingByRows(t *testing.T) {
	m, _ := newModel(t, false, 4, 2)
	update(m, panel.EventsMsg{lineEv(1, "aaaabbbbcccc"), lineEv(1, "dddd")})
	steps := []struct {
		key  string
		rows string
	}{
		{"", "cccc|dddd"},
		{"k", "bbbb|cccc"},
		{"k", "aaaa|bbbb"},
		{"k", "aaaa|bbbb"},
		{"j", "bbbb|cccc"},
		{"j", "cccc|dddd"},
	}
	for i, s := range steps {
		if s.key != "" {
			update(m, paneltest.Press(s.key))
		}
		if got := strings.Join(plainRows(t, m, 4, 2), "|"); got != s.rows {
			t.Errorf("step %d (%q): rows %q, want %q", i, s.key, got, s.rows)
		}
	}
}

func TestOldBootsGDBStubNotShown(t *testing.T) {
	m, _ := newModel(t, false, 60, 6)
	update(m, panel.EventsMsg{startEv(3, 3, t0), {Type: devloop.TypeVMGDB, Boot: 2, Address: "/run/g.sock"}})
	if rows := strings.Join(plainRows(t, m, 60, 6), "\n"); strings.Contains(rows, "gdb") {
		t.Errorf("boot 2's gdb stub shown under boot 3:\n%s", rows)
	}
}

func TestSeparators(t *testing.T) {
	ok := true
	tests := []struct {
		name string
		evs  panel.EventsMsg
		want []string // rows, in order, as prefixes
		boot string   // in the title
	}{
		{"boot start", panel.EventsMsg{startEv(7, 7, t0), lineEv(7, "hello")},
			[]string{"── boot 7 · build 7 · 12:03:11 ──", "hello"}, "boot 7"},
		{"boot end", panel.EventsMsg{startEv(7, 7, t0), lineEv(7, "bye"), exitEv(7, 3)},
			[]string{"── boot 7 · build 7 · 12:03:11 ──", "bye", "── boot 7 ended: exit 3 ──"}, "boot 7 (ended: exit 3)"},
		{"crash with detail", panel.EventsMsg{startEv(2, 1, t0), {Type: devloop.TypeVMExit, Boot: 2, Reason: "crash",
			Detail: "triple fault\nmore"}}, []string{"── boot 2 · build 1", "── boot 2 ended: crash (triple fault) ──"}, "boot 2 (ended: crash)"},
		{"next boot", panel.EventsMsg{startEv(1, 1, t0), exitEv(1, 0), startEv(2, 2, t0.Add(65*time.Second)), lineEv(2, "hi")},
			[]string{"── boot 1 ·", "── boot 1 ended: exit 0", "── boot 2 · build 2 · 12:04:16 ──", "hi"}, "boot 2"},
		{"reset", panel.EventsMsg{startEv(3, 3, t0), {Time: t0.Add(time.Second), Type: devloop.TypeVMReset, Boot: 3, Build: 3}},
			[]string{"── boot 3 ·", "── boot 3 reset · build 3 · 12:03:12 ──"}, "boot 3"},
		{"gdb stub", panel.EventsMsg{startEv(3, 3, t0), {Type: devloop.TypeVMGDB, Boot: 3, Address: "/run/g.sock"}},
			[]string{"── boot 3 ·", "── boot 3 · gdb stub at /run/g.sock ──"}, "boot 3"},
		{"VM paused", panel.EventsMsg{startEv(3, 3, t0), {Type: devloop.TypeVMPaused, Boot: 3}},
			[]string{"── boot 3 ·"}, "boot 3 (VM paused)"},
		{"VM resumed", panel.EventsMsg{startEv(3, 3, t0), {Type: devloop.TypeVMPaused, Boot: 3}, {Type: devloop.TypeVMResumed, Boot: 3}},
			[]string{"── boot 3 ·"}, "console · boot 3"},
		{"dropped lines", panel.EventsMsg{{Type: devloop.TypeVMDropped, Boot: 1, Count: 42}},
			[]string{"── 42 lines not shown"}, "console"},
		{"console without start", panel.EventsMsg{lineEv(5, "mid-boot")}, []string{"mid-boot"}, "boot 5"},
		{"other events ignored", panel.EventsMsg{{Type: devloop.TypeBuildOutput, Line: "cc -o x"}, {Type: devloop.TypeBuildDone, OK: &ok}},
			[]string{"waiting for the guest's console output"}, "console"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := newModel(t, false, 60, 6)
			update(m, tt.evs)
			rows := plainRows(t, m, 60, 6)
			for i, want := range tt.want {
				if !strings.HasPrefix(rows[i], want) {
					t.Errorf("row %d %q, want prefix %q", i, rows[i], want)
				}
			}
			if !strings.Contains(m.Title(), tt.boot) {
				t.Errorf("title %q does not contain %q", m.Title(), tt.boot)
			}
		})
	}
}

func TestResizeKeepsPosition(t *testing.T) {
	tests := []struct {
		name       string
		w, h       int
		wantFirst  string
		wantFollow bool
	}{
		{"narrower", 12, 5, "line 40", false},
		{"wider and taller", 60, 20, "line 40", false},
		{"shorter", 30, 2, "line 40", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := newModel(t, false, 30, 5)
			update(m, numbered(1, 1, 100))
			update(m, paneltest.Press("home"))
			for range 39 {
				update(m, paneltest.Press("j"))
			}
			m.SetSize(tt.w, tt.h)
			rows := plainRows(t, m, tt.w, tt.h)
			if rows[0] != tt.wantFirst || m.scroller.Following() != tt.wantFollow {
				t.Errorf("first row %q follow %v, want %q %v", rows[0], m.scroller.Following(), tt.wantFirst, tt.wantFollow)
			}
		})
	}
}

func TestResizeWhileFollowingStaysAtTheBottom(t *testing.T) {
	m, _ := newModel(t, false, 30, 5)
	update(m, numbered(1, 1, 100))
	m.SetSize(10, 3)
	if rows := plainRows(t, m, 10, 3); rows[2] != "line 100" {
		t.Errorf("last row %q, want line 100", rows[2])
	}
}

func TestResizeWithinAWrappedLine(t *testing.T) {
	m, _ := newModel(t, false, 10, 2)
	update(m, panel.EventsMsg{lineEv(1, strings.Repeat("x", 30)+"ABCDEFGHIJ"+strings.Repeat("y", 30))})
	update(m, paneltest.Press("home"), paneltest.Press("j"), paneltest.Press("j"), paneltest.Press("j"))
	if rows := plainRows(t, m, 10, 2); rows[0] != "ABCDEFGHIJ" {
		t.Fatalf("first row %q", rows[0])
	}
	m.SetSize(20, 2)
	if rows := plainRows(t, m, 20, 2); !strings.Contains(rows[0], "ABCDEFGHIJ") && !strings.Contains(rows[1], "ABCDEFGHIJ") {
		t.Errorf("after widening the text at the top moved away: %q", rows)
	}
}

func TestKeyBindings(t *testing.T) {
	m, _ := newModel(t, false, 10, 2)
	help := func() string {
		var s []string
		for _, b := range m.KeyBindings() {
			if b.Enabled() {
				s = append(s, b.Help().Key+" "+b.Help().Desc)
			}
		}
		return strings.Join(s, ", ")
	}
	for _, want := range []string{"i/enter type to the guest", "G/end bottom, follow", "z wrap on/off"} {
		if !strings.Contains(help(), want) {
			t.Errorf("help %q lacks %q", help(), want)
		}
	}
	if strings.Contains(help(), "scroll left") {
		t.Errorf("help %q offers horizontal scroll with wrap on", help())
	}
	update(m, paneltest.Press("z"))
	if !strings.Contains(help(), "←/h scroll left") {
		t.Errorf("help %q lacks horizontal scroll with wrap off", help())
	}
	update(m, paneltest.Press("i"))
	if got := help(); !strings.Contains(got, "esc/ctrl+] leave input mode") || !strings.Contains(got, "ctrl+[ send ESC") {
		t.Errorf("input-mode help %q", got)
	}
}

func TestZeroSize(t *testing.T) {
	m, _ := newModel(t, false, 0, 0)
	update(m, numbered(1, 1, 10), paneltest.Press("k"), paneltest.Press("z"), paneltest.Press("l"))
	if v := m.View(); v != "" {
		t.Errorf("View at 0×0 = %q", v)
	}
	m.SetSize(0, 3)
	if v := m.View(); v != "\n\n" {
		t.Errorf("View at 0×3 = %q", v)
	}
	if title := m.Title(); !strings.HasPrefix(title, "console · boot 1") {
		t.Errorf("title %q", title)
	}
}
