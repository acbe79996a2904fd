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

	rate := regexp.MustCompile(`> ticks +0x[0-9a-f]+ +volatile uint32_t +\d+ \(0x[0-9a-f]+\) +\+\d+(\.\d)?/s`)
	s.waitScreen("ticks first, with its rate, then stats", bootWait, func(screen string) bool {
		ticks, stats := strings.Index(screen, "> ticks "), strings.Index(screen, "  stats ")
		return rate.MatchString(screen) && ticks >= 0 && stats > ticks
	})

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
