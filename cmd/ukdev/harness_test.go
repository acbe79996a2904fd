package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
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
)

// The end-to-end tests drive the real ukdev binary against real QEMU (TCG)
// and the example projects in examples/. This file holds what they share:
// the binary, project copies with private state and runtime dirs, ukdev
// commands run to completion or followed line by line, and the checks
// that nothing is left behind.

const (
	// bootWait bounds a build plus a boot; both take well under a second
	// here, the margin is for a loaded machine.
	bootWait = 60 * time.Second
	// quickWait bounds what must happen without a build or a boot.
	quickWait = 10 * time.Second
	// stopWait bounds ukdev's shutdown after a signal.
	stopWait = 30 * time.Second
	// helloBanner is the first line examples/hello prints.
	helloBanner = "hello from ukdev"
)

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
	needTools(t, "qemu-system-x86_64", "gcc", "make")
}

// needTools fails the test when one of tools is not installed.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
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

// envValue returns the value env gives key (the last one, as exec does),
// and fails the test when it has none.
func envValue(t *testing.T, env []string, key string) string {
	t.Helper()
	value, found := "", false
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			value, found = v, true
		}
	}
	if !found {
		t.Fatalf("env has no %s", key)
	}
	return value
}

// runtimeDirOf returns the XDG_RUNTIME_DIR set by testEnv: every QMP socket
// path, hence every QEMU command line of the test, holds it.
func runtimeDirOf(t *testing.T, env []string) string {
	t.Helper()
	return envValue(t, env, "XDG_RUNTIME_DIR")
}

// stateDirOf returns the project's state directory under testEnv's
// XDG_STATE_HOME (there is one project per test).
func stateDirOf(t *testing.T, env []string) string {
	t.Helper()
	home := envValue(t, env, "XDG_STATE_HOME")
	dirs, err := filepath.Glob(filepath.Join(home, "ukdev", "*"))
	if err != nil || len(dirs) != 1 {
		t.Fatalf("state dirs under %s: %v, %v; want one", home, dirs, err)
	}
	return dirs[0]
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

// newProject makes a new temporary directory called name holding files,
// named by slash-separated paths relative to it, and returns its path.
func newProject(t *testing.T, name string, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for rel, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, p, content)
	}
	return dir
}

// appendFile adds text to the end of the file at path.
func appendFile(t *testing.T, path, text string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(data)+text)
}

// copyTree copies the directory src to dst with cp -a.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
}

// cliResult is a finished ukdev command.
type cliResult struct {
	stdout, stderr string
	code           int
	elapsed        time.Duration
}

func (r cliResult) String() string {
	return fmt.Sprintf("exit %d after %s\nstdout:\n%s\nstderr:\n%s", r.code, r.elapsed.Round(time.Millisecond), abbreviate(r.stdout), r.stderr)
}

// abbreviate shortens the long runs of x that TestRunHugeInputLine types,
// so that a failure report stays readable.
func abbreviate(s string) string {
	return regexp.MustCompile(`x{64,}`).ReplaceAllStringFunc(s, func(m string) string {
		return fmt.Sprintf("x…(%d×x)", len(m))
	})
}

// runCLI runs ukdev to completion in dir with stdin as its input, failing
// the test if it does not end within bootWait.
func runCLI(t *testing.T, dir string, env []string, stdin string, args ...string) cliResult {
	t.Helper()
	return runCLIWithin(t, bootWait, dir, env, stdin, args...)
}

