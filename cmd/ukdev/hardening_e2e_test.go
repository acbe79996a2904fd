package main

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/internal/procfs"
	"golang.org/x/sys/unix"
)

// These end-to-end tests inject the faults a user meets outside the happy
// path (ukdev killed, its output never read, huge input lines, the project
// deleted under it) into the real binary.

// TestSIGKILLDuringBuildLeavesNoBuild kills ukdev while make runs a long
// recipe: make, its shell and the sleep must all die with ukdev.
func TestSIGKILLDuringBuildLeavesNoBuild(t *testing.T) {
	needQEMU(t)
	// sleep takes a fraction: the marker makes this test's processes
	// unique on the machine, in make's argv and in sleep's.
	marker := fmt.Sprintf("304.%09d", rand.IntN(1e9))
	dir := newProject(t, "slow", map[string]string{
		"Makefile":   "all:\n\tsleep $(SECONDS)\n",
		"ukdev.toml": fmt.Sprintf("build.command = \"make SECONDS=%s\"\nkernel.image = \"kernel.elf\"\nvm.accel = \"tcg\"\n", marker),
	})
	t.Cleanup(func() {
		for _, p := range procfs.Matching(marker) {
			_ = syscall.Kill(p.PID, syscall.SIGKILL)
		}
	})

	s := startDev(t, dir, testEnv(t))
	s.waitFor("build.start", quickWait, isType(devloop.TypeBuildStart))
	if !pollUntil(quickWait, func() bool {
		for _, p := range procfs.Matching(marker) {
			if strings.HasPrefix(p.CommandLine(), "sleep ") {
				return true
			}
		}
		return false
	}) {
		t.Fatalf("the build's sleep did not start: %v\n%s", procfs.Matching(marker), s.transcript())
	}
	before := procfs.Matching(marker)

	s.kill()
	killed := time.Now()
	if !pollUntil(3*time.Second, func() bool { return len(procfs.Matching(marker)) == 0 }) {
		t.Fatalf("3s after SIGKILL of ukdev the build lives on: %v (before the kill: %v)", procfs.Matching(marker), before)
	}
	t.Logf("build tree gone %v after SIGKILL (was %d processes: %v)", time.Since(killed).Round(time.Millisecond), len(before), before)
}

