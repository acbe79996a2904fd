package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ukdev/ukdev/devloop"
)

// These end-to-end tests cover the ukdev commands around the dev loop:
// config errors, missing or refusing QEMU, port forwards, ukdev run's exit
// statuses, ukdev logs, ukdev init and the per-project lock. Like
// TestHotReloadEndToEnd they run the real binary on real QEMU (TCG) with
// examples/hello.

// eventLines returns the stderr lines of `ukdev run` (plain events) whose
// source column is src.
func eventLines(stderr, src string) []string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[1] == src {
			out = append(out, l)
		}
	}
	return out
}

// listenerPID returns the pid of the process holding the listening IPv4
// socket on 127.0.0.1:port (or 0.0.0.0:port), or 0 when there is none or
// its owner cannot be read.
func listenerPID(t *testing.T, port int) int {
	t.Helper()
	data, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	inode := ""
	for _, l := range strings.Split(string(data), "\n")[1:] {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		f := strings.Fields(l)
		if len(f) < 10 || f[3] != "0A" {
			continue
		}
		addr, hexPort, ok := strings.Cut(f[1], ":")
		p, err := strconv.ParseUint(hexPort, 16, 16)
		if !ok || err != nil || int(p) != port {
			continue
		}
		if addr == "0100007F" || addr == "00000000" {
			inode = f[9]
		}
	}
	if inode == "" {
		return 0
	}
	want := "socket:[" + inode + "]"
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		fds, _ := os.ReadDir(filepath.Join("/proc", p.Name(), "fd"))
		for _, fd := range fds {
			if target, _ := os.Readlink(filepath.Join("/proc", p.Name(), "fd", fd.Name())); target == want {
				return pid
			}
		}
	}
	return 0
}

func TestConfigErrorsStopEarly(t *testing.T) {
	needQEMU(t)
	cases := []struct {
		name, line string
		// where is "ukdev.toml:LINE:COL: key", as the error must print it.
		where string
	}{
		{"unknown key", `vm.bogus = 1`, "ukdev.toml:3:1: vm.bogus"},
		{"wrong type", `vm.cpus = "two"`, "ukdev.toml:3:11: vm.cpus"},
		{"bad port", `vm.ports = ["abc:80"]`, "ukdev.toml:3:13: vm.ports[0]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, env := helloProject(t, tc.line+"\n")
			for _, args := range [][]string{{"dev", "--json"}, {"run"}} {
				r := runCLI(t, dir, env, "", args...)
				if r.code == 0 {
					t.Fatalf("ukdev %s accepted a bad config\n%s", strings.Join(args, " "), r)
				}
				if r.elapsed > quickWait {
					t.Errorf("ukdev %s took %s to reject a bad config", strings.Join(args, " "), r.elapsed)
				}
				lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
				if len(lines) != 1 || !strings.Contains(lines[0], tc.where) {
					t.Errorf("ukdev %s: want one stderr line with %q\n%s", strings.Join(args, " "), tc.where, r)
				}
				if r.stdout != "" {
					t.Errorf("ukdev %s printed events for a bad config\n%s", strings.Join(args, " "), r)
				}
			}
			// Nothing ran: no build output, no QEMU.
			if _, err := os.Stat(filepath.Join(dir, "build")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a build ran despite the bad config (build/: %v)", err)
			}
			waitNoQEMU(t, runtimeDirOf(t, env), quickWait)
		})
	}
}

func TestMissingQEMUKeepsBuilding(t *testing.T) {
	dir, env := helloProject(t, "")
	const qemu = "/nonexistent/qemu-system-x86_64"
	writeConfig(t, dir, fmt.Sprintf("vm.qemu = %q\n", qemu))
	s := startDev(t, dir, env)

	e := s.waitFor("error about QEMU", quickWait, isType(devloop.TypeError))
	if !strings.Contains(e.Message, qemu) || !strings.Contains(e.Message, "install") {
		t.Errorf("the error neither names %s nor says how to install QEMU: %q", qemu, e.Message)
	}
	done := s.waitFor("build.done", bootWait, isType(devloop.TypeBuildDone))
	if done.OK == nil || !*done.OK {
		t.Fatalf("the build failed: %s\n%s", done.raw, s.transcript())
	}
	// The loop goes on: a save still builds.
	setBanner(t, dir, "built without qemu")
	s.waitFor("second build.done", bootWait, func(e jsonEvent) bool {
		return e.Type == devloop.TypeBuildDone && e.Build > done.Build && e.OK != nil && *e.OK
	})
	if starts := s.seenType(devloop.TypeVMStart); len(starts) > 0 {
		t.Errorf("a VM started without QEMU: %s", starts[0].raw)
	}
	s.quit()

	// ukdev run has nothing to boot with: QEMU failed, status 125.
	r := runCLI(t, dir, env, "", "run")
	if r.code != 125 || len(eventLines(r.stderr, "error")) == 0 || !strings.Contains(r.stderr, qemu) {
		t.Errorf("ukdev run without QEMU: want status 125 and an error naming %s\n%s", qemu, r)
	}
	waitNoQEMU(t, runtimeDirOf(t, env), quickWait)
}