// runCLIWithin is runCLI with its own bound on the command's time.
func runCLIWithin(t *testing.T, within time.Duration, dir string, env []string, stdin string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	cmd := exec.CommandContext(ctx, ukdevBin, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr strings.Builder
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	r := cliResult{stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("ukdev %s did not end within %s\n%s", strings.Join(args, " "), within, r)
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("ukdev %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// hasLine reports whether out has a line that is text, give or take
// surrounding space.
func hasLine(out, text string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimSpace(l) == text {
			return true
		}
	}
	return false
}

// outputLine is one line of a running command's standard output, parsed.
type outputLine[T any] struct {
	v   T
	raw string
	err error // the line did not parse
}

// running is a ukdev command started by a test whose standard output is
// read line by line, each line parsed into a T, while it runs.
type running[T any] struct {
	t      *testing.T
	cmd    *exec.Cmd
	lines  chan outputLine[T]
	seen   []T      // the lines read so far, parsed
	raw    []string // and as printed
	stderr syncBuilder
}

// startRunning starts cmd, whose standard output must not be set yet,
// reads its lines with parse, and kills it at the end of the test if it
// still runs.
func startRunning[T any](t *testing.T, cmd *exec.Cmd, parse func(line string) (T, error)) *running[T] {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	r := &running[T]{t: t, cmd: cmd, lines: make(chan outputLine[T], 100000)}
	cmd.Stderr = &r.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(r.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			v, err := parse(sc.Text())
			r.lines <- outputLine[T]{v: v, raw: sc.Text(), err: err}
		}
	}()
	t.Cleanup(func() {
		if r.cmd.ProcessState == nil {
			r.kill()
		}
	})
	return r
}

// ukdevCmd is the ukdev binary with args, to run in dir with env.
func ukdevCmd(dir string, env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(ukdevBin, args...)
	cmd.Dir = dir
	cmd.Env = env
	return cmd
}

func (r *running[T]) record(l outputLine[T]) {
	r.seen = append(r.seen, l.v)
	r.raw = append(r.raw, l.raw)
}

// waitFor reads lines until one matches, failing the test after timeout,
// when the command ends first or when a line does not parse.
func (r *running[T]) waitFor(what string, timeout time.Duration, match func(T) bool) T {
	r.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-r.lines:
			if !ok {
				r.t.Fatalf("ukdev %s ended while waiting for %s\n%s", strings.Join(r.cmd.Args[1:], " "), what, r.transcript())
			}
			r.record(l)
			if l.err != nil {
				r.t.Fatalf("ukdev printed a line that does not parse (%v): %q", l.err, l.raw)
			}
			if match(l.v) {
				return l.v
			}
		case <-deadline:
			r.t.Fatalf("timed out after %s waiting for %s\n%s", timeout, what, r.transcript())
		}
	}
}

// find returns the first line seen so far that matches, or else waits
// for one as waitFor does: for a line that may come before or after the
// one waited for last.
func (r *running[T]) find(what string, timeout time.Duration, match func(T) bool) T {
	r.t.Helper()
	for _, v := range r.seen {
		if match(v) {
			return v
		}
	}
	return r.waitFor(what, timeout, match)
}

// transcript is the last lines read and all of stderr, for failure
// messages.
func (r *running[T]) transcript() string {
	var b strings.Builder
	for _, l := range r.raw[max(0, len(r.raw)-60):] {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	if stderr := r.stderr.String(); stderr != "" {
		b.WriteString("stderr:\n" + stderr)
	}
	return b.String()
}

// stop signals the command, reads the rest of its output and returns its
// exit status.
func (r *running[T]) stop(sig syscall.Signal) int {
	r.t.Helper()
	if err := r.cmd.Process.Signal(sig); err != nil {
		r.t.Fatalf("signal ukdev: %v", err)
	}
	return r.waitEnd(fmt.Sprintf("of %v", sig), false)
}

// waitEnd reads the rest of the command's output and returns its exit
// status, failing the test when it has not ended within stopWait (after
// says what should have ended it) or, with noSignal, when a signal killed
// it.
func (r *running[T]) waitEnd(after string, noSignal bool) int {
	r.t.Helper()
	deadline := time.After(stopWait)
	for open := true; open; {
		select {
		case l, ok := <-r.lines:
			if !ok {
				open = false
				continue
			}
			r.record(l)
		case <-deadline:
			r.t.Fatalf("ukdev did not end within %s %s\n%s", stopWait, after, r.transcript())
		}
	}
	err := r.cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && noSignal && ws.Signaled() {
			r.t.Fatalf("ukdev was killed by %v", ws.Signal())
		}
		return ee.ExitCode()
	}
	if err != nil {
		r.t.Fatalf("wait for ukdev: %v", err)
	}
	return 0
}

// kill ends the command with SIGKILL and reaps it.
func (r *running[T]) kill() {
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
}

// follower is a running ukdev command whose stdout is read as plain lines
// (ukdev logs -f).
type follower = running[string]

func startFollower(t *testing.T, dir string, env []string, args ...string) *follower {
	t.Helper()
	return startRunning(t, ukdevCmd(dir, env, args...), func(line string) (string, error) { return line, nil })
}

// jsonEvent is one of ukdev's JSON events as a reader decodes it, with
// what devloop.Event does not keep: "ts" as written, whether "line" was
// there at all, and the whole line.
type jsonEvent struct {
	devloop.Event
	TS   string  `json:"ts"`
	Line *string `json:"line"` // nil when the event has no "line" key
	raw  string
}

