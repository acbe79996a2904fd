package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
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

// linuxWait covers the first fetch of the kernel module and a Linux boot
// under TCG (about 4-6 s here, much longer on a loaded machine).
const linuxWait = 4 * time.Minute

// linuxProject is examples/go-http-linux, a Go HTTP server that is the
// whole userland of a Linux VM, set to forward port to its 8080.
func linuxProject(t *testing.T, port int) string {
	needQEMU(t)
	dir := copyGoExample(t, "go-http-linux")
	tomlPath := filepath.Join(dir, "ukdev.toml")
	toml, err := os.ReadFile(tomlPath)
	if err != nil {
		t.Fatal(err)
	}
	ports := regexp.MustCompile(`(?m)^ports = \[.*\]`)
	if !ports.Match(toml) {
		t.Fatal("examples/go-http-linux/ukdev.toml has no vm ports line")
	}
	writeFile(t, tomlPath, ports.ReplaceAllString(string(toml), fmt.Sprintf(`ports = ["%d:8080"]`, port)))
	return dir
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
		then func(t *testing.T, s *session)
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
				tt.then(t, s)
				return
			}
			s.quit()
			if tt.http && !canListen(port) {
				t.Errorf("port %d is still taken after ukdev quit", port)
			}
		})
	}
}

// elfFailures continues the elf flavor's hot-reload session (boot 2 runs
// the edited banner) with what only examples/hello can do: a broken
// build, console input, an exit code, a crash and a panic, and ends it
// with SIGKILL.
func elfFailures(t *testing.T, s *session) {
	const boot = elfWait
	dir := s.dir
	// A broken build leaves boot 2 running and answering.
	mainC := filepath.Join(dir, "main.c")
	good, err := os.ReadFile(mainC)
	if err != nil {
		t.Fatal(err)
	}
	appendFile(t, mainC, "\nthis is not C;\n")
	done := s.waitFor("failed build", boot, func(e jsonEvent) bool { return e.Type == devloop.TypeBuildDone && e.OK != nil && !*e.OK })
	if done.ExitCode == nil || *done.ExitCode == 0 {
		t.Fatalf("failed build.done has no exit code: %s", done.raw)
	}
	if !strings.Contains(done.Message, "still running boot #2") {
		t.Errorf("failed build message does not say what still runs: %q", done.Message)
	}
	s.send("echo still alive")
	s.waitFor("boot 2 echo", boot, consoleLine(2, "still alive"))

	// Fixing it boots build 3's image as boot 3.
	writeFile(t, mainC, string(good))
	s.waitFor("boot 3 banner", boot, consoleLine(3, "hello again"))

	// ^C typed into the console reaches the guest and does not kill QEMU.
	s.send("\x03")
	s.send("echo after ctrl-c")
	s.waitFor("echo after ^C", boot, consoleLine(3, "after ctrl-c"))

	// The guest's exit code comes through.
	s.send("exit 3")
	exit := s.waitFor("vm.exit of boot 3", boot, func(e jsonEvent) bool { return e.Type == devloop.TypeVMExit && e.Boot == 3 })
	if exit.Reason != "exit" || exit.ExitCode == nil || *exit.ExitCode != 3 {
		t.Fatalf("boot 3 ended with %s, want reason=exit exit_code=3", exit.raw)
	}

	// A crash and a panic are told apart.
	for i, tc := range []struct{ cmd, reason string }{{"crash", "crash"}, {"panic", "panic"}} {
		n := 4 + i
		banner := "ready for " + tc.cmd
		setBanner(t, dir, banner)
		s.waitFor(fmt.Sprintf("boot %d banner", n), boot, consoleLine(n, banner))
		s.send(tc.cmd)
		e := s.waitFor(fmt.Sprintf("vm.exit of boot %d", n), boot, func(e jsonEvent) bool { return e.Type == devloop.TypeVMExit && e.Boot == n })
		if e.Reason != tc.reason {
			t.Fatalf("%s: boot %d ended with %s, want reason=%s", tc.cmd, n, e.raw, tc.reason)
		}
	}

	// SIGKILL leaves no QEMU behind.
	marker := runtimeDirOf(t, s.env)
	if len(qemuPIDs(marker)) == 0 {
		t.Fatal("no QEMU found for this session before SIGKILL: the marker is wrong")
	}
	s.kill()
	waitNoQEMU(t, marker, 2*time.Second)
}
