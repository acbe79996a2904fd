package console

import (
	"strings"
	"testing"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/tui/panel"
)

// sgrOf is the opening sequence a style renders text with ("" for none).
func sgrOf(st lipgloss.Style) string {
	r := st.Render("x")
	return r[:strings.Index(r, "x")]
}

func TestConsoleColoursByLevel(t *testing.T) {
	st := panel.NewStyles(true)
	const text = "CRIT: [libkvmplat] <traps.c @ 84> Crashing"
	tests := []struct {
		name  string
		color bool
		level string
		line  string
		want  string // the SGR the row starts with; "" for none
	}{
		{"crit", true, "crit", text, sgrOf(st.Error)},
		{"err", true, "err", text, sgrOf(st.Error)},
		{"warn", true, "warn", text, sgrOf(st.Warn)},
		{"debug", true, "debug", text, sgrOf(st.Muted)},
		{"info stays plain", true, "info", text, ""},
		{"no level stays plain", true, "", text, ""},
		{"colour off", false, "crit", text, ""},
		{"guest's own colours kept", true, "err", "\x1b[31mERR:\x1b[m [lib] x", "\x1b[31m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := newModel(t, tt.color, 60, 1)
			e := lineEv(1, tt.line)
			e.Level = tt.level
			update(m, panel.EventsMsg{e})
			row := viewRows(t, m, 60, 1)[0]
			if tt.want == "" {
				if strings.Contains(row, "\x1b") {
					t.Errorf("row is styled: %q", row)
				}
			} else if !strings.HasPrefix(row, tt.want) {
				t.Errorf("row %q does not start with %q", row, tt.want)
			}
			if got, want := strings.TrimRight(ansi.Strip(row), " "), ansi.Strip(tt.line); got != want {
				t.Errorf("text %q, want %q", got, want)
			}
		})
	}
}

func TestLevelColourWrapsAcrossRows(t *testing.T) {
	m, _ := newModel(t, true, 10, 3)
	e := devloop.Event{Type: devloop.TypeVMConsole, Boot: 1, Level: "err", Line: "ERR: abcdefghijklmnopqrstuvwxyz"}
	update(m, panel.EventsMsg{e})
	want := sgrOf(m.deps.Styles.Error)
	for i, r := range viewRows(t, m, 10, 3) {
		if !strings.HasPrefix(r, want) {
			t.Errorf("row %d %q does not start with %q", i, r, want)
		}
	}
}