func (e jsonEvent) line() string {
	if e.Line == nil {
		return ""
	}
	return *e.Line
}

func parseEvent(line string) (jsonEvent, error) {
	var e jsonEvent
	err := json.Unmarshal([]byte(line), &e)
	e.raw = line
	return e, err
}

// session is a running `ukdev dev --json` in dir, with env.
type session struct {
	*running[jsonEvent]
	stdin io.WriteCloser
	dir   string
	env   []string
}

func startDev(t *testing.T, dir string, env []string, args ...string) *session {
	t.Helper()
	cmd := ukdevCmd(dir, env, append([]string{"dev", "--json"}, args...)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	return &session{running: startRunning(t, cmd, parseEvent), stdin: stdin, dir: dir, env: env}
}

// helloProject needs QEMU and returns a new copy of examples/hello, with
// extra lines after its ukdev.toml when extra is not empty, and an env
// with private state and runtime dirs.
func helloProject(t *testing.T, extra string) (dir string, env []string) {
	t.Helper()
	needQEMU(t)
	dir = copyExample(t)
	if extra != "" {
		writeConfig(t, dir, extra)
	}
	return dir, testEnv(t)
}

// baseConfig is examples/hello's ukdev.toml; extra lines follow it, so an
// error in the first extra line is reported at line 3.
const baseConfig = "build.command = \"make\"\nkernel.image = \"build/hello.elf\"\n"

func writeConfig(t *testing.T, dir, extra string) {
	t.Helper()
	writeFile(t, filepath.Join(dir, "ukdev.toml"), baseConfig+extra)
}

// startHello starts `ukdev dev --json` on a new copy of examples/hello
// and waits for boot 1's banner.
func startHello(t *testing.T) *session {
	t.Helper()
	dir, env := helloProject(t, "")
	s := startDev(t, dir, env)
	s.waitFor("boot 1 banner", bootWait, consoleLine(1, helloBanner))
	return s
}

func (s *session) send(line string) {
	s.t.Helper()
	if _, err := io.WriteString(s.stdin, line+"\n"); err != nil {
		s.t.Fatalf("write to ukdev's stdin: %v", err)
	}
}

// quit stops the session with SIGTERM, which must end ukdev with status
// 0 and leave no QEMU behind.
func (s *session) quit() {
	s.t.Helper()
	if code := s.stop(syscall.SIGTERM); code != 0 {
		s.t.Errorf("ukdev exited with status %d after SIGTERM, want 0\n%s", code, s.transcript())
	}
	waitNoQEMU(s.t, runtimeDirOf(s.t, s.env), quickWait)
}

// seenType returns the events of type typ read so far.
func (s *session) seenType(typ devloop.EventType) []jsonEvent {
	var out []jsonEvent
	for _, e := range s.seen {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// lockHeld is what ukdev says when this session's loop holds the
// project.
func (s *session) lockHeld() string {
	return fmt.Sprintf("another ukdev is running for this project (pid %d)", s.cmd.Process.Pid)
}

// wantLockHeld fails the test unless r failed saying that the loop of s
// holds the project.
func (s *session) wantLockHeld(t *testing.T, r cliResult) {
	t.Helper()
	if held := s.lockHeld(); r.code == 0 || !strings.Contains(r.stderr, held) {
		t.Errorf("want a failure saying %q\n%s", held, r)
	}
}

func isType(typ devloop.EventType) func(jsonEvent) bool {
	return func(e jsonEvent) bool { return e.Type == typ }
}

func bootStart(n int) func(jsonEvent) bool {
	return func(e jsonEvent) bool { return e.Type == devloop.TypeVMStart && e.Boot == n }
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

// pipedDev is `ukdev dev --json` with its standard output on a pipe that
// the test reads itself, or never reads.
type pipedDev struct {
	cmd    *exec.Cmd
	stdout *os.File // the pipe's read end
	stderr syncBuilder
	exited chan struct{} // closed once ukdev has ended and been reaped
	err    error         // what Wait returned, once exited is closed
}

// startPipedDev starts `ukdev dev --json` in dir with its standard output
// on a new pipe, and kills it at the end of the test if it still runs.
func startPipedDev(t *testing.T, dir string, env []string) *pipedDev {
	t.Helper()
	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &pipedDev{cmd: ukdevCmd(dir, env, "dev", "--json"), stdout: stdoutR, exited: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = stdoutW, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stdoutW.Close()
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		stdoutR.Close()
	})
	return p
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return port
}

// canListen reports whether this process can bind 127.0.0.1:port.
func canListen(port int) bool {
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// qemuPIDs lists the QEMU processes whose command line mentions marker.
func qemuPIDs(marker string) []int {
	var pids []int
	for _, p := range procfs.Matching(marker) {
		if p.IsQEMU() {
			pids = append(pids, p.PID)
		}
	}
	return pids
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

// waitNoQEMU waits until no QEMU mentioning marker is left, or fails.
func waitNoQEMU(t *testing.T, marker string, within time.Duration) {
	t.Helper()
	if pollUntil(within, func() bool { return len(qemuPIDs(marker)) == 0 }) {
		return
	}
	pids := qemuPIDs(marker)
	if len(pids) == 0 {
		return // gone just after the deadline
	}
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	t.Fatalf("QEMU processes left behind after %s: %v", within, pids)
}

// tmuxSession drives the real binary in a detached tmux session: the
// dashboard gets a real terminal, keys arrive through send-keys and the
// screen is read with capture-pane.
type tmuxSession struct {
	t      *testing.T
	socket string // a private tmux server (-L)
	name   string
	env    []string
	last   string // the last screen captured, for failure messages
}

// startDashboard runs command (the ukdev binary when it is "") in dir
// with env, in a detached tmux session of width×height cells on a private
// tmux server named after server, which ends with the test.
func startDashboard(t *testing.T, server, dir string, env []string, width, height int, command string) *tmuxSession {
	t.Helper()
	needQEMU(t)
	needTools(t, "tmux")
	if command == "" {
		command = ukdevBin
	}
	s := &tmuxSession{t: t, socket: fmt.Sprintf("ukdev-e2e-%s-%d", server, os.Getpid()), name: "ukdev", env: env}
	t.Cleanup(func() { _, _ = s.tmux("kill-server") })
	start := exec.Command("tmux", "-L", s.socket, "-f", "/dev/null",
		"new-session", "-d", "-s", s.name, "-x", strconv.Itoa(width), "-y", strconv.Itoa(height), "-c", dir, command)
	start.Env = env // a new tmux server passes its environment to the pane
	if out, err := start.CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	return s
}

func (s *tmuxSession) tmux(args ...string) (string, error) {
	out, err := exec.Command("tmux", append([]string{"-L", s.socket, "-f", "/dev/null"}, args...)...).CombinedOutput()
	return string(out), err
}

// keys sends tmux key names ("Enter", "Escape", "q").
func (s *tmuxSession) keys(keys ...string) {
	s.t.Helper()
	if out, err := s.tmux(append([]string{"send-keys", "-t", s.name}, keys...)...); err != nil {
		s.t.Fatalf("tmux send-keys %v: %v\n%s", keys, err, out)
	}
}

// typeText sends text literally.
func (s *tmuxSession) typeText(text string) {
	s.t.Helper()
	if out, err := s.tmux("send-keys", "-t", s.name, "-l", text); err != nil {
		s.t.Fatalf("tmux send-keys -l %q: %v\n%s", text, err, out)
	}
}

// waitScreen polls the screen until match accepts it or within passes.
func (s *tmuxSession) waitScreen(what string, within time.Duration, match func(screen string) bool) {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for {
		out, err := s.tmux("capture-pane", "-p", "-t", s.name)
		if err == nil {
			s.last = out
			if match(out) {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("dashboard: no %s after %s; last screen:\n%s", what, within, s.last)
		}
		time.Sleep(100 * time.Millisecond) // polling the screen: there is no event to wait on
	}
}

func (s *tmuxSession) waitText(what string, within time.Duration, texts ...string) {
	s.t.Helper()
	s.waitScreen(what, within, func(screen string) bool {
		for _, text := range texts {
			if !strings.Contains(screen, text) {
				return false
			}
		}
		return true
	})
}

// waitEnded waits until the session is gone (its only pane's command ended).
func (s *tmuxSession) waitEnded(within time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for {
		if _, err := s.tmux("has-session", "-t", s.name); err != nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the dashboard did not end within %s; last screen:\n%s", within, s.last)
		}
		time.Sleep(100 * time.Millisecond) // polling tmux: there is no event to wait on
	}
}

// quit presses q, which must end the dashboard and leave no QEMU behind.
func (s *tmuxSession) quit() {
	s.t.Helper()
	s.keys("q")
	s.waitEnded(stopWait)
	waitNoQEMU(s.t, runtimeDirOf(s.t, s.env), quickWait)
}