// TestSIGTERMWithStdoutNeverRead runs `ukdev dev --json` with its standard
// output on a pipe nobody reads, fills that pipe with a build's output,
// and sends SIGTERM: ukdev must end within 3 s, stop its QEMU, and count in
// ukdev.log the events it could not write.
func TestSIGTERMWithStdoutNeverRead(t *testing.T) {
	dir, env := helloProject(t, "")
	// The first build boots; once "flood" exists, each build floods.
	writeFile(t, filepath.Join(dir, "ukdev.toml"), "build.command = \"make && { [ ! -e flood ] || seq -f 'flood line %g' 1 10000000; }\"\nkernel.image = \"build/hello.elf\"\n")
	p := startPipedDev(t, dir, env)
	marker := runtimeDirOf(t, env)
	if !pollUntil(bootWait, func() bool { return len(qemuPIDs(marker)) > 0 }) {
		t.Fatalf("no QEMU started\nstderr: %s", p.stderr.String())
	}

	writeFile(t, filepath.Join(dir, "flood"), "")
	size, err := unix.FcntlInt(p.stdout.Fd(), unix.F_GETPIPE_SZ, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !pollUntil(bootWait, func() bool {
		n, err := unix.IoctlGetInt(int(p.stdout.Fd()), unix.TIOCINQ) // FIONREAD
		return err == nil && n >= size-4096                          // JSON lines do not fill the last bytes exactly
	}) {
		t.Fatalf("ukdev's standard output never filled up\nstderr: %s", p.stderr.String())
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	signaled := time.Now()
	select {
	case <-p.exited:
		t.Logf("ukdev ended %v after SIGTERM", time.Since(signaled).Round(time.Millisecond))
	case <-time.After(3 * time.Second):
		t.Fatalf("ukdev still runs 3s after SIGTERM with its standard output unread\nstderr: %s", p.stderr.String())
	}
	waitNoQEMU(t, marker, quickWait)

	data, err := os.ReadFile(filepath.Join(stateDirOf(t, env), "ukdev.log"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`events not written.* dropped=(\d+)`).FindSubmatch(data)
	if m == nil {
		t.Fatalf("ukdev.log does not count the events it dropped:\n%s", data)
	}
	if n, _ := strconv.Atoi(string(m[1])); n == 0 {
		t.Errorf("ukdev.log counts 0 dropped events: %s", m[0])
	}
}

// TestRunHugeInputLine types a line of more than 1 MiB into `ukdev run`,
// then `exit 3`: the line must not end console input, so the guest exits 3.
// The example guest takes its UART's bytes one at a time (about 20 KB/s
// under TCG), so this test takes about a minute.
func TestRunHugeInputLine(t *testing.T) {
	dir, env := helloProject(t, "")
	huge := strings.Repeat("x", 1<<20+1024)
	r := runCLIWithin(t, 5*time.Minute, dir, env, "echo "+huge+"\necho after the long line\nexit 3\n", "run")
	if r.code != 3 {
		t.Fatalf("ukdev run exited %d, want 3 (the guest's exit after the long line)\n%s", r.code, r)
	}
	if !hasLine(r.stdout, "after the long line") {
		t.Errorf("the line after the long one did not reach the guest\n%s", r)
	}
	t.Logf("ukdev run took %v", r.elapsed.Round(time.Millisecond))
}

// TestProjectDirDeletedAndBack deletes the project directory under a
// running `ukdev dev`, then puts it back: ukdev must say the directory is
// gone (not "fork/exec /usr/bin/sh: no such file or directory"), keep the
// VM, and build and boot again once the directory is back.
func TestProjectDirDeletedAndBack(t *testing.T) {
	s := startHello(t)
	dir := s.dir

	// Keep a copy to bring back.
	saved := filepath.Join(t.TempDir(), "saved")
	copyTree(t, dir, saved)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	gone := s.waitFor("a word that the project directory is gone", quickWait, func(e jsonEvent) bool {
		return strings.Contains(e.Message, dir) && strings.Contains(e.Message, "gone")
	})
	t.Logf("said: %s", gone.Message)

	setBanner(t, saved, "back again")
	if err := os.Rename(saved, dir); err != nil {
		t.Fatal(err)
	}
	s.waitFor("the directory back", quickWait, func(e jsonEvent) bool {
		return strings.Contains(e.Message, dir) && strings.Contains(e.Message, "back")
	})
	s.waitFor("a boot of the project that came back", bootWait, consoleAny("back again"))
	for _, e := range s.seen {
		if strings.Contains(e.Message, "fork/exec") {
			t.Errorf("a message still blames the shell: %s", e.raw)
		}
		if e.Type == devloop.TypeVMExit && e.Boot == 1 && e.Reason != "killed" {
			t.Errorf("boot 1 ended while the directory was gone: %s", e.raw)
		}
	}
	s.quit()
}

// TestReaderGoneStopsInOrder closes the read end of ukdev's standard output
// after the first console line, as `ukdev dev --json | head -1` does: ukdev
// must stop its VM in order (the boot recorded as killed by ukdev, not as
// ended by a ukdev that died) instead of being killed by SIGPIPE.
func TestReaderGoneStopsInOrder(t *testing.T) {
	dir, env := helloProject(t, "")
	p := startPipedDev(t, dir, env)
	marker := runtimeDirOf(t, env)
	sc := bufio.NewScanner(p.stdout)
	for sc.Scan() && !strings.Contains(sc.Text(), `"type":"vm.console"`) {
	}
	p.stdout.Close() // the reader is gone: the next event finds a broken pipe

	// A save makes the next events (watch.change, build.start).
	appendFile(t, filepath.Join(dir, "main.c"), "\n")
	select {
	case <-p.exited:
		var ee *exec.ExitError
		if errors.As(p.err, &ee) {
			if ws := ee.Sys().(syscall.WaitStatus); ws.Signaled() {
				t.Fatalf("ukdev was killed by %v instead of stopping in order\nstderr: %s", ws.Signal(), p.stderr.String())
			}
		}
	case <-time.After(bootWait):
		t.Fatalf("ukdev still runs after the reader of its output went away\nstderr: %s", p.stderr.String())
	}
	waitNoQEMU(t, marker, quickWait)

	r := runCLI(t, dir, env, "", "logs", "--list")
	if r.code != 0 {
		t.Fatalf("ukdev logs --list\n%s", r)
	}
	if out := r.stdout + r.stderr; !strings.Contains(out, "killed") || strings.Contains(out, "unknown") {
		t.Errorf("the boot is not recorded as stopped by ukdev:\n%s", r)
	}
}
