package main

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/ukdev/ukdev/internal/sshdtest"
	"github.com/ukdev/ukdev/vm/libvirt"
)

// sshHost starts a real sshd on the loopback whose login reaches this
// machine's libvirt daemon, and returns the qemu+ssh:// URI of that
// daemon through it. It skips without libvirt or sshd.
func sshHost(t *testing.T) string {
	t.Helper()
	needLibvirt(t)
	return sshdtest.Start(t).LibvirtURI()
}

// TestLibvirtSSHEndToEnd runs examples/hello on a libvirt host reached
// over SSH (qemu+ssh://127.0.0.1 through a test sshd, the remote path of
// a real host: uploads, console, QMP and memory all go through ssh): the
// banner, an edit that boots anew, console input, ukdev mem reading
// ticks, and `exit 3` decoded as locally; no domain is left once ukdev
// ends.
func TestLibvirtSSHEndToEnd(t *testing.T) {
	uri := sshHost(t)
	dir, env := helloProject(t, "")
	s := startDev(t, dir, env, "--on", uri)
	pid := s.cmd.Process.Pid
	start := s.waitFor("boot 1's vm.start", bootWait, bootStart(1))
	if !strings.Contains(start.Message, "127.0.0.1") {
		t.Errorf("vm.start %q does not name the host", start.Message)
	}
	helloOnLibvirt(t, s, dir, env, "hello over ssh")
	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("ukdev exited with status %d after SIGTERM, want 0\n%s", code, s.transcript())
	}
	waitNoDomains(t, pid, "after ukdev ended")
}

// TestLibvirtDashboardHTTP runs examples/go-http-linux in the dashboard
// on this machine's libvirt and on a libvirt host reached over SSH: its
// forwarded port reaches the guest from this machine's 127.0.0.1 (bound
// by QEMU on qemu:///system, tunnelled over ssh from a remote host), the
// health check through it marks the boot ready, and after a save the
// same local port reaches the new boot. Quitting frees the port and
// leaves no domain.
func TestLibvirtDashboardHTTP(t *testing.T) {
	tests := []struct {
		name string
		uri  func(t *testing.T) string
	}{
		{"local", func(t *testing.T) string { needLibvirt(t); return systemURI }},
		{"ssh", sshHost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			uri := tt.uri(t)
			port := freePort(t)
			dir := linuxProject(t, port)
			env := testEnv(t)
			s := startDashboard(t, "http"+tt.name, dir, env, 160, 50, fmt.Sprintf("%s dev --on '%s'", ukdevBin, uri))
			s.waitText("the banner in the console panel", linuxWait, "hello from linux")
			url := fmt.Sprintf("http://127.0.0.1:%d/", port)
			waitHTTP(t, url, "hello from linux", linuxWait)
			s.waitText("the status bar's readiness", linuxWait, "ready ")

			setGoBanner(t, dir, "hello again through libvirt")
			s.waitText("the new banner", linuxWait, "hello again through libvirt")
			waitHTTP(t, url, "hello again through libvirt", linuxWait)

			s.quit()
			if !pollUntil(stopWait, func() bool { return canListen(port) }) {
				t.Errorf("port %d is still bound after ukdev quit", port)
			}
			if !pollUntil(stopWait, func() bool { return len(projectDomains(t, dir)) == 0 }) {
				t.Errorf("domains of %s left after ukdev quit: %v", dir, projectDomains(t, dir))
			}
		})
	}
}

// projectDomains returns the names of the ukdev domains on systemURI
// made for the project in dir.
func projectDomains(t *testing.T, dir string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), quickWait)
	defer cancel()
	doms, err := libvirt.List(ctx, systemURI)
	if err != nil {
		t.Fatalf("list the domains of %s: %v", systemURI, err)
	}
	real, _ := filepath.EvalSymlinks(dir)
	var names []string
	for _, d := range doms {
		if d.Owner.Project == dir || d.Owner.Project == real {
			names = append(names, d.Name)
		}
	}
	return names
}

// TestLibvirtSSHDashboardPanels: the dashboard on a libvirt host reached
// over SSH shows the example's console, its memory panel reading ticks
// at its rate through libvirt's memory peek, and the metrics panel
// graphing the domain's CPU, as with a local QEMU.
func TestLibvirtSSHDashboardPanels(t *testing.T) {
	uri := sshHost(t)
	dir, env := helloProject(t, "")
	s := startDashboard(t, "sshpanels", dir, env, 140, 45, fmt.Sprintf("%s dev --on '%s'", ukdevBin, uri))
	s.waitText("the dashboard, naming the host", bootWait, helloBanner, "4 memory", "microvm on 127.0.0.1", "boot 1 · on 127.0.0.1")
	s.keys("4", "f")
	rate := regexp.MustCompile(`[> ] ticks +0x[0-9a-f]+ +volatile uint32_t +\d+ \(0x[0-9a-f]+\) +\+\d+(\.\d)?/s`)
	s.waitScreen("ticks with its rate in the memory panel", bootWait, func(screen string) bool { return rate.MatchString(screen) })
	s.keys("f", "5", "f")
	s.waitText("the domain's CPU graphed", bootWait, "cpu · QEMU CPU", "┤")
	s.keys("f")
	s.quit()
	if !pollUntil(stopWait, func() bool { return len(projectDomains(t, dir)) == 0 }) {
		t.Errorf("domains of %s left after ukdev quit: %v", dir, projectDomains(t, dir))
	}
}