func TestRunPortInUse(t *testing.T) {
	dir, env := helloProject(t, "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	writeConfig(t, dir, fmt.Sprintf("vm.ports = [\"%d:80\"]\n", port))

	r := runCLI(t, dir, env, "", "run")
	if r.code != 125 {
		t.Errorf("exit status %d, want 125 (QEMU failed)\n%s", r.code, r)
	}
	errs := eventLines(r.stderr, "error")
	if len(errs) != 1 || !strings.Contains(errs[0], strconv.Itoa(port)) {
		t.Errorf("want one error line naming port %d\n%s", port, r)
	}
	if strings.Contains(r.stdout, "hello from ukdev") {
		t.Errorf("the guest ran although its port forward failed\n%s", r)
	}
	waitNoQEMU(t, runtimeDirOf(t, env), quickWait)
}

func TestPortForwardSurvivesReboot(t *testing.T) {
	dir, env := helloProject(t, "")
	port := freePort(t)
	writeConfig(t, dir, fmt.Sprintf("vm.ports = [\"%d:80\"]\n", port))
	s := startDev(t, dir, env)

	s.waitFor("boot 1 banner", bootWait, consoleLine(1, "hello from ukdev"))
	setBanner(t, dir, "hello with ports")
	start := s.waitFor("vm.start of boot 2", bootWait, bootStart(2))
	s.waitFor("boot 2 banner", bootWait, consoleLine(2, "hello with ports"))

	// The forward now belongs to boot 2's QEMU, and it accepts.
	if pid := listenerPID(t, port); pid != start.PID {
		t.Errorf("port %d is held by pid %d, want boot 2's QEMU (pid %d)", port, pid, start.PID)
	}
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), quickWait)
	if err != nil {
		t.Errorf("connect to the forwarded port %d: %v", port, err)
	} else {
		conn.Close()
	}
	if canListen(port) {
		t.Errorf("port %d is free while boot 2 runs", port)
	}
	// Errors are checked up to here: SIGTERM can cut short QMP commands
	// still in flight (boot 2's cont), which is not what this test is about.
	if errs := s.seenType(devloop.TypeError); len(errs) > 0 {
		t.Errorf("ukdev reported an error: %s\n%s", errs[0].raw, s.transcript())
	}
	s.quit()
	if !canListen(port) {
		t.Errorf("port %d is still taken after ukdev quit", port)
	}
}

// multibootOnly is a file QEMU takes for a multiboot kernel (ukdev does
// too) but then refuses to load: it is not ELF and has no address fields.
func multibootOnly() string {
	var magic, flags uint32 = 0x1BADB002, 0
	b := make([]byte, 4096)
	binary.LittleEndian.PutUint32(b[0:], magic)
	binary.LittleEndian.PutUint32(b[4:], flags)
	binary.LittleEndian.PutUint32(b[8:], -(magic + flags))
	return string(b)
}

func TestBadKernelKeepsRunningBoot(t *testing.T) {
	dir, env := helloProject(t, "")
	// The build copies payload.bin, when there is one, over the kernel.
	writeFile(t, filepath.Join(dir, "ukdev.toml"), `build.command = "make && if [ -f payload.bin ]; then cp payload.bin build/hello.elf; fi"
kernel.image = "build/hello.elf"
vm.machine = "microvm"
`)
	s := startDev(t, dir, env)
	start := s.waitFor("vm.start of boot 1", bootWait, bootStart(1))
	if start.Machine != "microvm" {
		t.Errorf("boot 1 runs on %q, want microvm", start.Machine)
	}
	s.waitFor("boot 1 banner", bootWait, consoleLine(1, "hello from ukdev"))

	// A file that is no kernel at all is refused before QEMU sees it.
	writeFile(t, filepath.Join(dir, "payload.bin"), "this is not a kernel\n")
	e := s.waitFor("error about the non-kernel", bootWait, isType(devloop.TypeError))
	if !strings.Contains(e.Message, "not a bootable kernel") || !strings.Contains(e.Message, "still running boot #1") {
		t.Errorf("the error does not explain the bad kernel and what still runs: %q", e.Message)
	}
	s.send("echo alive after junk")
	s.waitFor("boot 1 echo", bootWait, consoleLine(1, "alive after junk"))

	// A file QEMU itself refuses: its own words are in the error.
	writeFile(t, filepath.Join(dir, "payload.bin"), multibootOnly())
	// A save can build twice; only the next different error is QEMU's.
	e = s.waitFor("error from QEMU", bootWait, func(e jsonEvent) bool {
		return e.Type == devloop.TypeError && !strings.Contains(e.Message, "not a bootable kernel")
	})
	if !strings.Contains(e.Message, "Error while loading elf kernel") || !strings.Contains(e.Message, "still running boot #1") {
		t.Errorf("the error lacks QEMU's stderr or what still runs: %q", e.Message)
	}
	s.send("echo alive after refusal")
	s.waitFor("boot 1 echo", bootWait, consoleLine(1, "alive after refusal"))

	if starts := s.seenType(devloop.TypeVMStart); len(starts) != 1 {
		t.Errorf("want only boot 1 to start, got %d vm.start events", len(starts))
	}
	s.quit()
}

