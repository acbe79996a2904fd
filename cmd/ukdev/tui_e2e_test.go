package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

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

	// 6 focuses the VMs panel, in the place it shares with metrics;
	// ? shows the full help, the VMs panel's keys with it.
	s.keys("6")
	vmsTab := regexp.MustCompile(`┏━ 6 VMs[^\n]*━ 5 metrics ━`)
	s.waitScreen("the VMs panel in the metrics place", 10*time.Second, vmsTab.MatchString)
	s.keys("?")
	s.waitText("the help overlay", 10*time.Second, "previous panel", "stop/start VM", "pause/resume it", "stop it (y/n)")

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

// TestDashboardDeployE2E presses d in the dashboard of a project with a
// command deploy (disk = false: the script gets the kernel), answers y,
// and sees the result; the script ran on the running build.
func TestDashboardDeployE2E(t *testing.T) {
	dir, env := deployProject(t, false)
	s := startDashboard(t, "tuideploy", dir, env, 140, 45, "")
	s.waitText("dashboard with the banner", bootWait, "hello from ukdev")

	s.keys("d")
	question := regexp.MustCompile(`Deploy build #(\d+) to prod\? \(y/n\)`)
	s.waitScreen("the plan and the question", 30*time.Second, func(screen string) bool {
		return question.MatchString(screen) && strings.Contains(screen, "(command)") && strings.Contains(screen, "./deploy.sh")
	})
	build := question.FindStringSubmatch(s.last)[1]
	s.keys("y")
	s.waitText("the result", 30*time.Second, "Deployed build #"+build+" to prod (command)", "instance  vm-"+build, "ip        203.0.113.4", "url       http://203.0.113.4/")
	env1, err := os.ReadFile(filepath.Join(dir, "deployed.env"))
	if err != nil || !strings.Contains(string(env1), "UKDEV_BUILD="+build+"\n") {
		t.Errorf("the script's environment: %q, %v; want build %s", env1, err, build)
	}
	s.keys("Escape")
	s.waitText("the dashboard again", 10*time.Second, "1 console", "? help")

	// Declining changes nothing.
	if err := os.Remove(filepath.Join(dir, "deployed.env")); err != nil {
		t.Fatal(err)
	}
	s.keys("d")
	s.waitScreen("the question again", 30*time.Second, question.MatchString)
	s.keys("n")
	s.waitText("the dashboard after n", 10*time.Second, "1 console", "? help")
	if _, err := os.Stat(filepath.Join(dir, "deployed.env")); !os.IsNotExist(err) {
		t.Errorf("a declined deploy ran the script: %v", err)
	}
	s.quit()
}
