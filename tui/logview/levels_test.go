package logview

import (
	"strings"
	"testing"
	"time"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/tui/panel"
	"github.com/ukdev/ukdev/tui/panel/paneltest"
)

// levelEvents is a Unikraft boot: kernel lines of every level, the
// application's own output without a level, and a VM event.
func levelEvents() panel.EventsMsg {
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	con := func(s int, level, text string) devloop.Event {
		return devloop.Event{Time: at(s), Type: devloop.TypeVMConsole, Boot: 1, Line: text, Level: level}
	}
	return panel.EventsMsg{
		{Time: at(0), Type: devloop.TypeVMStart, Boot: 1, Build: 1, Message: "boot #1 of build #1"},
		con(1, "debug", "dbg:  [libukalloc] <alloc.c @ 3> grow"),
		con(2, "info", "Info: [libkvmplat] <setup.c @ 484> Switch stack"),
		con(3, "warn", "Warn: [libukboot] no memory region"),
		con(4, "", "Hello world!"),
		con(5, "err", "ERR:  [libvfscore] <main.c @ 12> no root"),
		con(6, "crit", "CRIT: [libkvmplat] <traps.c @ 84> Crashing"),
		// A level only counts on console lines.
		{Time: at(7), Type: devloop.TypeBuildOutput, Build: 1, Line: "ERR: not the guest", Level: "err"},
	}
}

func TestLevelFilter(t *testing.T) {
	tests := []struct {
		name  string
		keys  []string
		title string
		shown []string // the plain texts shown, as prefixes
	}{
		{"all", nil, "logs · 8",
			[]string{"boot #1", "dbg:", "Info:", "Warn:", "Hello", "ERR:  [libvfscore]", "CRIT:", "ERR: not"}},
		{"crit and err", keys("L"), "logs · ≥err · 2/8", []string{"ERR:  [libvfscore]", "CRIT:"}},
		{"warn and worse", keys("L", "L"), "logs · ≥warn · 3/8", []string{"Warn:", "ERR:  [libvfscore]", "CRIT:"}},
		{"info and worse", keys("L", "L", "L"), "logs · ≥info · 4/8", []string{"Info:", "Warn:", "ERR:  [libvfscore]", "CRIT:"}},
		{"back to all", keys("L", "L", "L", "L"), "logs · 8",
			[]string{"boot #1", "dbg:", "Info:", "Warn:", "Hello", "ERR:  [libvfscore]", "CRIT:", "ERR: not"}},
		{"with the source filter", keys("o", "L"), "logs · console · ≥err · 2/8", []string{"ERR:  [libvfscore]", "CRIT:"}},
		{"with a library filter", keys("L", "L", "&", typeText("libkvmplat"), "enter"),
			`logs · ≥warn · filter "libkvmplat"i · 1/8`, []string{"CRIT:"}},
		{"esc keeps the level", keys("L", "&", typeText("zzz"), "enter", "esc"), "logs · ≥err · 2/8",
			[]string{"ERR:  [libvfscore]", "CRIT:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New(panel.Deps{Styles: panel.NewStyles(false), Now: func() time.Time { return t0.Add(time.Hour) }})
			m.SetSize(80, 10)
			m.Update(levelEvents())
			run(m, tt.keys)
			if got := m.Title(); got != tt.title {
				t.Errorf("title = %q, want %q", got, tt.title)
			}
			got := shownTexts(m)
			if len(got) != len(tt.shown) {
				t.Fatalf("shown %q, want %d lines starting %q", got, len(tt.shown), tt.shown)
			}
			for i, p := range tt.shown {
				if !strings.HasPrefix(got[i], p) {
					t.Errorf("line %d = %q, want it to start with %q", i, got[i], p)
				}
			}
			paneltest.CheckSize(t, m.View(), 80, 10)
		})
	}
}

func TestLevelFilterAppliesToNewLines(t *testing.T) {
	m := New(panel.Deps{Styles: panel.NewStyles(false), Now: func() time.Time { return t0 }})
	m.SetSize(60, 4)
	run(m, keys("L"))
	if v := m.View(); !strings.Contains(v, "no log lines yet") {
		t.Errorf("empty view:\n%s", v)
	}
	m.Update(levelEvents())
	m.Update(panel.EventsMsg{{Time: t0, Type: devloop.TypeVMConsole, Boot: 1, Line: "ERR: late", Level: "err"},
		{Time: t0, Type: devloop.TypeVMConsole, Boot: 1, Line: "Info: late", Level: "info"}})
	if got := shownTexts(m); len(got) != 3 || got[2] != "ERR: late" {
		t.Errorf("shown %q, want the two errors and the late one", got)
	}
	m = New(panel.Deps{Styles: panel.NewStyles(false), Now: func() time.Time { return t0 }})
	m.SetSize(80, 4)
	run(m, keys("L", "L", "L"))
	m.Update(panel.EventsMsg{{Time: t0, Type: devloop.TypeVMConsole, Boot: 1, Line: "plain"}})
	if v := m.View(); !strings.Contains(v, "no line shown: L changes the level") {
		t.Errorf("view with no shown line:\n%s", v)
	}
}