func TestQEMURefusesArgs(t *testing.T) {
	dir, env := helloProject(t, "vm.args = [\"-bogus-option\"]\n")

	s := startDev(t, dir, env)
	e := s.waitFor("error from QEMU", bootWait, isType(devloop.TypeError))
	if !strings.Contains(e.Message, "-bogus-option: invalid option") {
		t.Errorf("the error lacks QEMU's stderr: %q", e.Message)
	}
	s.quit()
	if starts := s.seenType(devloop.TypeVMStart); len(starts) > 0 {
		t.Errorf("a VM started with a bad QEMU argument: %s", starts[0].raw)
	}

	r := runCLI(t, dir, env, "", "run")
	if r.code != 125 || !strings.Contains(r.stderr, "invalid option") {
		t.Errorf("ukdev run: want status 125 and QEMU's message\n%s", r)
	}
	waitNoQEMU(t, runtimeDirOf(t, env), quickWait)
}

func TestRunExitStatus(t *testing.T) {
	needQEMU(t)
	cases := []struct {
		name, input string
		want        int
	}{
		{"exit 7", "exit 7\n", 7},
		{"crash", "crash\n", 134},
		{"panic", "panic\n", 134},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, env := helloProject(t, "")
			r := runCLI(t, dir, env, tc.input, "run")
			if r.code != tc.want {
				t.Errorf("exit status %d, want %d\n%s", r.code, tc.want, r)
			}
			if !strings.HasPrefix(r.stdout, "hello from ukdev\n") {
				t.Errorf("stdout does not start with the banner\n%s", r)
			}
			waitNoQEMU(t, runtimeDirOf(t, env), quickWait)
		})
	}
	t.Run("failed build", func(t *testing.T) {
		dir, env := helloProject(t, "")
		appendFile(t, filepath.Join(dir, "main.c"), "\nthis is not C;\n")
		r := runCLI(t, dir, env, "exit 0\n", "run")
		m := regexp.MustCompile(`build #1 failed \(exit (\d+)\)`).FindStringSubmatch(r.stderr)
		if m == nil {
			t.Fatalf("no failed build reported\n%s", r)
		}
		if want, _ := strconv.Atoi(m[1]); r.code != want || r.code == 0 {
			t.Errorf("exit status %d, want the build's status %s\n%s", r.code, m[1], r)
		}
		if strings.Contains(r.stderr, "boot #1 of build") || r.stdout != "" {
			t.Errorf("a VM started after a failed build\n%s", r)
		}
		waitNoQEMU(t, runtimeDirOf(t, env), quickWait)
	})
}

func TestLogs(t *testing.T) {
	dir, env := helloProject(t, "")
	r := runCLI(t, dir, env, "echo hello-log\nexit 0\n", "run")
	if r.code != 0 {
		t.Fatalf("ukdev run\n%s", r)
	}
	waitNoQEMU(t, runtimeDirOf(t, env), quickWait)

	r = runCLI(t, dir, env, "", "logs")
	if r.code != 0 || !hasLine(r.stdout, "hello from ukdev") || !hasLine(r.stdout, "hello-log") {
		t.Errorf("ukdev logs does not print boot 1's console\n%s", r)
	}

	r = runCLI(t, dir, env, "", "logs", "--list")
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); r.code != 0 || len(lines) != 1 ||
		!strings.HasPrefix(lines[0], "boot 1 ") || !strings.Contains(lines[0], " exit 0 ") {
		t.Errorf("ukdev logs --list: want one line for boot 1 ending with exit 0\n%s", r)
	}

	r = runCLI(t, dir, env, "", "logs", "--json")
	if r.code != 0 {
		t.Fatalf("ukdev logs --json\n%s", r)
	}
	found := false
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var v struct {
			Boot *int    `json:"boot"`
			Line *string `json:"line"`
		}
		if err := json.Unmarshal([]byte(l), &v); err != nil || v.Boot == nil || v.Line == nil {
			t.Fatalf("ukdev logs --json printed %q, want {boot, line}", l)
		}
		if *v.Boot != 1 {
			t.Errorf("line %q is from boot %d, want 1", l, *v.Boot)
		}
		found = found || *v.Line == "hello-log"
	}
	if !found {
		t.Errorf("ukdev logs --json lacks the echoed line\n%s", r)
	}

	r = runCLI(t, dir, env, "", "logs", "--boot", "99")
	if r.code == 0 || !strings.Contains(r.stderr, "no boot 99") {
		t.Errorf("ukdev logs --boot 99: want a failure naming boot 99\n%s", r)
	}
}

