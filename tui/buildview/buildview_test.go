package buildview

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unsafe"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/tui/panel"
	"github.com/ukdev/ukdev/tui/panel/paneltest"
)

func ptr[T any](v T) *T { return &v }

func start(n int) devloop.Event {
	return devloop.Event{Type: devloop.TypeBuildStart, Build: n, Command: "make", Message: "build #n: make"}
}

func output(n int, lines ...string) []devloop.Event {
	var out []devloop.Event
	for _, l := range lines {
		out = append(out, devloop.Event{Type: devloop.TypeBuildOutput, Build: n, Line: l, Message: l})
	}
	return out
}

func failed(n, code int, msg string) devloop.Event {
	return devloop.Event{Type: devloop.TypeBuildDone, Build: n, OK: ptr(false), ExitCode: ptr(code), DurationMS: ptr(80.0), Message: msg}
}

func ok(n int, ms float64, msg string) devloop.Event {
	return devloop.Event{Type: devloop.TypeBuildDone, Build: n, OK: ptr(true), ExitCode: ptr(0), DurationMS: ptr(ms), Message: msg}
}

func events(parts ...any) panel.EventsMsg {
	var out panel.EventsMsg
	for _, p := range parts {
		switch p := p.(type) {
		case devloop.Event:
			out = append(out, p)
		case []devloop.Event:
			out = append(out, p...)
		}
	}
	return out
}

const failMsg = "build #7 failed (exit 2) — still running boot #6 from build #6"

// failedBuild is build 7 failing with two compiler errors.
func failedBuild() panel.EventsMsg {
	return events(start(7), output(7,
		"cc -c main.c",
		"\x1b[01m\x1b[Kmain.c:12:5:\x1b[m\x1b[K \x1b[01;31m\x1b[Kerror: \x1b[m\x1b[K'x' undeclared",
		"   12 |     x = 1;",
		"lib/util.c:3:1: error: expected ';'",
		"make: *** [Makefile:4: main.o] Error 1",
	), failed(7, 2, failMsg))
}

func newModel(w, h int) *Model {
	m := New(panel.Deps{Styles: panel.NewStyles(false)})
	m.SetSize(w, h)
	return m
}

