package main

import (
	"bufio"
	"context"
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
	"golang.org/x/sys/unix"
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
	s.waitFor("build.start", quickWait, isType(devloop.TypeBuildStart))
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

// TestSIGTERMWithStdoutNeverRead runs `ukdev dev --json` with its standard
// output on a pipe nobody reads, fills that pipe with a build's output,
// and sends SIGTERM: ukdev must end within 3 s, stop its QEMU, and count in
// ukdev.log the events it could not write.
func TestSIGTERMWithStdoutNeverRead(t *testing.T) {
	needQEMU(t)
	dir := copyExample(t)
	env := testEnv(t)
	// The first build boots; once "flood" exists, each build floods.
	writeFile(t, filepath.Join(dir, "ukdev.toml"), "build.command = \"make && { [ ! -e flood ] || seq -f 'flood line %g' 1 10000000; }\"\nkernel.image = \"build/hello.elf\"\n")
	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdoutR.Close()
	cmd := exec.Command(ukdevBin, "dev", "--json")
	cmd.Dir, cmd.Env, cmd.Stdout = dir, env, stdoutW
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stdoutW.Close()
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	marker := runtimeDirOf(t, env)
	if !pollUntil(bootWait, func() bool { return len(qemuPIDs(marker)) > 0 }) {
		t.Fatalf("no QEMU started\nstderr: %s", stderr.String())
	}

	writeFile(t, filepath.Join(dir, "flood"), "")
	size, err := unix.FcntlInt(stdoutR.Fd(), unix.F_GETPIPE_SZ, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !pollUntil(bootWait, func() bool {
		n, err := unix.IoctlGetInt(int(stdoutR.Fd()), unix.TIOCINQ) // FIONREAD
		return err == nil && n >= size-4096                         // JSON lines do not fill the last bytes exactly
	}) {
		t.Fatalf("ukdev's standard output never filled up\nstderr: %s", stderr.String())
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	signaled := time.Now()
	select {
	case <-exited:
		t.Logf("ukdev ended %v after SIGTERM", time.Since(signaled).Round(time.Millisecond))
	case <-time.After(3 * time.Second):
		t.Fatalf("ukdev still runs 3s after SIGTERM with its standard output unread\nstderr: %s", stderr.String())
	}
	waitNoQEMU(t, marker, quickWait)

	logs, _ := filepath.Glob(filepath.Join(stateHomeOf(t, env), "ukdev", "*", "ukdev.log"))
	if len(logs) != 1 {
		t.Fatalf("want one ukdev.log, found %v", logs)
	}
	data, err := os.ReadFile(logs[0])
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

// stateHomeOf returns the XDG_STATE_HOME set by testEnv.
func stateHomeOf(t *testing.T, env []string) string {
	t.Helper()
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "XDG_STATE_HOME="); ok {
			return v
		}
	}
	t.Fatal("env has no XDG_STATE_HOME")
	return ""
}

// TestRunHugeInputLine types a line of more than 1 MiB into `ukdev run`,
// then `exit 3`: the line must not end console input, so the guest exits 3.
// The example guest takes its UART's bytes one at a time (about 20 KB/s
// under TCG), so this test takes about a minute.
func TestRunHugeInputLine(t *testing.T) {
	needQEMU(t)
	dir := copyExample(t)
	env := testEnv(t)
	huge := strings.Repeat("x", 1<<20+1024)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ukdevBin, "run")
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdin = strings.NewReader("echo " + huge + "\necho after the long line\nexit 3\n")
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := cliResult{stdout: abbreviate(stdout.String()), stderr: stderr.String(), elapsed: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("ukdev run did not end within 5 minutes\n%s", r)
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	if r.code != 3 {
		t.Fatalf("ukdev run exited %d, want 3 (the guest's exit after the long line)\n%s", r.code, r)
	}
	if !hasLine(r.stdout, "after the long line") {
		t.Errorf("the line after the long one did not reach the guest\n%s", r)
	}
	t.Logf("ukdev run took %v", r.elapsed.Round(time.Millisecond))
}

// abbreviate shortens the long runs of x that TestRunHugeInputLine types.
func abbreviate(s string) string {
	return regexp.MustCompile(`x{64,}`).ReplaceAllStringFunc(s, func(m string) string {
		return fmt.Sprintf("x…(%d×x)", len(m))
	})
}

// TestProjectDirDeletedAndBack deletes the project directory under a
// running `ukdev dev`, then puts it back: ukdev must say the directory is
// gone (not "fork/exec /usr/bin/sh: no such file or directory"), keep the
// VM, and build and boot again once the directory is back.
func TestProjectDirDeletedAndBack(t *testing.T) {
	needQEMU(t)
	dir := copyExample(t)
	env := testEnv(t)
	s := startDev(t, dir, env)
	s.waitFor("boot 1 banner", bootWait, consoleLine(1, "hello from ukdev"))

	// Keep a copy to bring back.
	saved := filepath.Join(t.TempDir(), "saved")
	if out, err := exec.Command("cp", "-a", dir, saved).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
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
	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("ukdev exited %d after SIGTERM\n%s", code, s.transcript())
	}
	waitNoQEMU(t, runtimeDirOf(t, env), quickWait)
}

// TestReaderGoneStopsInOrder closes the read end of ukdev's standard output
// after the first console line, as `ukdev dev --json | head -1` does: ukdev
// must stop its VM in order (the boot recorded as killed by ukdev, not as
// ended by a ukdev that died) instead of being killed by SIGPIPE.
func TestReaderGoneStopsInOrder(t *testing.T) {
	needQEMU(t)
	dir := copyExample(t)
	env := testEnv(t)
	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(ukdevBin, "dev", "--json")
	cmd.Dir, cmd.Env, cmd.Stdout = dir, env, stdoutW
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stdoutW.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	marker := runtimeDirOf(t, env)
	sc := bufio.NewScanner(stdoutR)
	for sc.Scan() && !strings.Contains(sc.Text(), `"type":"vm.console"`) {
	}
	stdoutR.Close() // the reader is gone: the next event finds a broken pipe

	// A save makes the next events (watch.change, build.start).
	main := filepath.Join(dir, "main.c")
	src, err := os.ReadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, main, string(src)+"\n")
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws := ee.Sys().(syscall.WaitStatus); ws.Signaled() {
				t.Fatalf("ukdev was killed by %v instead of stopping in order\nstderr: %s", ws.Signal(), stderr.String())
			}
		}
	case <-time.After(bootWait):
		t.Fatalf("ukdev still runs after the reader of its output went away\nstderr: %s", stderr.String())
	}
	waitNoQEMU(t, marker, quickWait)

	list := exec.Command(ukdevBin, "logs", "--list")
	list.Dir, list.Env = dir, env
	out, err := list.CombinedOutput()
	if err != nil {
		t.Fatalf("ukdev logs --list: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "killed") || strings.Contains(string(out), "unknown") {
		t.Errorf("the boot is not recorded as stopped by ukdev:\n%s", out)
	}
}