func TestLogsFollowAcrossBoots(t *testing.T) {
	dir, env := helloProject(t, "")
	s := startDev(t, dir, env)
	f := startFollower(t, dir, env, "logs", "-f")

	f.waitFor("boot 1 banner", bootWait, func(l string) bool { return l == "hello from ukdev" })
	s.waitFor("boot 1 banner", bootWait, consoleLine(1, "hello from ukdev"))
	setBanner(t, dir, "hello follower")
	f.waitFor("boot 2 header", bootWait, func(l string) bool { return strings.Contains(l, "boot 2") })
	f.waitFor("boot 2 banner", bootWait, func(l string) bool { return l == "hello follower" })

	if code := f.stop(syscall.SIGINT); code != 0 {
		t.Errorf("ukdev logs -f exited with status %d after SIGINT, want 0\n%s", code, f.transcript())
	}
	s.quit()
}

func TestInitVersionHelp(t *testing.T) {
	dir := copyExample(t)
	env := testEnv(t)
	if err := os.Remove(filepath.Join(dir, "ukdev.toml")); err != nil {
		t.Fatal(err)
	}

	r := runCLI(t, dir, env, "", "init")
	if r.code != 0 {
		t.Fatalf("ukdev init\n%s", r)
	}
	written, err := os.ReadFile(filepath.Join(dir, "ukdev.toml"))
	if err != nil {
		t.Fatalf("ukdev init wrote no ukdev.toml: %v", err)
	}
	if !testing.Short() {
		r = runCLI(t, dir, env, "", "build")
		if r.code != 0 {
			t.Fatalf("ukdev build with the generated config\n%s", r)
		}
		if _, err := os.Stat(filepath.Join(dir, "build", "hello.elf")); err != nil {
			t.Errorf("ukdev build did not make the kernel: %v", err)
		}
	}

	r = runCLI(t, dir, env, "", "init")
	if r.code == 0 || !strings.Contains(r.stderr, "already exists") {
		t.Errorf("a second ukdev init did not refuse\n%s", r)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "ukdev.toml")); string(again) != string(written) {
		t.Error("a second ukdev init changed ukdev.toml")
	}

	r = runCLI(t, dir, env, "", "version")
	if r.code != 0 || !regexp.MustCompile(`^ukdev \S+ \(go[^,]+, \w+/\w+\)\n$`).MatchString(r.stdout) {
		t.Errorf("ukdev version\n%s", r)
	}
	for _, args := range [][]string{{"--help"}, {"dev", "--help"}} {
		r = runCLI(t, dir, env, "", args...)
		if r.code != 0 || !strings.Contains(r.stdout, "Usage:") {
			t.Errorf("ukdev %s\n%s", strings.Join(args, " "), r)
		}
	}
}

func TestSecondDevRefused(t *testing.T) {
	dir, env := helloProject(t, "")
	s := startDev(t, dir, env)
	s.waitFor("ukdev.start", quickWait, isType(devloop.TypeStart))

	for _, args := range [][]string{{"dev", "--json"}, {"run"}} {
		r := runCLI(t, dir, env, "", args...)
		s.wantLockHeld(t, r)
		if r.elapsed > quickWait {
			t.Errorf("ukdev %s took %s to fail", strings.Join(args, " "), r.elapsed)
		}
	}
	s.quit()
}

// Saving ukdev.toml says that its settings apply on restart, rather than
// seeming to apply them with the rebuild it triggers.
func TestConfigChangeSaysRestart(t *testing.T) {
	s := startHello(t)
	appendFile(t, filepath.Join(s.dir, "ukdev.toml"), "# edited\n")
	s.waitFor("the restart note", time.Minute, func(e jsonEvent) bool {
		return e.Type == devloop.TypeConfigWarning && strings.Contains(e.Message, "ukdev.toml changed: its settings apply when ukdev restarts")
	})
	s.quit()
}