func TestUpdate(t *testing.T) {
	tests := []struct {
		name   string
		msgs   []panel.EventsMsg
		keys   []string
		after  []panel.EventsMsg // after the keys
		title  string
		pinned string
		lines  []string // plain text of the panel's lines
		sel    string   // plain text of the selected line, "" for none
	}{
		{name: "nothing yet", title: "build · none yet"},
		{name: "running", msgs: []panel.EventsMsg{events(start(3), output(3, "cc main.c"))},
			title: "build #3 · running", lines: []string{"$ make", "cc main.c"}},
		{name: "ok", msgs: []panel.EventsMsg{events(start(3), output(3, "cc main.c"), ok(3, 231.4, "build #3 ok in 231ms"))},
			title: "build #3 · ok in 231ms", lines: []string{"$ make", "cc main.c", "build #3 ok in 231ms"}},
		{name: "failed is pinned", msgs: []panel.EventsMsg{failedBuild()},
			title: "build #7 · failed (exit 2)", pinned: failMsg},
		{name: "pinned failure stays through the next build's output",
			msgs:  []panel.EventsMsg{failedBuild(), events(start(8), output(8, "cc -c main.c", "still compiling"))},
			title: "build #8 · running", pinned: failMsg,
			lines: []string{"$ make", "cc -c main.c", "still compiling"}},
		{name: "pinned failure stays through a canceled build",
			msgs:  []panel.EventsMsg{failedBuild(), events(start(8), devloop.Event{Type: devloop.TypeBuildCanceled, Build: 8, Message: "build #8 canceled: sources changed"})},
			title: "build #8 · canceled", pinned: failMsg,
			lines: []string{"$ make", "build #8 canceled: sources changed"}},
		{name: "a later failure replaces the pin",
			msgs:  []panel.EventsMsg{failedBuild(), events(start(8), failed(8, 1, "build #8 failed (exit 1)"))},
			title: "build #8 · failed (exit 1)", pinned: "build #8 failed (exit 1)"},
		{name: "a good build clears the pin",
			msgs:  []panel.EventsMsg{failedBuild(), events(start(8), ok(8, 1500, "build #8 ok in 1.5s"))},
			title: "build #8 · ok in 1.50s", lines: []string{"$ make", "build #8 ok in 1.5s"}},
		{name: "output without a start (panel opened mid-build)", msgs: []panel.EventsMsg{events(output(4, "ld kernel"))},
			title: "build #4 · running", lines: []string{"ld kernel"}},
		{name: "j selects the first location", msgs: []panel.EventsMsg{failedBuild()}, pinned: failMsg, keys: []string{"j"},
			sel: "main.c:12:5: error: 'x' undeclared"},
		{name: "j skips lines without a location", msgs: []panel.EventsMsg{failedBuild()}, pinned: failMsg, keys: []string{"j", "j"},
			sel: "lib/util.c:3:1: error: expected ';'"},
		{name: "j stops at the last location", msgs: []panel.EventsMsg{failedBuild()}, pinned: failMsg, keys: []string{"j", "j", "j", "j"},
			sel: "make: *** [Makefile:4: main.o] Error 1"},
		{name: "k starts from the last location", msgs: []panel.EventsMsg{failedBuild()}, pinned: failMsg, keys: []string{"k"},
			sel: "make: *** [Makefile:4: main.o] Error 1"},
		{name: "enter without a selection", msgs: []panel.EventsMsg{failedBuild()}, pinned: failMsg, keys: []string{"enter"},
			title: "no location selected"},
		{name: "a new build clears the selection", msgs: []panel.EventsMsg{failedBuild()}, keys: []string{"j"},
			after: []panel.EventsMsg{events(start(8))}, title: "build #8 · running", pinned: failMsg},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newModel(70, 10)
			for _, msg := range tt.msgs {
				m.Update(msg)
			}
			for _, k := range tt.keys {
				m.Update(paneltest.Press(k))
			}
			for _, msg := range tt.after {
				m.Update(msg)
			}
			if !strings.Contains(m.Title(), tt.title) {
				t.Errorf("title = %q, want it to contain %q", m.Title(), tt.title)
			}
			if m.pinned != tt.pinned {
				t.Errorf("pinned = %q, want %q", m.pinned, tt.pinned)
			}
			if tt.lines != nil {
				var got []string
				for _, l := range m.lines {
					got = append(got, l.plain)
				}
				if !slices.Equal(got, tt.lines) {
					t.Errorf("lines = %q, want %q", got, tt.lines)
				}
			}
			sel := ""
			if m.sel >= 0 {
				sel = m.lines[m.sel].plain
			}
			if sel != tt.sel {
				t.Errorf("selected %q, want %q", sel, tt.sel)
			}
			paneltest.CheckSize(t, m.View(), 70, 10)
			if tt.pinned != "" {
				if first, _, _ := strings.Cut(ansi.Strip(m.View()), "\n"); !strings.HasPrefix(first, tt.pinned[:20]) {
					t.Errorf("first row = %q, want the pinned failure", first)
				}
			}
		})
	}
}

func TestPinnedStaysWhileScrolling(t *testing.T) {
	m := newModel(50, 4)
	m.Update(failedBuild())
	m.Update(events(start(8)))
	for i := range 50 {
		m.Update(events(output(8, strings.Repeat("x", i%7))))
	}
	for _, k := range []string{"pgup", "pgup", "home"} {
		m.Update(paneltest.Press(k))
		if first, _, _ := strings.Cut(ansi.Strip(m.View()), "\n"); !strings.HasPrefix(first, "build #7 failed") {
			t.Fatalf("after %s the first row is %q, want the pinned failure", k, first)
		}
	}
}

func TestLocationsHighlighted(t *testing.T) {
	m := newModel(70, 10)
	m.Update(failedBuild())
	view := m.View()
	for _, loc := range []string{"main.c:12:5", "lib/util.c:3:1", "Makefile:4"} {
		if hl := m.styles.Location.Render(loc); !strings.Contains(view, hl) {
			t.Errorf("view lacks the highlighted location %q", hl)
		}
	}
}

