package tui

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/tui/panel"
	"github.com/ukdev/ukdev/tui/panel/paneltest"
)

// gdbModel is fakeModel with g's OpenGDB played by g (nil: no gdb).
func gdbModel(t *testing.T, g panel.GDB, opts Options) (Model, [numPanels]*fakePanel) {
	t.Helper()
	var fakes [numPanels]*fakePanel
	var panels [numPanels]panel.Panel
	for i, name := range []string{"console", "logs", "build", "memory", "metrics", "VMs"} {
		fakes[i] = &fakePanel{name: name}
		panels[i] = fakes[i]
	}
	d := testDeps(&fakeControl{})
	d.GDB = g
	opts.Project, opts.Flavor = "hello", "elf"
	m := newModel(d, panels, nil, opts)
	return update(m, tea.WindowSizeMsg{Width: 120, Height: 40}), fakes
}

// statusBar is the model's status bar as text.
func statusBar(m Model) string {
	return ansi.Strip(strings.Join(m.statusLines(), "\n"))
}

func TestGDBKey(t *testing.T) {
	session := devloop.GDBSession{Address: "/run/gdb-1.sock", Args: []string{"/nonexistent/gdb", "-q"}}
	g := &fakeGDB{session: session}
	m, fakes := gdbModel(t, g, Options{})
	if help := ansi.Strip(strings.Join(m.helpLines(m.body()), "\n")); !strings.Contains(help, "g gdb on the VM") {
		t.Errorf("the help does not list g:\n%s", help)
	}
	next, cmd := m.Update(paneltest.Press("g"))
	m = next.(Model)
	if cmd == nil {
		t.Fatal("g gave no command")
	}
	msg, ok := cmd().(gdbOpenedMsg)
	if !ok || g.calls != 1 || msg.err != nil || msg.session.Address != session.Address {
		t.Fatalf("g's command = %#v, OpenGDB calls %d", msg, g.calls)
	}
	if keys := fakes[panelConsole].keys(); len(keys) != 0 {
		t.Errorf("the console got %q", keys)
	}
	// gdb is not installed: the status bar says so, and nothing runs.
	next, cmd = m.Update(msg)
	m = next.(Model)
	done, ok := cmd().(gdbDoneMsg)
	if !ok || done.err == nil {
		t.Fatalf("running a missing gdb = %#v", done)
	}
	m = update(m, done)
	if bar := statusBar(m); !strings.Contains(bar, "gdb: ") || !strings.Contains(bar, "install gdb") {
		t.Errorf("status bar %q does not say gdb is missing", bar)
	}
	// gdb ran and quit: the note goes.
	m = update(m, gdbDoneMsg{})
	if bar := statusBar(m); strings.Contains(bar, "gdb") {
		t.Errorf("status bar %q still speaks of gdb", bar)
	}
	m = update(m, gdbDoneMsg{inPane: true})
	if bar := statusBar(m); !strings.Contains(bar, "gdb runs in the pane beside") {
		t.Errorf("status bar %q", bar)
	}
}

func TestGDBKeyErrors(t *testing.T) {
	m, _ := gdbModel(t, &fakeGDB{err: devloop.ErrNoVM}, Options{})
	m = update(m, gdbOpenedMsg{err: devloop.ErrNoVM})
	if bar := statusBar(m); !strings.Contains(bar, "gdb: devloop: no VM is running") {
		t.Errorf("status bar %q", bar)
	}
	// The next boot clears it.
	m = update(m, panel.EventsMsg{{Type: devloop.TypeVMStart, Boot: 1}})
	if bar := statusBar(m); strings.Contains(bar, "gdb") {
		t.Errorf("status bar %q after a new boot", bar)
	}
}

func TestGDBKeyDisabled(t *testing.T) {
	m, fakes := gdbModel(t, nil, Options{})
	m = update(m, paneltest.Press("g"))
	if keys := fakes[panelConsole].keys(); !slices.Equal(keys, []string{"g"}) {
		t.Errorf("without gdb, g went elsewhere: the console got %q", keys)
	}
	if strings.Contains(ansi.Strip(strings.Join(m.helpLines(m.body()), "\n")), "gdb") {
		t.Error("the help lists gdb though it is disabled")
	}
}

func TestTmuxSplit(t *testing.T) {
	args := []string{"gdb", "-q", "-ex", "target remote /run/u 1/gdb.sock"}
	tests := []struct {
		pane string
		want []string
	}{
		{pane: "%3", want: []string{"tmux", "split-window", "-t", "%3", "gdb -q -ex 'target remote /run/u 1/gdb.sock'"}},
		{want: []string{"tmux", "split-window", "gdb -q -ex 'target remote /run/u 1/gdb.sock'"}},
	}
	for _, tt := range tests {
		if got := tmuxSplit(tt.pane, args); !slices.Equal(got, tt.want) {
			t.Errorf("tmuxSplit(%q) = %q, want %q", tt.pane, got, tt.want)
		}
	}
}

func TestGDBProcessWithoutTerminal(t *testing.T) {
	g := &gdbProcess{cmd: exec.Command("sh", "-c", "echo out; echo err >&2; read line; echo got $line")}
	var out strings.Builder
	g.SetStdin(strings.NewReader("typed\n"))
	g.SetStdout(&out)
	g.SetStderr(nil)
	if err := g.Run(); err != nil {
		t.Fatal(err)
	}
	if out.String() != "out\nerr\ngot typed\n" {
		t.Errorf("output %q", out.String())
	}
	if g.cmd.SysProcAttr != nil {
		t.Error("job control without a terminal")
	}
	bad := &gdbProcess{cmd: exec.Command("/nonexistent/gdb")}
	bad.SetStdin(strings.NewReader(""))
	bad.SetStdout(&out)
	if err := bad.Run(); err == nil {
		t.Error("a missing program ran")
	}
}
