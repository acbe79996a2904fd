package console

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/tui/panel"
	"github.com/ukdev/ukdev/tui/panel/paneltest"
)

// fakeControl records console writes; other controls are no-ops.
type fakeControl struct {
	mu     sync.Mutex
	writes [][]byte
	err    error // returned by WriteConsole
}

func (f *fakeControl) Reboot()      {}
func (f *fakeControl) Rebuild()     {}
func (f *fakeControl) StopVM()      {}
func (f *fakeControl) StartVM()     {}
func (f *fakeControl) TogglePause() {}
func (f *fakeControl) ToggleWatch() {}

func (f *fakeControl) WriteConsole(p []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes = append(f.writes, append([]byte(nil), p...))
	return f.err
}

func (f *fakeControl) sent() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	for _, w := range f.writes {
		b.Write(w)
	}
	return b.String()
}

var errNoVM = errors.New("devloop: no VM is running and the input queue is full")

var t0 = time.Date(2025, 3, 4, 12, 3, 11, 0, time.UTC)

func newModel(t *testing.T, color bool, w, h int) (*Model, *fakeControl) {
	t.Helper()
	ctrl := &fakeControl{}
	m := New(panel.Deps{Styles: panel.NewStyles(color), Control: ctrl, Now: func() time.Time { return t0 }})
	m.loc = time.UTC
	m.SetSize(w, h)
	return m, ctrl
}

// update feeds msg and runs the commands it returns to completion, feeding
// their messages back, as the Bubble Tea runtime would.
func update(m *Model, msgs ...tea.Msg) {
	for _, msg := range msgs {
		_, cmd := m.Update(msg)
		for cmd != nil {
			_, cmd = m.Update(cmd())
		}
	}
}

func startEv(boot, build int, at time.Time) devloop.Event {
	return devloop.Event{Time: at, Type: devloop.TypeVMStart, Boot: boot, Build: build}
}

func lineEv(boot int, line string) devloop.Event {
	return devloop.Event{Time: t0, Type: devloop.TypeVMConsole, Boot: boot, Line: line}
}

func exitEv(boot, code int) devloop.Event {
	return devloop.Event{Time: t0, Type: devloop.TypeVMExit, Boot: boot, Reason: "exit", ExitCode: &code}
}

// numbered returns a batch of console lines "line 1" … "line n" of boot.
func numbered(boot, from, to int) panel.EventsMsg {
	var b panel.EventsMsg
	for i := from; i <= to; i++ {
		b = append(b, lineEv(boot, fmt.Sprintf("line %d", i)))
	}
	return b
}

// viewRows returns View split into rows, after checking it is exactly
// w×h cells.
func viewRows(t *testing.T, m *Model, w, h int) []string {
	t.Helper()
	return paneltest.CheckSize(t, m.View(), w, h)
}

// plainRows is viewRows without SGR and trailing spaces.
func plainRows(t *testing.T, m *Model, w, h int) []string {
	t.Helper()
	rows := viewRows(t, m, w, h)
	for i, r := range rows {
		rows[i] = strings.TrimRight(ansi.Strip(r), " ")
	}
	return rows
}

var sgrRE = regexp.MustCompile(`\x1b\[[0-9;:]*m`)
