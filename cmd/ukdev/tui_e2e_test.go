package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tmuxSession drives the real binary in a detached tmux session: the
// dashboard gets a real terminal, keys arrive through send-keys and the
// screen is read with capture-pane.
type tmuxSession struct {
	t      *testing.T
	socket string // a private tmux server (-L)
	name   string
	env    []string
	last   string // the last screen captured, for failure messages
}

// startDashboard runs command (the ukdev binary when it is "") in dir
// with env, in a detached tmux session of width×height cells on a private
// tmux server named after server, which ends with the test.
func startDashboard(t *testing.T, server, dir string, env []string, width, height int, command string) *tmuxSession {
	t.Helper()
	needQEMU(t)
	needTools(t, "tmux")
	if command == "" {
		command = ukdevBin
	}
	s := &tmuxSession{t: t, socket: fmt.Sprintf("ukdev-e2e-%s-%d", server, os.Getpid()), name: "ukdev", env: env}
	t.Cleanup(func() { _, _ = s.tmux("kill-server") })
	start := exec.Command("tmux", "-L", s.socket, "-f", "/dev/null",
		"new-session", "-d", "-s", s.name, "-x", strconv.Itoa(width), "-y", strconv.Itoa(height), "-c", dir, command)
	start.Env = env // a new tmux server passes its environment to the pane
	if out, err := start.CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	return s
}

func (s *tmuxSession) tmux(args ...string) (string, error) {
	out, err := exec.Command("tmux", append([]string{"-L", s.socket, "-f", "/dev/null"}, args...)...).CombinedOutput()
	return string(out), err
}

// keys sends tmux key names ("Enter", "Escape", "q").
func (s *tmuxSession) keys(keys ...string) {
	s.t.Helper()
	if out, err := s.tmux(append([]string{"send-keys", "-t", s.name}, keys...)...); err != nil {
		s.t.Fatalf("tmux send-keys %v: %v\n%s", keys, err, out)
	}
}

// typeText sends text literally.
func (s *tmuxSession) typeText(text string) {
	s.t.Helper()
	if out, err := s.tmux("send-keys", "-t", s.name, "-l", text); err != nil {
		s.t.Fatalf("tmux send-keys -l %q: %v\n%s", text, err, out)
	}
}

// waitScreen polls the screen until match accepts it or within passes.
func (s *tmuxSession) waitScreen(what string, within time.Duration, match func(screen string) bool) {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for {
		out, err := s.tmux("capture-pane", "-p", "-t", s.name)
		if err == nil {
			s.last = out
			if match(out) {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("dashboard: no %s after %s; last screen:\n%s", what, within, s.last)
		}
		time.Sleep(100 * time.Millisecond) // polling the screen: there is no event to wait on
	}
}

func (s *tmuxSession) waitText(what string, within time.Duration, texts ...string) {
	s.t.Helper()
	s.waitScreen(what, within, func(screen string) bool {
		for _, text := range texts {
			if !strings.Contains(screen, text) {
				return false
			}
		}
		return true
	})
}

// waitEnded waits until the session is gone (its only pane's command ended).
func (s *tmuxSession) waitEnded(within time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for {
		if _, err := s.tmux("has-session", "-t", s.name); err != nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the dashboard did not end within %s; last screen:\n%s", within, s.last)
		}
		time.Sleep(100 * time.Millisecond) // polling tmux: there is no event to wait on
	}
}

// quit presses q, which must end the dashboard and leave no QEMU behind.
func (s *tmuxSession) quit() {
	s.t.Helper()
	s.keys("q")
	s.waitEnded(stopWait)
	waitNoQEMU(s.t, runtimeDirOf(s.t, s.env), quickWait)
}

// consolePanelLine matches a line of the focused console panel (the thick
// border on the left edge of the screen) that holds exactly text.
func consolePanelLine(text string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^┃` + regexp.QuoteMeta(text) + ` *┃`)
}

func TestDashboardEndToEnd(t *testing.T) {
	dir, env := helloProject(t, "")
	status := filepath.Join(t.TempDir(), "status")
	// The shell records ukdev's exit status; the pane ends with it.
	s := startDashboard(t, "tui", dir, env, 140, 45, fmt.Sprintf("'%s'; echo $? > '%s'", ukdevBin, status))
	const boot = bootWait

	// The dashboard comes up and the guest's banner shows in the console.
	s.waitText("dashboard with the banner", boot, "1 console", "2 logs", "3 build", "4 memory", "5 metrics", "hello from ukdev")
	if strings.Contains(s.last, "level=") || strings.Contains(s.last, "ukdev:") {
		t.Errorf("diagnostics reached the terminal:\n%s", s.last)
	}

	// A save rebuilds and hot-reboots onto the new banner.
	setBanner(t, dir, "hello again")
	s.waitText("the new banner after a save", boot, "hello again", "boot #2", "save→running")

	// Focus the console and type into the guest: i enters input mode,
	// esc leaves it (the console panel's keymap).
	s.keys("1")
	s.keys("i")
	s.waitText("console input mode", 10*time.Second, "leave input mode")
	s.typeText("echo hi")
	s.keys("Enter")
	hi := consolePanelLine("hi")
	s.waitScreen("the guest's answer hi", boot, hi.MatchString)
	s.keys("Escape")
	s.waitText("input mode left", 10*time.Second, "? help")

	// ? shows the full help.
	s.keys("?")
	s.waitText("the help overlay", 10*time.Second, "previous panel", "stop/start VM")

	// q quits (stopping the VM) and the pane ends.
	s.quit()
	got, err := os.ReadFile(status)
	if err != nil {
		t.Fatalf("ukdev's exit status was not recorded: %v", err)
	}
	if code := strings.TrimSpace(string(got)); code != "0" {
		t.Errorf("ukdev exited with status %s, want 0; last screen:\n%s", code, s.last)
	}
}
