package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ukdev/ukdev/devloop"
)

// The end-to-end tests drive the real ukdev binary against real QEMU (TCG)
// and the example unikernel in examples/hello.

var ukdevBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ukdev-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ukdevBin = filepath.Join(dir, "ukdev")
	out, err := exec.Command("go", "build", "-o", ukdevBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// needQEMU skips end-to-end tests in -short mode and fails them when the
// tools they need are missing (make test installs them).
func needQEMU(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: skipped in -short mode")
	}
	for _, tool := range []string{"qemu-system-x86_64", "gcc", "make"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: run `make deps` (make test does)", tool)
		}
	}
}

// copyExample copies examples/hello without its build outputs into a new
// temporary project directory.
func copyExample(t *testing.T) string {
	t.Helper()
	return copyExampleDir(t, "hello", func(rel string, d fs.DirEntry) bool {
		return d.IsDir() && rel == "build"
	})
}

// copyExampleDir copies examples/<name> into a new temporary directory,
// leaving out the files and directories skip names (relative paths).
func copyExampleDir(t *testing.T, name string, skip func(rel string, d fs.DirEntry) bool) string {
	t.Helper()
	src, err := filepath.Abs("../../examples/" + name)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), name)
	err = filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		switch {
		case skip(rel, d) && d.IsDir():
			return filepath.SkipDir
		case skip(rel, d):
			return nil
		case d.IsDir():
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// testEnv gives ukdev private state and runtime directories.
func testEnv(t *testing.T) []string {
	t.Helper()
	state := t.TempDir()
	runtime, err := os.MkdirTemp("", "ukrt")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(runtime, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(runtime) })
	return append(os.Environ(), "XDG_STATE_HOME="+state, "XDG_RUNTIME_DIR="+runtime, "NO_COLOR=1")
}

// jsonEvent is the part of ukdev's JSON events the tests look at.
type jsonEvent struct {
	TS       string            `json:"ts"`
	Type     devloop.EventType `json:"type"`
	Message  string            `json:"message"`
	Paths    []string          `json:"paths"`
	Build    int               `json:"build"`
	Boot     int               `json:"boot"`
	Line     *string           `json:"line"`
	OK       *bool             `json:"ok"`
	ExitCode *int              `json:"exit_code"`
	Reason   string            `json:"reason"`
	Accel    string            `json:"accel"`
	Machine  string            `json:"machine"`
	PID      int               `json:"pid"`
	raw      string
}

func (e jsonEvent) line() string {
	if e.Line == nil {
		return ""
	}
	return *e.Line
}

// session is a running `ukdev dev --json`.
type session struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	events chan jsonEvent
	mu     sync.Mutex
	seen   []jsonEvent
	stderr *strings.Builder
}

func startDev(t *testing.T, dir string, env []string, args ...string) *session {
	t.Helper()
	cmd := exec.Command(ukdevBin, append([]string{"dev", "--json"}, args...)...)
	cmd.Dir = dir
	cmd.Env = env
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &session{t: t, cmd: cmd, stdin: stdin, events: make(chan jsonEvent, 100000), stderr: &strings.Builder{}}
	cmd.Stderr = &lockedWriter{b: s.stderr, mu: &s.mu}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(s.events)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var e jsonEvent
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				e = jsonEvent{Type: "bad-json"}
			}
			e.raw = sc.Text()
			s.events <- e
		}
	}()
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			_ = s.cmd.Process.Kill()
			_ = s.cmd.Wait()
		}
	})
	return s
}

type lockedWriter struct {
	b  *strings.Builder
	mu *sync.Mutex
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// waitFor reads events until one matches, failing the test after timeout
// with the events seen so far.
func (s *session) waitFor(what string, timeout time.Duration, match func(jsonEvent) bool) jsonEvent {
	s.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case e, ok := <-s.events:
			if !ok {
				s.t.Fatalf("ukdev ended while waiting for %s\n%s", what, s.transcript())
			}
			s.seen = append(s.seen, e)
			if e.Type == "bad-json" {
				s.t.Fatalf("ukdev printed a line that is not JSON: %q", e.raw)
			}
			if match(e) {
				return e
			}
		case <-deadline:
			s.t.Fatalf("timed out after %s waiting for %s\n%s", timeout, what, s.transcript())
		}
	}
}

