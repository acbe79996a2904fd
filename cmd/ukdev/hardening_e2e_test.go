package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These end-to-end tests inject the faults a user meets outside the happy
// path (ukdev killed, its output never read, huge input lines, the project
// deleted under it) into the real binary.

// procsWith lists the live processes (not zombies) whose command line
// holds marker, with their command lines.
func procsWith(marker string) map[int]string {
	found := map[int]string{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(cmdline), marker) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 {
			if f := strings.Fields(string(stat[i+1:])); len(f) > 0 && (f[0] == "Z" || f[0] == "X") {
				continue
			}
		}
		found[pid] = strings.ReplaceAll(strings.TrimRight(string(cmdline), "\x00"), "\x00", " ")
	}
	return found
}

// killProcsWith SIGKILLs what a failed test left behind.
func killProcsWith(marker string) {
	for pid := range procsWith(marker) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// pollUntil polls cond (every 10 ms: /proc has no event to wait on) until
// it holds or within has passed, and reports whether it held.
func pollUntil(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// TestSIGKILLDuringBuildLeavesNoBuild kills ukdev while make runs a long
// recipe: make, its shell and the sleep must all die with ukdev.
func TestSIGKILLDuringBuildLeavesNoBuild(t *testing.T) {
	needQEMU(t)
	dir := filepath.Join(t.TempDir(), "slow")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// sleep takes a fraction: the marker makes this test's processes
	// unique on the machine, in make's argv and in sleep's.
	marker := fmt.Sprintf("304.%09d", rand.IntN(1e9))
	writeFile(t, filepath.Join(dir, "Makefile"), "all:\n\tsleep $(SECONDS)\n")
	writeFile(t, filepath.Join(dir, "ukdev.toml"), fmt.Sprintf(
		"build.command = \"make SECONDS=%s\"\nkernel.image = \"kernel.elf\"\nvm.accel = \"tcg\"\n", marker))
	t.Cleanup(func() { killProcsWith(marker) })

	s := startDev(t, dir, testEnv(t))
	s.waitFor("build.start", quickWait, isType("build.start"))
	if !pollUntil(quickWait, func() bool {
		for _, cmdline := range procsWith(marker) {
			if strings.HasPrefix(cmdline, "sleep ") {
				return true
			}
		}
		return false
	}) {
		t.Fatalf("the build's sleep did not start: %v\n%s", procsWith(marker), s.transcript())
	}
	before := procsWith(marker)

	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = s.cmd.Wait()
	killed := time.Now()
	if !pollUntil(3*time.Second, func() bool { return len(procsWith(marker)) == 0 }) {
		t.Fatalf("3s after SIGKILL of ukdev the build lives on: %v (before the kill: %v)", procsWith(marker), before)
	}
	t.Logf("build tree gone %v after SIGKILL (was %d processes: %v)", time.Since(killed).Round(time.Millisecond), len(before), before)
}
