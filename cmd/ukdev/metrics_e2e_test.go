package main

import (
	"testing"
	"time"
)

// TestMetricsPanelE2E maximises the metrics panel of the dashboard on the
// example and sees graphs of the live VM: QEMU's CPU and memory, its vCPU
// thread, its own I/O and the guest's dirty-page rate; a save adds the
// reload history.
func TestMetricsPanelE2E(t *testing.T) {
	dir, env := helloProject(t, "")
	s := startDashboard(t, "metrics", dir, env, 140, 60, "")
	s.waitText("dashboard with the banner", bootWait, "5 metrics", "hello from ukdev")

	s.keys("5", "f")
	s.waitText("graphs of the live VM", bootWait,
		"cpu · QEMU CPU", "cpu.vcpu0 · vCPU 0 CPU", "rss · QEMU resident memory",
		"qemu.io.read · QEMU reads", "dirty · guest dirty-page rate", "┤", "now")

	setBanner(t, dir, "hello again")
	s.waitText("the reload after a save", bootWait, "boot #2", "save→running")
	s.keys("G")
	s.waitText("the reload graph", 10*time.Second, "reloads 1–1 · ms")
	s.quit()
}
