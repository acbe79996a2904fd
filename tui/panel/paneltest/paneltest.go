// Package paneltest is what the panels' tests share: key presses by name,
// the exact-size check every View must pass, and golden files (through
// github.com/charmbracelet/x/exp/golden, so `go test -update` rewrites
// them in testdata/<TestName>/<subtest>.golden).
package paneltest

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/ukdev/ukdev/tui/panel"
)

// named are the keys Press knows by name.
var named = map[string]tea.KeyPressMsg{
	"enter":     {Code: tea.KeyEnter},
	"esc":       {Code: tea.KeyEscape},
	"tab":       {Code: tea.KeyTab},
	"shift+tab": {Code: tea.KeyTab, Mod: tea.ModShift},
	"space":     {Code: tea.KeySpace, Text: " "},
	"up":        {Code: tea.KeyUp},
	"down":      {Code: tea.KeyDown},
	"left":      {Code: tea.KeyLeft},
	"right":     {Code: tea.KeyRight},
	"pgup":      {Code: tea.KeyPgUp},
	"pgdown":    {Code: tea.KeyPgDown},
	"home":      {Code: tea.KeyHome},
	"end":       {Code: tea.KeyEnd},
}

// Press turns a key name into the key press a terminal sends: "enter",
// "esc", "tab", "shift+tab", "space", arrows, "pgup", "pgdown", "home",
// "end", "ctrl+s", or one character ("G" is a shifted g).
func Press(name string) tea.KeyPressMsg {
	if k, ok := named[name]; ok {
		return k
	}
	if c, ok := strings.CutPrefix(name, "ctrl+"); ok {
		return tea.KeyPressMsg{Code: rune(c[0]), Mod: tea.ModCtrl}
	}
	r := []rune(name)[0]
	k := tea.KeyPressMsg{Code: r, Text: name}
	if r >= 'A' && r <= 'Z' {
		k.Code, k.ShiftedCode, k.Mod = r+'a'-'A', r, tea.ModShift
	}
	return k
}

// Keys is Press for each name, as messages.
func Keys(names ...string) []tea.Msg {
	out := make([]tea.Msg, 0, len(names))
	for _, n := range names {
		out = append(out, Press(n))
	}
	return out
}

// CheckSize fails the test unless view is exactly w×h cells, and returns
// its rows.
func CheckSize(tb testing.TB, view string, w, h int) []string {
	tb.Helper()
	rows := strings.Split(view, "\n")
	if len(rows) != h {
		tb.Fatalf("view has %d rows, want %d:\n%s", len(rows), h, view)
	}
	for i, r := range rows {
		if got := ansi.StringWidth(r); got != w {
			tb.Errorf("row %d is %d cells wide, want %d: %q", i, got, w, r)
		}
	}
	return rows
}

// WantText fails the test for each of texts that view does not hold.
func WantText(tb testing.TB, view string, texts ...string) {
	tb.Helper()
	for _, text := range texts {
		if !strings.Contains(view, text) {
			tb.Errorf("view lacks %q:\n%s", text, view)
		}
	}
}

// Snapshot is the panel's title and view as a golden file holds them,
// "title: …\n<view>\n", after checking the view is w×h cells.
func Snapshot(tb testing.TB, p panel.Panel, w, h int) string {
	tb.Helper()
	view := p.View()
	CheckSize(tb, view, w, h)
	return "title: " + p.Title() + "\n" + view + "\n"
}

// Golden compares got with testdata/<test name>.golden; with -update it
// writes the file first.
func Golden(tb testing.TB, got string) {
	tb.Helper()
	golden.RequireEqual(tb, got)
}
