package logview

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/logs"
	"github.com/ukdev/ukdev/tui/panel"
	"github.com/ukdev/ukdev/tui/panel/paneltest"
)

var t0 = time.Date(2025, 1, 2, 12, 0, 0, 0, time.UTC)

// typeText is the key presses that type s into a prompt.
func typeText(s string) []string {
	var out []string
	for _, r := range s {
		out = append(out, string(r))
	}
	return out
}

func keys(parts ...any) []string {
	var out []string
	for _, p := range parts {
		switch p := p.(type) {
		case string:
			out = append(out, p)
		case []string:
			out = append(out, p...)
		}
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// sampleEvents is a short session: a build, two boots, a save.
func sampleEvents() panel.EventsMsg {
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	return panel.EventsMsg{
		{Time: at(0), Type: devloop.TypeStart, Message: "ukdev started"},
		{Time: at(1), Type: devloop.TypeBuildStart, Build: 1, Message: "build #1: make"},
		{Time: at(2), Type: devloop.TypeBuildOutput, Build: 1, Line: "main.c:3:5: warning: unused", Message: "main.c:3:5: warning: unused"},
		{Time: at(3), Type: devloop.TypeBuildDone, Build: 1, OK: ptr(true), Message: "build #1 ok in 12ms"},
		{Time: at(4), Type: devloop.TypeVMStart, Boot: 1, Build: 1, Message: "boot #1 of build #1"},
		{Time: at(5), Type: devloop.TypeVMConsole, Boot: 1, Line: "Hello from boot 1"},
		{Time: at(6), Type: devloop.TypeVMConsole, Boot: 1, Line: "ERROR: disk\ttimeout"},
		{Time: at(7), Type: devloop.TypeVMConsole, Boot: 1, Line: "\x1b[31mred error\x1b[0m\x1b]0;title\x07"},
		{Time: at(8), Type: devloop.TypeVMStart, Boot: 2, Build: 1, Message: "boot #2 of build #1"},
		{Time: at(9), Type: devloop.TypeVMConsole, Boot: 2, Line: "Hello from boot 2"},
		{Time: at(10), Type: devloop.TypeVMConsole, Boot: 2, Line: "error: again"},
		{Time: at(11), Type: devloop.TypeWatchChange, Message: "changed: main.c"},
	}
}

func newModel(w, h int) *Model {
	m := New(panel.Deps{Styles: panel.NewStyles(false), Now: func() time.Time { return t0.Add(time.Hour) }})
	m.SetSize(w, h)
	m.Update(sampleEvents())
	return m
}

func run(m *Model, names []string) tea.Cmd {
	var last tea.Cmd
	for _, n := range names {
		_, last = m.Update(paneltest.Press(n))
	}
	return last
}

func shownTexts(m *Model) []string {
	var out []string
	for i := range m.shown() {
		out = append(out, m.shownLine(i).plain)
	}
	return out
}

func matchText(m *Model) string {
	if m.matchSeq == 0 {
		return ""
	}
	return m.lineAt(int(m.matchSeq - m.base)).plain
}

func TestUpdate(t *testing.T) {
	tests := []struct {
		name    string
		height  int
		keys    []string
		shown   int    // lines shown after the keys
		title   string // substring of the title
		match   string // plain text of the line the last n/N landed on
		capture bool
		check   func(t *testing.T, m *Model)
	}{
		{name: "start", keys: nil, shown: 12, title: "logs · 12"},
		{name: "search jumps to the first match", keys: keys("/", typeText("error"), "enter"),
			shown: 12, title: `search "error"i`, match: "ERROR: disk    timeout"},
		{name: "n goes to the next match", keys: keys("/", typeText("error"), "enter", "n"),
			shown: 12, match: "red error"},
		{name: "n wraps around", keys: keys("/", typeText("error"), "enter", "n", "n", "n"),
			shown: 12, title: "search wrapped", match: "ERROR: disk    timeout"},
		{name: "N goes back", keys: keys("/", typeText("error"), "enter", "n", "N"),
			shown: 12, match: "ERROR: disk    timeout"},
		{name: "search matching case", keys: keys("C", "/", typeText("ERROR"), "enter", "n"),
			shown: 12, title: `search "ERROR" ·`, match: "ERROR: disk    timeout"},
		{name: "search without match", keys: keys("/", typeText("zebra"), "enter"),
			shown: 12, title: `no match for "zebra"i`},
		{name: "n without search", keys: keys("n"), shown: 12, title: "no search"},
		{name: "prompt captures keys", keys: keys("/", typeText("q")), shown: 12, capture: true},
		{name: "esc cancels the prompt", keys: keys("/", typeText("error"), "esc"), shown: 12,
			check: func(t *testing.T, m *Model) {
				if m.search != nil {
					t.Errorf("search = %v after esc, want none", m.search)
				}
			}},
		{name: "filter literal ignoring case", keys: keys("&", typeText("error"), "enter"),
			shown: 3, title: `logs · filter "error"i · 3/12`},
		{name: "filter regexp", keys: keys("&", "ctrl+r", typeText("^(hello|error)"), "enter"),
			shown: 4, title: `filter /^(hello|error)/i · 4/12`},
		{name: "filter regexp then match case", keys: keys("&", "ctrl+r", typeText("^(hello|error)"), "enter", "C"),
			shown: 1, title: `filter /^(hello|error)/ · 1/12`},
		{name: "filter case toggled in the prompt", keys: keys("&", "ctrl+t", typeText("Hello"), "enter"),
			shown: 2, title: `filter "Hello" · 2/12`},
		{name: "bad regexp keeps the prompt open", keys: keys("&", "ctrl+r", typeText("(err"), "enter"),
			shown: 12, title: "missing closing )", capture: true},
		{name: "regexp toggle refused for a literal that is no regexp", keys: keys("&", typeText("(err"), "enter", "X"),
			shown: 0, title: `filter "(err"i · 0/12 · logview: pattern`},
		{name: "esc clears the search first, then the filter", keys: keys("&", typeText("boot"), "enter", "/", typeText("2"), "enter", "esc"),
			shown: 4, title: `filter "boot"i · 4/12`},
		{name: "esc twice clears both", keys: keys("&", typeText("boot"), "enter", "/", typeText("2"), "enter", "esc", "esc"),
			shown: 12, title: "logs · 12"},
		{name: "source console", keys: keys("o"), shown: 5, title: "logs · console · 5/12"},
		{name: "source syslog", keys: keys("o", "o"), shown: 0, title: "logs · syslog · 0/12"},
		{name: "source build", keys: keys("o", "o", "o"), shown: 3, title: "logs · build · 3/12"},
		{name: "source vm", keys: keys("o", "o", "o", "o"), shown: 2, title: "logs · vm · 2/12"},
		{name: "source ukdev", keys: keys("o", "o", "o", "o", "o"), shown: 2, title: "logs · ukdev · 2/12"},
		{name: "source cloud", keys: keys("o", "o", "o", "o", "o", "o"), shown: 0, title: "logs · cloud · 0/12"},
		{name: "source back to all", keys: keys("o", "o", "o", "o", "o", "o", "o"), shown: 12, title: "logs · 12"},
		{name: "source and filter together", keys: keys("o", "&", typeText("hello"), "enter"), shown: 2,
			title: `logs · console · filter "hello"i · 2/12`},
		{name: "timestamps off", keys: keys("t"), shown: 12, check: func(t *testing.T, m *Model) {
			if strings.Contains(ansi.Strip(m.View()), "12:00:0") {
				t.Errorf("view shows times after t:\n%s", m.View())
			}
		}},
		{name: "timestamps on", keys: nil, shown: 12, check: func(t *testing.T, m *Model) {
			if !strings.Contains(ansi.Strip(m.View()), "12:00:11") {
				t.Errorf("view lacks times:\n%s", m.View())
			}
		}},
		{name: "jump to boot", height: 3, keys: keys("b", typeText("2"), "enter"), shown: 12, title: "boot #2",
			check: func(t *testing.T, m *Model) {
				if got := m.shownLine(m.top()).plain; got != "boot #2 of build #1" {
					t.Errorf("top line = %q, want the start of boot 2", got)
				}
				if m.scroll.Following() {
					t.Error("still following after a jump")
				}
			}},
		{name: "jump to a boot not shown", keys: keys("b", typeText("9"), "enter"), shown: 12, title: "no shown lines of boot #9"},
		{name: "jump to a bad boot number", keys: keys("b", typeText("x"), "enter"), shown: 12, title: `not a boot number: "x"`},
		{name: "scrolling up pauses", height: 3, keys: keys("k"), shown: 12, title: "paused (G follows)",
			check: func(t *testing.T, m *Model) {
				if got := m.top(); got != 8 {
					t.Errorf("top = %d, want 8", got)
				}
			}},
		{name: "G follows again", height: 3, keys: keys("k", "pgup", "G"), shown: 12, check: func(t *testing.T, m *Model) {
			if !m.scroll.Following() || m.top() != 9 {
				t.Errorf("follow = %v, top = %d; want following at 9", m.scroll.Following(), m.top())
			}
		}},
		{name: "home goes to the oldest line", height: 3, keys: keys("home"), shown: 12, check: func(t *testing.T, m *Model) {
			if m.top() != 0 || m.scroll.Following() {
				t.Errorf("top = %d follow = %v; want 0, paused", m.top(), m.scroll.Following())
			}
		}},
		{name: "scrolling down to the end follows", height: 3, keys: keys("home", "pgdown", "pgdown", "pgdown", "pgdown"), shown: 12,
			check: func(t *testing.T, m *Model) {
				if !m.scroll.Following() {
					t.Error("not following at the bottom")
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.height
			if h == 0 {
				h = 20
			}
			m := newModel(80, h)
			run(m, tt.keys)
			if got := m.shown(); got != tt.shown {
				t.Errorf("shown = %d, want %d: %q", got, tt.shown, shownTexts(m))
			}
			if !strings.Contains(m.Title(), tt.title) {
				t.Errorf("title = %q, want it to contain %q", m.Title(), tt.title)
			}
			if tt.match != "" && matchText(m) != tt.match {
				t.Errorf("match = %q, want %q", matchText(m), tt.match)
			}
			if m.Capturing() != tt.capture {
				t.Errorf("Capturing() = %v, want %v", m.Capturing(), tt.capture)
			}
			if tt.check != nil {
				tt.check(t, m)
			}
			paneltest.CheckSize(t, m.View(), 80, h)
		})
	}
}

func TestGuestTextIsSanitized(t *testing.T) {
	m := newModel(80, 20)
	for _, l := range m.lines.all() {
		if strings.ContainsAny(l.text, "\x1b\x07\t") {
			t.Errorf("line %q keeps escapes or tabs with colour off", l.text)
		}
	}
	colored := New(panel.Deps{Styles: panel.NewStyles(true)})
	colored.Update(sampleEvents())
	got := colored.lineAt(7)
	if got.text != "\x1b[31mred error\x1b[0m" || got.plain != "red error" {
		t.Errorf("coloured line = %q (plain %q), want SGR kept and the OSC dropped", got.text, got.plain)
	}
}

func TestBounded(t *testing.T) {
	m := New(panel.Deps{Styles: panel.NewStyles(false)})
	m.maxLines = 100
	m.SetSize(40, 5)
	run(m, keys("&", typeText("7"), "enter"))
	for i := range 1000 {
		m.Update(panel.EventsMsg{{Time: t0, Type: devloop.TypeVMConsole, Boot: 1, Line: "line " + string(rune('0'+i%10))}})
	}
	if n := m.lines.len(); n < 100 || n > 100+100/8 {
		t.Errorf("holds %d lines, want 100 to 112", n)
	}
	for i := range m.shown() {
		if got := m.shownLine(i).plain; got != "line 7" {
			t.Fatalf("shown line %d = %q, want only matches", i, got)
		}
	}
	if got, want := m.shown(), m.lines.len()/10; got < want-1 || got > want+1 {
		t.Errorf("shown = %d of %d, want about a tenth", got, m.lines.len())
	}
}

func TestSave(t *testing.T) {
	dir := t.TempDir()
	m := New(panel.Deps{Styles: panel.NewStyles(false), StateDir: dir, Now: func() time.Time { return t0.Add(time.Hour) }})
	m.SetSize(80, 20)
	m.Update(sampleEvents())
	run(m, keys("&", typeText("hello"), "enter"))
	cmd := run(m, keys("ctrl+s"))
	if cmd == nil {
		t.Fatal("ctrl+s returned no command")
	}
	m.Update(cmd())
	path := filepath.Join(dir, "ukdev-logs-20250102-130000.txt")
	if want := "saved 2 lines"; !strings.Contains(m.Title(), want) {
		t.Errorf("title = %q, want %q", m.Title(), want)
	}
	paneltest.WantText(t, m.View(), "saved to "+path)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "2025-01-02 12:00:05.000 #1    console Hello from boot 1\n" +
		"2025-01-02 12:00:09.000 #2    console Hello from boot 2\n"
	if string(data) != want {
		t.Errorf("saved file:\n%s\nwant:\n%s", data, want)
	}
	// A second save in the same second does not overwrite the first.
	m.Update(run(m, keys("ctrl+s"))())
	if !strings.Contains(m.Title(), "save failed") {
		t.Errorf("title = %q after a second save, want a failure", m.Title())
	}
}

// newStore makes a log store with two finished boots.
func newStore(t *testing.T) *logs.Store {
	t.Helper()
	s, err := logs.Open(t.TempDir(), logs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, text := range []string{"one\r\n\x1b]52;c;aGk=\x07two\n", "three\nfour"} {
		w, err := s.StartBoot(logs.BootInfo{Boot: i + 1, Build: 1, Start: t0.Add(time.Duration(i) * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(text)); err != nil {
			t.Fatal(err)
		}
		if err := w.Finish(t0.Add(time.Duration(i)*time.Minute+time.Second), logs.ReasonKilled, nil); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestHistory(t *testing.T) {
	type want struct {
		boot int
		src  logs.Source
		text string
		at   time.Time
	}
	tests := []struct {
		name  string
		ring  []logs.Line // appended to a ring of capacity ringCap
		cap   int
		live  panel.EventsMsg // arrives before the history
		lines []want
	}{
		{name: "store only", lines: []want{
			{1, logs.SourceConsole, "one", t0}, {1, logs.SourceConsole, "two", time.Time{}},
			{2, logs.SourceConsole, "three", t0.Add(time.Minute)}, {2, logs.SourceConsole, "four", time.Time{}},
		}},
		{name: "ring holds boot 3, build lines get the boot before them",
			ring: []logs.Line{
				{Time: t0.Add(3 * time.Minute), Boot: 3, Source: logs.SourceConsole, Text: "five"},
				{Time: t0.Add(4 * time.Minute), Build: 2, Source: logs.SourceBuild, Text: "cc main.c"},
			},
			lines: []want{
				{1, logs.SourceConsole, "one", t0}, {1, logs.SourceConsole, "two", time.Time{}},
				{2, logs.SourceConsole, "three", t0.Add(time.Minute)}, {2, logs.SourceConsole, "four", time.Time{}},
				{3, logs.SourceConsole, "five", t0.Add(3 * time.Minute)},
				{3, logs.SourceBuild, "cc main.c", t0.Add(4 * time.Minute)},
			}},
		{name: "the ring's boot is shown from the ring, not the file",
			ring: []logs.Line{{Time: t0.Add(time.Minute), Boot: 2, Source: logs.SourceConsole, Text: "three"}},
			lines: []want{
				{1, logs.SourceConsole, "one", t0}, {1, logs.SourceConsole, "two", time.Time{}},
				{2, logs.SourceConsole, "three", t0.Add(time.Minute)},
			}},
		{name: "a ring that evicted lines gives its oldest boot back to the file", cap: 2,
			ring: []logs.Line{
				{Time: t0.Add(time.Minute), Boot: 2, Source: logs.SourceConsole, Text: "three"},
				{Time: t0.Add(time.Minute), Boot: 2, Source: logs.SourceConsole, Text: "four"},
				{Time: t0.Add(3 * time.Minute), Boot: 3, Source: logs.SourceConsole, Text: "five"},
			},
			lines: []want{
				{1, logs.SourceConsole, "one", t0}, {1, logs.SourceConsole, "two", time.Time{}},
				{2, logs.SourceConsole, "three", t0.Add(time.Minute)}, {2, logs.SourceConsole, "four", time.Time{}},
				{3, logs.SourceConsole, "five", t0.Add(3 * time.Minute)},
			}},
		{name: "live lines are not repeated from the ring",
			ring: []logs.Line{
				{Time: t0.Add(3 * time.Minute), Boot: 3, Source: logs.SourceConsole, Text: "five"},
				{Time: t0.Add(4 * time.Minute), Boot: 3, Source: logs.SourceConsole, Text: "six"},
			},
			live: panel.EventsMsg{{Time: t0.Add(4 * time.Minute), Type: devloop.TypeVMConsole, Boot: 3, Line: "six"}},
			lines: []want{
				{1, logs.SourceConsole, "one", t0}, {1, logs.SourceConsole, "two", time.Time{}},
				{2, logs.SourceConsole, "three", t0.Add(time.Minute)}, {2, logs.SourceConsole, "four", time.Time{}},
				{3, logs.SourceConsole, "five", t0.Add(3 * time.Minute)},
				{3, logs.SourceConsole, "six", t0.Add(4 * time.Minute)},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ring := logs.NewRing(tt.cap)
			for _, l := range tt.ring {
				ring.Append(l)
			}
			m := New(panel.Deps{Styles: panel.NewStyles(false), Store: newStore(t), Ring: ring,
				Now: func() time.Time { return t0.Add(time.Hour) }})
			m.SetSize(60, 10)
			cmd := m.Init()
			if cmd == nil {
				t.Fatal("Init returned no command")
			}
			msg := cmd()
			if tt.live != nil {
				m.Update(tt.live)
			}
			m.Update(msg)
			if m.lines.len() != len(tt.lines) {
				t.Fatalf("got %d lines %q, want %d", m.lines.len(), shownTexts(m), len(tt.lines))
			}
			for i, w := range tt.lines {
				l := m.lineAt(i)
				if l.boot != w.boot || l.source != w.src || l.plain != w.text || !l.at.Equal(w.at) || l.seq != uint64(i+1) {
					t.Errorf("line %d = {boot %d %s %q %v seq %d}, want {boot %d %s %q %v seq %d}",
						i, l.boot, l.source, l.plain, l.at, l.seq, w.boot, w.src, w.text, w.at, i+1)
				}
			}
		})
	}
}

func TestHistoryKeepsThePosition(t *testing.T) {
	m := New(panel.Deps{Styles: panel.NewStyles(false), Store: newStore(t), Now: func() time.Time { return t0.Add(time.Hour) }})
	m.SetSize(60, 3)
	m.Update(sampleEvents())
	run(m, keys("home", "j"))
	before := m.shownLine(m.top()).plain
	m.Update(m.Init()())
	if after := m.shownLine(m.top()).plain; after != before {
		t.Errorf("top line %q became %q when the history arrived", before, after)
	}
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name string
		w, h int
		keys []string
	}{
		{name: "following-60x8", w: 60, h: 8},
		{name: "search-100x14", w: 100, h: 14, keys: keys("/", typeText("error"), "enter")},
		{name: "filter-prompt-60x8", w: 60, h: 8, keys: keys("o", "&", "ctrl+r", typeText("boot [12]"))},
		{name: "no-times-narrow-30x5", w: 30, h: 5, keys: keys("t", "home")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newModel(tt.w, tt.h)
			run(m, tt.keys)
			paneltest.Golden(t, ansi.Strip(paneltest.Snapshot(t, m, tt.w, tt.h)))
		})
	}
}

func TestMouseWheel(t *testing.T) {
	m := newModel(60, 3)
	m.Update(tea.MouseWheelMsg{Button: tea.MouseWheelUp})
	if m.scroll.Following() || m.top() != 6 {
		t.Errorf("after wheel up: follow %v top %d, want paused at 6", m.scroll.Following(), m.top())
	}
	m.Update(tea.MouseWheelMsg{Button: tea.MouseWheelDown})
	if !m.scroll.Following() {
		t.Error("wheel down to the bottom does not follow")
	}
}

func TestMatchesHighlighted(t *testing.T) {
	m := newModel(80, 20)
	run(m, keys("/", typeText("error"), "enter"))
	view := m.View()
	for _, want := range []string{"ERROR", "error"} {
		if hl := m.styles.Match.Render(want); !strings.Contains(view, hl) {
			t.Errorf("view lacks the highlighted match %q", hl)
		}
	}
}

// TestHistoryAtStartDoesNotRepeatLiveLines is the dashboard's start: the
// loop's first build line is in the ring before the history is read, and
// its event reaches the panel only after the history.
func TestHistoryAtStartDoesNotRepeatLiveLines(t *testing.T) {
	start := t0.Add(time.Hour) // the loop starts; boots 1 and 2 are from an earlier run
	ring := logs.NewRing(0)
	ring.Append(logs.Line{Time: start.Add(20 * time.Millisecond), Build: 3, Source: logs.SourceBuild, Text: "cc main.c"})
	m := New(panel.Deps{Styles: panel.NewStyles(false), Store: newStore(t), Ring: ring,
		LiveSince: start, Now: func() time.Time { return start.Add(time.Second) }})
	m.SetSize(60, 10)
	m.Update(m.Init()())
	m.Update(panel.EventsMsg{
		{Time: start, Type: devloop.TypeStart, Message: "ukdev started"},
		{Time: start.Add(10 * time.Millisecond), Type: devloop.TypeBuildOutput, Build: 3, Line: "cc main.c"},
	})
	var got []string
	for _, l := range m.lines.all() {
		got = append(got, bootLabel(l.boot)+" "+l.plain)
	}
	want := []string{"#1 one", "#1 two", "#2 three", "#2 four", "- ukdev started", "- cc main.c"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestSaveGoesToStateDir: ctrl+s writes into the state directory, never
// into the project (the working directory, which is watched), and the
// panel shows the whole path even when it is narrower than the path.
func TestSaveGoesToStateDir(t *testing.T) {
	project := t.TempDir()
	t.Chdir(project)
	state := filepath.Join(t.TempDir(), "state", "ukdev", "hello-0123abcd")
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	m := New(panel.Deps{Styles: panel.NewStyles(false), StateDir: state, Now: func() time.Time { return t0.Add(time.Hour) }})
	m.SetSize(30, 8)
	m.Update(sampleEvents())
	m.Update(run(m, keys("ctrl+s"))())
	path := filepath.Join(state, "ukdev-logs-20250102-130000.txt")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("saved file: %v", err)
	}
	if entries, _ := os.ReadDir(project); len(entries) > 0 {
		t.Errorf("save wrote %s into the project directory", entries[0].Name())
	}
	view := ansi.Strip(m.View())
	paneltest.CheckSize(t, view, 30, 8)
	if joined := strings.Join(strings.Fields(view), ""); !strings.Contains(joined, path) {
		t.Errorf("view does not show the whole path %s:\n%s", path, view)
	}
	// The next key puts the log back in the whole panel.
	run(m, keys("k"))
	if view := ansi.Strip(m.View()); strings.Contains(view, "saved") {
		t.Errorf("notice still shown after a key:\n%s", view)
	}
}

// TestLinesBoundedByBytes floods the panel with 64 KiB build lines: it
// must keep a bounded number of bytes, each long line cut for display
// with a marker, not MaxLines times the longest line.
func TestLinesBoundedByBytes(t *testing.T) {
	m := New(panel.Deps{Styles: panel.NewStyles(false), Now: func() time.Time { return t0 }})
	m.SetSize(80, 10)
	long := strings.Repeat("y", 64<<10)
	for i := range 40 {
		batch := make(panel.EventsMsg, 50)
		for j := range batch {
			batch[j] = devloop.Event{Time: t0.Add(time.Duration(i*50+j) * time.Millisecond), Type: devloop.TypeBuildOutput, Build: 1, Line: long}
		}
		m.Update(batch)
	}
	held := 0
	for _, l := range m.lines.all() {
		held += len(l.text)
		if len(l.plain) != len(l.text) {
			held += len(l.plain)
		}
	}
	if held > 40<<20 {
		t.Fatalf("panel holds %d MiB of text in %d lines, want at most 40 MiB", held>>20, m.lines.len())
	}
	last := m.lines.at(m.lines.len() - 1).plain
	if len(last) >= len(long) || !strings.HasSuffix(last, "bytes]") {
		t.Fatalf("a 64 KiB line is kept as %d bytes ending %q, want it cut with a marker", len(last), last[max(len(last)-30, 0):])
	}
}