func TestParseLocations(t *testing.T) {
	tests := []struct {
		name string
		line string
		want []string // file:line[:col] of each location
		span string   // the text of the first location's span
	}{
		{"gcc", "main.c:12:5: error: 'x' undeclared (first use in this function)", []string{"main.c:12:5"}, "main.c:12:5"},
		{"gcc include chain", "In file included from /usr/include/stdio.h:27,", []string{"/usr/include/stdio.h:27"}, "/usr/include/stdio.h:27"},
		{"clang", "src/kernel/boot.c:88:14: warning: unused variable 'n' [-Wunused-variable]", []string{"src/kernel/boot.c:88:14"}, "src/kernel/boot.c:88:14"},
		{"go", "./main.go:7:2: undefined: fmt.Printl", []string{"./main.go:7:2"}, "./main.go:7:2"},
		{"go test", "    loop_test.go:42: got 3, want 4", []string{"loop_test.go:42"}, "loop_test.go:42"},
		{"go panic frame", "\t/src/app/main.go:12 +0x1d", []string{"/src/app/main.go:12"}, "/src/app/main.go:12"},
		{"rust", "  --> src/main.rs:3:5", []string{"src/main.rs:3:5"}, "src/main.rs:3:5"},
		{"ld", "kernel.ld:10: syntax error", []string{"kernel.ld:10"}, "kernel.ld:10"},
		{"make", "make: *** [Makefile:4: main.o] Error 1", []string{"Makefile:4"}, "Makefile:4"},
		{"python", `  File "tools/gen.py", line 9, in <module>`, []string{"tools/gen.py:9"}, `File "tools/gen.py", line 9`},
		{"two", "a.c:1:2: note: previous b.h:3:4 here", []string{"a.c:1:2", "b.h:3:4"}, "a.c:1:2"},
		{"time", "12:03:11 build started", nil, ""},
		{"url", "fetching http://example.com:8080/x.tar", nil, ""},
		{"host and port", "listening on localhost:8080", nil, ""},
		{"domain and port", "connect example.com:443 failed", nil, ""},
		{"ip and port", "dial 127.0.0.1:22", nil, ""},
		{"ld object", "/usr/bin/ld: main.o: in function `main':", nil, ""},
		{"line zero", "x.c:0: odd", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			locs := parseLocations(tt.line)
			var got []string
			for _, l := range locs {
				got = append(got, l.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("parseLocations(%q) = %q, want %q", tt.line, got, tt.want)
			}
			if len(locs) > 0 {
				if span := tt.line[locs[0].start:locs[0].end]; span != tt.span {
					t.Errorf("span = %q, want %q", span, tt.span)
				}
			}
		})
	}
}

// TestEnterOpensEditor follows enter to the exec command without running
// an editor: the check command's message carries the argv.
func TestEnterOpensEditor(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "lib", "util.c"), []byte("int x;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		editor  string
		keys    []string
		want    []string // argv of the editor, nil when an error is expected
		wantErr error
		title   string
	}{
		{name: "vi at the line", editor: "true", keys: []string{"j", "j", "enter"},
			want: []string{"true", "+3", filepath.Join(dir, "lib/util.c")}},
		{name: "missing file", editor: "true", keys: []string{"j", "enter"}, wantErr: fs.ErrNotExist,
			title: "editor: open main.c:12:5:"},
		{name: "missing editor", editor: "no-such-editor-ukdev", keys: []string{"j", "j", "enter"},
			wantErr: exec.ErrNotFound, title: "editor: exec: \"no-such-editor-ukdev\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newModel(70, 10)
			m.SetDir(dir)
			m.getenv = func(k string) string {
				if k == "EDITOR" {
					return tt.editor
				}
				return ""
			}
			m.Update(failedBuild())
			var cmd tea.Cmd
			for _, k := range tt.keys {
				_, cmd = m.Update(paneltest.Press(k))
			}
			if cmd == nil {
				t.Fatal("enter returned no command")
			}
			msg := cmd()
			switch msg := msg.(type) {
			case editorMsg:
				if !slices.Equal(msg.argv, tt.want) {
					t.Errorf("argv = %q, want %q", msg.argv, tt.want)
				}
				if _, execCmd := m.Update(msg); execCmd == nil {
					t.Error("editorMsg gave no exec command")
				}
			case editorDoneMsg:
				if !errors.Is(msg.err, tt.wantErr) || tt.wantErr == nil {
					t.Fatalf("error = %v, want %v", msg.err, tt.wantErr)
				}
				m.Update(msg)
				if !strings.Contains(m.Title(), tt.title) {
					t.Errorf("title = %q, want it to contain %q", m.Title(), tt.title)
				}
			default:
				t.Fatalf("command gave %T, want an editor message", msg)
			}
		})
	}
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name string
		w, h int
		msgs []panel.EventsMsg
		keys []string
	}{
		{name: "failed-70x10", w: 70, h: 10, msgs: []panel.EventsMsg{failedBuild()}, keys: []string{"j"}},
		{name: "pinned-rebuilding-40x5", w: 40, h: 5,
			msgs: []panel.EventsMsg{failedBuild(), events(start(8), output(8, "cc -c main.c", "cc -c lib/util.c", "ld -o kernel"))}},
		{name: "ok-40x5", w: 40, h: 5,
			msgs: []panel.EventsMsg{failedBuild(), events(start(8), output(8, "cc -c main.c"), ok(8, 231, "build #8 ok in 231ms"))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newModel(tt.w, tt.h)
			for _, msg := range tt.msgs {
				m.Update(msg)
			}
			for _, k := range tt.keys {
				m.Update(paneltest.Press(k))
			}
			paneltest.Golden(t, ansi.Strip(paneltest.Snapshot(t, m, tt.w, tt.h)))
		})
	}
}