// find returns the first event seen so far that matches, or else waits
// for one as waitFor does: for an event that may come before or after the
// one waited for last.
func (s *session) find(what string, timeout time.Duration, match func(jsonEvent) bool) jsonEvent {
	s.t.Helper()
	for _, e := range s.seen {
		if match(e) {
			return e
		}
	}
	return s.waitFor(what, timeout, match)
}

func (s *session) transcript() string {
	var b strings.Builder
	start := max(0, len(s.seen)-60)
	for _, e := range s.seen[start:] {
		b.WriteString(e.raw)
		b.WriteByte('\n')
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stderr.Len() > 0 {
		b.WriteString("stderr:\n" + s.stderr.String())
	}
	return b.String()
}

func (s *session) send(line string) {
	s.t.Helper()
	if _, err := io.WriteString(s.stdin, line+"\n"); err != nil {
		s.t.Fatalf("write to ukdev's stdin: %v", err)
	}
}

func consoleLine(boot int, text string) func(jsonEvent) bool {
	return func(e jsonEvent) bool {
		return e.Type == devloop.TypeVMConsole && e.Boot == boot && strings.TrimSpace(e.line()) == text
	}
}

func consoleAny(text string) func(jsonEvent) bool {
	return func(e jsonEvent) bool {
		return e.Type == devloop.TypeVMConsole && strings.TrimSpace(e.line()) == text
	}
}

// setBanner rewrites the `#define BANNER "..."` line of main.c.
func setBanner(t *testing.T, dir, banner string) {
	t.Helper()
	setLine(t, filepath.Join(dir, "main.c"), "#define BANNER ", strconv.Quote(banner))
}

// setLine rewrites every line of path that starts with prefix to prefix
// followed by value, and fails without one.
func setLine(t *testing.T, path, prefix, value string) {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(src), "\n")
	found := false
	for i, l := range lines {
		if strings.HasPrefix(l, prefix) {
			lines[i] = prefix + value
			found = true
		}
	}
	if !found {
		t.Fatalf("%s has no %q line", filepath.Base(path), prefix)
	}
	writeFile(t, path, strings.Join(lines, "\n"))
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// qemuPIDs lists the QEMU processes whose command line mentions marker.
func qemuPIDs(marker string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if strings.Contains(args[0], "qemu-system") && strings.Contains(string(cmdline), marker) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// waitNoQEMU waits until no QEMU mentioning marker is left, or fails.
func waitNoQEMU(t *testing.T, marker string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		pids := qemuPIDs(marker)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, pid := range pids {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			t.Fatalf("QEMU processes left behind after %s: %v", within, pids)
		}
		time.Sleep(20 * time.Millisecond) // polling /proc: there is no event to wait on
	}
}

// elfFailures continues the elf flavor's hot-reload session (boot 2 runs
// the edited banner) with what only examples/hello can do: a broken
// build, console input, an exit code, a crash and a panic, and ends it
// with SIGKILL.
func elfFailures(t *testing.T, s *session, dir string, env []string) {
	const boot = elfWait
	// A broken build leaves boot 2 running and answering.
	mainC := filepath.Join(dir, "main.c")
	good, err := os.ReadFile(mainC)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, mainC, string(good)+"\nthis is not C;\n")
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
	marker := env[len(env)-2] // XDG_RUNTIME_DIR: every QMP socket path holds it
	marker = strings.TrimPrefix(marker, "XDG_RUNTIME_DIR=")
	if len(qemuPIDs(marker)) == 0 {
		t.Fatal("no QEMU found for this session before SIGKILL: the marker is wrong")
	}
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = s.cmd.Wait()
	waitNoQEMU(t, marker, 2*time.Second)
}
