package tui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/tui/crashview"
	"github.com/ukdev/ukdev/tui/panel"
	"github.com/ukdev/ukdev/tui/panel/paneltest"
)

// frozenVM is boot 1's machine, frozen: registers, and code of nops.
type frozenVM struct{ fakeInspector }

func (frozenVM) Current() (devloop.VMInfo, bool) { return devloop.VMInfo{Boot: 1}, true }
func (frozenVM) Registers(context.Context) (devloop.Registers, error) {
	return devloop.Registers{RIP: 0x100c7a, RSP: 0x10525c, CR0: 0x11}, nil
}
func (frozenVM) ReadMemory(_ context.Context, _, size uint64, _ bool) ([]byte, error) {
	b := make([]byte, size)
	for i := range b {
		b[i] = 0x90
	}
	return b, nil
}

// A crash opens the crash view over the panels; it takes every key
// (r does not reboot) until esc closes it; c opens it again, and says
// so when there is no crash to show.
func TestCrashViewInDashboard(t *testing.T) {
	m, _, c := fakeModel(120, 40)
	m.crash = crashview.New(m.deps, frozenVM{})
	m = update(m, tea.WindowSizeMsg{Width: 120, Height: 40})

	m = update(m, paneltest.Press("c"))
	if m.crash.Active() || m.status.note != "no crashed VM to show" {
		t.Fatalf("c without a crash: active %v, note %q", m.crash.Active(), m.status.note)
	}

	m = updateAll(m, panel.EventsMsg{
		{Type: devloop.TypeVMStart, Boot: 1, Build: 1},
		{Type: devloop.TypeVMExit, Boot: 1, Build: 1, Reason: "crash", Detail: "triple fault or guest reset"},
	})
	if !m.crash.Active() {
		t.Fatal("the crash did not open the crash view")
	}
	screen := m.render()
	for _, want := range []string{"crash · boot #1", "boot #1 crash: triple fault", "PC 00100c7a", "→ 00100c7a", "nop", "esc close"} {
		if !strings.Contains(screen, want) {
			t.Errorf("the screen lacks %q:\n%s", want, screen)
		}
	}
	m = update(m, paneltest.Press("r"))
	if slices.Contains(c.calls, "Reboot") {
		t.Error("r reached the dashboard through the crash view")
	}
	m = update(m, paneltest.Press("esc"))
	if m.crash.Active() || strings.Contains(m.render(), "crash · boot #1") {
		t.Fatal("esc did not close the crash view")
	}
	m = updateAll(m, paneltest.Press("c"))
	if !m.crash.Active() || !strings.Contains(m.render(), "PC 00100c7a") {
		t.Errorf("c did not reopen the crash view:\n%s", m.render())
	}
}

// The crash view over the dashboard, at the smallest usual terminal and
// a roomy one.
func TestCrashViewGolden(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		w, h := size[0], size[1]
		t.Run(fmt.Sprintf("%dx%d", w, h), func(t *testing.T) {
			m, _, _ := fakeModel(w, h)
			m.crash = crashview.New(m.deps, frozenVM{})
			m = update(m, tea.WindowSizeMsg{Width: w, Height: h})
			m = updateAll(m, panel.EventsMsg{
				{Type: devloop.TypeVMStart, Boot: 1, Build: 1, Time: pinnedNow},
				{Type: devloop.TypeVMCrash, Boot: 1, Build: 1, Detail: "page fault at 0x10 in handler+0x4",
					Frames: []string{"handler+0x4 (/src/app/handler.c:42)", "0xffffffff80001234"}},
				{Type: devloop.TypeVMExit, Boot: 1, Build: 1, Reason: "crash", Detail: "triple fault or guest reset", Time: pinnedNow},
			})
			got := ansi.Strip(m.render())
			lines := strings.Split(got, "\n")
			if len(lines) != h {
				t.Errorf("%d lines, want %d", len(lines), h)
			}
			for i, l := range lines {
				if lw := ansi.StringWidth(l); lw != w {
					t.Errorf("line %d is %d cells wide, want %d", i, lw, w)
				}
			}
			golden.RequireEqual(t, got)
		})
	}
}