// heldBytes is the text the panel holds for its lines, counting a string
// that shares another's memory once.
func heldBytes(m *Model) int {
	n := 0
	for _, l := range m.lines {
		n += len(l.text)
		if len(l.plain) > 0 && unsafe.StringData(l.plain) != unsafe.StringData(l.text) {
			n += len(l.plain)
		}
	}
	return n
}

// TestLongLinesBounded floods the panel with very long lines: it keeps
// its lines under its byte bound as well as its line bound, never holds
// on to the memory of the events' lines, and shows a kept line cut with a
// marker saying how much was left out.
func TestLongLinesBounded(t *testing.T) {
	tests := []struct {
		name         string
		lineLen, n   int
		color        bool
		marker       string // the end of the last row; "" for no marker
		wantMaxLines bool   // the line bound is what holds
	}{
		{name: "64 KiB lines", lineLen: 64 << 10, n: 2400, marker: "…[+60.0 KiB]"},
		{name: "64 KiB coloured lines", lineLen: 64 << 10, n: 1500, color: true, marker: "…[+60.0 KiB]"},
		{name: "1 MiB lines", lineLen: 1 << 20, n: 20, marker: "…[+1020.0 KiB]"},
		{name: "short lines", lineLen: 40, n: 30000, wantMaxLines: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New(panel.Deps{Styles: panel.NewStyles(tt.color)})
			m.SetSize(60, 6)
			m.Update(events(start(1)))
			var last string
			for i := 0; i < tt.n; {
				var batch panel.EventsMsg
				for ; i < tt.n && len(batch) < 256; i++ {
					prefix := fmt.Sprintf("main.c:%d:1: warning: ", i)
					if tt.color && i%2 == 0 {
						prefix = "\x1b[01;35m" + prefix + "\x1b[m"
					}
					last = prefix + strings.Repeat("x", tt.lineLen-len(prefix))
					batch = append(batch, output(1, last)...)
				}
				m.Update(batch)
				if got := heldBytes(m); got > maxBytes {
					t.Fatalf("after %d lines the panel holds %d bytes of text, over its bound of %d", i, got, maxBytes)
				}
				if len(m.lines) > MaxLines+MaxLines/8 {
					t.Fatalf("after %d lines the panel holds %d lines, over its bound of %d", i, len(m.lines), MaxLines)
				}
				// A line cut for display is a copy: a piece of the
				// event's line would keep all of it in memory.
				for _, l := range m.lines {
					if p := unsafe.StringData(l.text); tt.marker != "" && p == unsafe.StringData(last) {
						t.Fatalf("a kept line shares the memory of an event's %d-byte line", len(last))
					}
				}
			}
			if tt.wantMaxLines && len(m.lines) < MaxLines {
				t.Errorf("%d short lines kept, want %d: the byte bound must not cut short lines", len(m.lines), MaxLines)
			}
			view := m.View()
			paneltest.CheckSize(t, view, 60, 6)
			rows := strings.Split(ansi.Strip(view), "\n")
			lastRow := rows[len(rows)-1]
			if !strings.HasPrefix(lastRow, fmt.Sprintf("main.c:%d:1: warning: x", tt.n-1)) {
				t.Errorf("last row %q, want the last line", lastRow)
			}
			if tt.marker != "" && !strings.HasSuffix(lastRow, tt.marker) {
				t.Errorf("last row %q, want it to end with the marker %q", lastRow, tt.marker)
			}
			if tt.marker == "" && strings.Contains(lastRow, "…[") {
				t.Errorf("last row %q has a cut marker, want none", lastRow)
			}
		})
	}
}
