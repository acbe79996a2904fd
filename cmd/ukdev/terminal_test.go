package main

import (
	"bytes"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/logs"
	"github.com/ukdev/ukdev/project"
)

// conceal is SGR 8: what follows is invisible until a reset.
const conceal = "\x1b[8m"

// TestPrinterLine checks the one function every terminal path prints guest
// and build lines with (ukdev run's console, ukdev build, ukdev logs): on a
// colour terminal a line that keeps SGR ends with a reset, so an unclosed
// conceal cannot hide what follows; bidirectional controls are shown, not
// obeyed; without colour no SGR is left at all.
func TestPrinterLine(t *testing.T) {
	cases := []struct {
		name  string
		color bool
		text  string
		want  string
	}{
		{name: "plain", color: true, text: "hello", want: "hello\n"},
		{name: "unclosed conceal reset", color: true, text: conceal + "hidden", want: conceal + "hidden" + reset + "\n"},
		{name: "unclosed colour reset", color: true, text: red + "error", want: red + "error" + reset + "\n"},
		{name: "other escapes removed", color: true, text: clearScr + osc52 + "x", want: "x\n"},
		{name: "no colour", text: conceal + red + "hidden", want: "hidden\n"},
		{name: "bidi override shown", color: true, text: "access\u202e denied", want: "access<U+202E> denied\n"},
		{name: "isolate shown without colour", text: "a\u2067b\u2069", want: "a<U+2067>b<U+2069>\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			p := &printer{w: &b, color: tc.color}
			if err := p.line(tc.text); err != nil {
				t.Fatal(err)
			}
			if b.String() != tc.want {
				t.Errorf("got  %q\nwant %q", b.String(), tc.want)
			}
		})
	}
}

// TestPrinterPlainResetsConceal checks the headless --plain path (ukdev
// dev --plain, and ukdev run's events) the same way.
func TestPrinterPlainResetsConceal(t *testing.T) {
	for _, typ := range []devloop.EventType{devloop.TypeVMConsole, devloop.TypeBuildOutput, devloop.TypeVMSyslog} {
		t.Run(string(typ), func(t *testing.T) {
			var b strings.Builder
			p := &printer{w: &b, color: true}
			text := conceal + "secret \u202e"
			if err := p.print(eventOf(typ, text)); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			if !strings.HasSuffix(out, conceal+"secret <U+202E>"+reset+"\n") {
				t.Errorf("got %q, want the line shown with its bidi control and ended by a reset", out)
			}
		})
	}
}

// TestTerminalCommandsResetAttributes runs ukdev build and ukdev logs on a
// terminal (a pty) with colour on, over output that leaves conceal (SGR 8)
// set and holds a right-to-left override: every line that sets an
// attribute is reset before its end, so ukdev's own status line after it
// (and the shell prompt) stay visible, and the override is shown.
func TestTerminalCommandsResetAttributes(t *testing.T) {
	toml := "flavor = \"elf\"\n" +
		"build.command = \"printf 'built \\\\033[8mhidden\\\\342\\\\200\\\\256\\\\n'; printf 'to stderr \\\\033[7;31mloud\\\\n' >&2\"\n" +
		"kernel.image = \"kernel.elf\"\n"
	dir := newProject(t, "term", map[string]string{project.FileName: toml})
	// Colour on: NO_COLOR set but empty does not turn it off.
	env := append(testEnv(t), "TERM=xterm-256color", "NO_COLOR=")
	t.Setenv("XDG_STATE_HOME", envValue(t, env, "XDG_STATE_HOME"))
	cfg, err := project.Load(filepath.Join(dir, project.FileName))
	if err != nil {
		t.Fatal(err)
	}
	stateDir, err := project.StateDir(cfg)
	if err != nil {
		t.Fatal(err)
	}
	store, err := logs.Open(filepath.Join(stateDir, "boots"), logs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := store.StartBoot(logs.BootInfo{Boot: 1, Build: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("guest \x1b[8mhidden\r\nnext \u202eline\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := w.Finish(time.Now(), "exit", nil); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		args []string
		// lines are what the terminal must show, each ending with a
		// reset where it set an attribute.
		lines []string
	}{
		{[]string{"build"}, []string{
			"built " + conceal + "hidden<U+202E>" + reset,
			"to stderr \x1b[7;31mloud" + reset,
			"ukdev: build ok",
		}},
		{[]string{"logs"}, []string{
			"guest " + conceal + "hidden" + reset,
			"next <U+202E>line",
		}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out := runOnTerminal(t, dir, env, tt.args...)
			for _, want := range tt.lines {
				if !strings.Contains(out, want) {
					t.Errorf("the terminal does not show %q\nit got %q", want, out)
				}
			}
			for _, l := range strings.Split(out, "\n") {
				if i := strings.LastIndex(l, "\x1b["); i >= 0 && !strings.HasSuffix(strings.TrimRight(l, "\r"), reset) {
					t.Errorf("a line sets attributes without a reset at its end: %q", l)
				}
			}
		})
	}
}

// runOnTerminal runs the ukdev binary in dir with stdout and stderr on a
// new pty and returns what the terminal received, CRLF made LF.
func runOnTerminal(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	defer ptmx.Close()
	cmd := exec.Command(ukdevBin, args...)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdout, cmd.Stderr = tty, tty
	if err := cmd.Start(); err != nil {
		tty.Close()
		t.Fatal(err)
	}
	tty.Close()
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(&out, ptmx)
		done <- err
	}()
	werr := cmd.Wait()
	select {
	case err := <-done:
		// The pty reports EIO once the last writer closed it.
		if err != nil && !errors.Is(err, syscall.EIO) {
			t.Fatalf("read pty: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the pty did not close after ukdev %s ended", strings.Join(args, " "))
	}
	if werr != nil {
		t.Fatalf("ukdev %s: %v\n%s", strings.Join(args, " "), werr, out.String())
	}
	return strings.ReplaceAll(out.String(), "\r\n", "\n")
}

func eventOf(typ devloop.EventType, text string) devloop.Event {
	return devloop.Event{Time: at, Type: typ, Boot: 1, Build: 1, Line: text, Message: text}
}
