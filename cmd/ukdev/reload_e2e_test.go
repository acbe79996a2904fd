package main

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ukdev/ukdev/devloop"
)

// elfWait bounds a make and a boot of examples/hello under TCG.
const elfWait = 60 * time.Second

// elfProject is examples/hello, a C kernel booted as an ELF.
func elfProject(t *testing.T, _ int) string {
	needQEMU(t)
	return copyExample(t)
}

// TestHotReloadEndToEnd is the save → rebuild → reboot loop of `ukdev dev
// --json` on each flavor's example: the banner comes up on a boot whose
// vm.start says where it runs, a save times the reload and reboots onto
// the edited banner, and a flavor that serves HTTP answers through the
// forwarded port before and after. The nanos case skips without a Nanos
// kernel.
func TestHotReloadEndToEnd(t *testing.T) {
	tests := []struct {
		flavor string
		// project copies the flavor's example into a new directory, made
		// to forward port when the flavor serves HTTP. It skips or fails
		// when this machine lacks what the flavor needs.
		project        func(t *testing.T, port int) string
		http           bool
		banner, edited string
		setBanner      func(t *testing.T, dir, banner string)
		wait           time.Duration
		// then goes on with the flavor's own checks and ends the session;
		// without it ukdev gets SIGTERM and must free QEMU and the port.
		then func(t *testing.T, s *session, dir string, env []string)
	}{
		{flavor: "elf", project: elfProject, banner: "hello from ukdev", edited: "hello again",
			setBanner: setBanner, wait: elfWait, then: elfFailures},
		{flavor: "nanos", project: nanosProject, http: true, banner: nanosBanner, edited: "hello again from nanos",
			setBanner: setGoBanner, wait: nanosWait},
		{flavor: "linux", project: linuxProject, http: true, banner: "hello from linux", edited: "hello again from linux",
			setBanner: setGoBanner, wait: linuxWait},
	}
	for _, tt := range tests {
		t.Run(tt.flavor, func(t *testing.T) {
			port := 0
			if tt.http {
				port = freePort(t)
			}
			dir := tt.project(t, port)
			env := testEnv(t)
			url := fmt.Sprintf("http://127.0.0.1:%d/", port)
			s := startDev(t, dir, env)

			first := s.waitFor("the banner", tt.wait, consoleAny(tt.banner))
			start := s.find("vm.start of the banner's boot", tt.wait, bootStart(first.Boot))
			if start.Accel == "" || start.Machine == "" || start.PID == 0 || start.Build == 0 {
				t.Fatalf("vm.start lacks fields: %s", start.raw)
			}
			if tt.http {
				waitHTTP(t, url, tt.banner, tt.wait)
			}

			// A save rebuilds and reboots onto the edited banner. The
			// reload's timing comes just before the new boot's first line.
			tt.setBanner(t, dir, tt.edited)
			reload := s.waitFor("reload timing", tt.wait, func(e jsonEvent) bool {
				return e.Type == devloop.TypeReload && e.Boot > first.Boot
			})
			s.waitFor("the edited banner", tt.wait, func(e jsonEvent) bool {
				return e.Type == devloop.TypeVMConsole && e.Boot == reload.Boot && strings.TrimSpace(e.line()) == tt.edited
			})
			if tt.http {
				waitHTTP(t, url, tt.edited, tt.wait)
			}
			t.Logf("banner on boot %d, edited banner on boot %d", first.Boot, reload.Boot)

			if tt.then != nil {
				tt.then(t, s, dir, env)
				return
			}
			if code := s.stop(syscall.SIGTERM); code != 0 {
				t.Errorf("ukdev exited with status %d after SIGTERM, want 0\n%s", code, s.transcript())
			}
			waitNoQEMU(t, runtimeDirOf(t, env), quickWait)
			if tt.http && !canListen(port) {
				t.Errorf("port %d is still taken after ukdev quit", port)
			}
		})
	}
}
