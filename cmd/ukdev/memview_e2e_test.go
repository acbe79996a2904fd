package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The memory panel on the example: the program's own globals first, ticks
// with its rate, the hex view at a symbol, and a removed watch that stays
// removed when ukdev starts again.
func TestMemoryPanelE2E(t *testing.T) {
	dir, env := helloProject(t, "")
	s := startDashboard(t, "memview", dir, env, 140, 45, "")
	s.waitText("the dashboard", bootWait, "hello from ukdev", "4 memory")
	s.keys("4", "f")

	rate := regexp.MustCompile(`[> ] ticks +0x[0-9a-f]+ +volatile uint32_t +\d+ \(0x[0-9a-f]+\) +\+\d+(\.\d)?/s`)
	s.waitScreen("the program's own globals first: ticks with its rate, stats", bootWait, func(screen string) bool {
		ticks, stats := strings.Index(screen, " ticks "), strings.Index(screen, " stats ")
		return rate.MatchString(screen) && ticks >= 0 && stats > ticks
	})
	selectWatch(s, "ticks")

	s.keys("o")
	s.waitText("the go to prompt", quickWait, "go to:")
	s.typeText("stats")
	s.keys("Enter")
	beside := regexp.MustCompile(`\|  [^\n]*\bstats\b`)
	s.waitScreen("the hex view at stats", bootWait, func(screen string) bool {
		return strings.Contains(screen, "memory · hex 0x") && beside.MatchString(screen)
	})
	s.keys("Escape")
	s.waitText("the watch list again", quickWait, "> ticks ")

	// A pointer followed: the example's last_command points into the line
	// editor's buffer (the static local ed.N, N gcc's counter) once a command
	// has run.
	s.keys("1", "i")
	s.waitText("console input mode", quickWait, "leave input mode")
	s.typeText("echo followed")
	s.keys("Enter", "Escape")
	s.waitText("input mode left", quickWait, "? help")
	s.keys("4", "o")
	s.waitText("the go to prompt", quickWait, "go to:")
	s.typeText("last_command")
	s.keys("Enter")
	s.waitScreen("the hex view at last_command", bootWait, func(screen string) bool {
		return regexp.MustCompile(`\|  [^\n]*\blast_command\b`).MatchString(screen)
	})
	s.keys("Enter")
	s.waitScreen("the hex view where last_command points: ed.N, holding the command", bootWait, func(screen string) bool {
		return regexp.MustCompile(`\|echo.followed[^\n]*\|  ed\.[0-9]+\b`).MatchString(screen) // the shell split the line at its space
	})
	s.keys("Escape")
	s.waitText("the watch list again", quickWait, "> ticks ")

	s.keys("x")
	s.waitScreen("ticks removed", quickWait, func(screen string) bool { return !strings.Contains(screen, "ticks ") })
	saved := filepath.Join(stateDirOf(t, env), "memory-watches.json")
	deadline := time.Now().Add(quickWait)
	for {
		b, _ := os.ReadFile(saved)
		if strings.Contains(string(b), `"ticks"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not record the removal: %q", saved, b)
		}
		time.Sleep(100 * time.Millisecond) // polling a file the dashboard writes: no event to wait on
	}
	s.quit()

	again := startDashboard(t, "memview2", dir, env, 140, 45, "")
	again.waitText("the dashboard again", bootWait, "hello from ukdev", "4 memory")
	again.keys("4", "f")
	again.waitScreen("the list without ticks", bootWait, func(screen string) bool {
		return strings.Contains(screen, "volatile struct stats") && !strings.Contains(screen, "ticks ")
	})
	again.quit()
}

// selectWatch moves the memory panel's selection down to the watch named
// name, one j at a time, each time waiting for the selection to move.
func selectWatch(s *tmuxSession, name string) {
	s.t.Helper()
	selected := regexp.MustCompile(`(?m)^\S*\s*> (\S+) `)
	current := func(screen string) string {
		if m := selected.FindStringSubmatch(screen); m != nil {
			return m[1]
		}
		return ""
	}
	s.waitScreen("a selected watch", quickWait, func(screen string) bool { return current(screen) != "" })
	for range 20 {
		was := current(s.last)
		if was == name {
			return
		}
		s.keys("j")
		s.waitScreen("the selection past "+was, quickWait, func(screen string) bool { return current(screen) != was })
	}
	s.t.Fatalf("%s never selected; last screen:\n%s", name, s.last)
}
