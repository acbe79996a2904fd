// Package sshdtest runs a real OpenSSH server on the loopback for tests:
// the system's sshd with a throwaway host key, accepting one throwaway
// client key for the current user, and an ssh wrapper that reaches it with
// that key and nothing from the user's own ssh configuration. Tests of
// qemu+ssh:// transports and ssh tunnels use it to go through a real SSH
// connection to this machine.
package sshdtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startDeadline bounds how long Start waits for sshd to accept a login.
const startDeadline = 20 * time.Second

// attempts is how many free ports Start tries: the port is picked by
// binding and closing it, so another process may take it before sshd.
const attempts = 3

// Server is a running sshd on 127.0.0.1, stopped when the test ends.
type Server struct {
	// Port is the TCP port sshd listens on at 127.0.0.1.
	Port int
	// User is the user sshd lets in (the current user).
	User string
	// SSH is the path of an executable script that runs the system ssh
	// with this server's client configuration (its key, its host key as
	// the only known host, batch mode): `SSH -p PORT USER@127.0.0.1 CMD`,
	// or simply `SSH 127.0.0.1 CMD` since the configuration sets port and
	// user.
	SSH string

	dir    string
	cmd    *exec.Cmd
	stderr *lockedBuffer
	exited chan struct{}
}

// LibvirtURI returns the qemu+ssh:// URI of the system libvirt daemon of
// this machine reached through the server:
// qemu+ssh://USER@127.0.0.1:PORT/system?command=SSH.
func (s *Server) LibvirtURI() string {
	u := url.URL{
		Scheme:   "qemu+ssh",
		User:     url.User(s.User),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)),
		Path:     "/system",
		RawQuery: url.Values{"command": {s.SSH}}.Encode(),
	}
	return u.String()
}

// Log returns what sshd has written to its standard error so far (its
// log, since it runs with -e).
func (s *Server) Log() string { return s.stderr.String() }

// Start starts sshd for the test and returns once a real `ssh true`
// through s.SSH succeeded. sshd runs in the foreground (-D -e) with its
// own configuration, keys and pid file in a t.TempDir(), and is stopped
// in t.Cleanup. Start skips the test when sshd, ssh or ssh-keygen is
// missing or the current user cannot be named, and fails it when sshd
// does not come up.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := New(t.TempDir())
	if errors.Is(err, ErrMissing) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// ErrMissing means this machine lacks what New needs (sshd, ssh,
// ssh-keygen, a user name): tests skip rather than fail.
var ErrMissing = errors.New("sshdtest: missing")

// New starts sshd as Start does, with its files in dir (which must
// exist and outlive the server), for callers that are not tests (the
// benchmark). The caller calls Close. An error wraps ErrMissing when
// something needed is not installed.
func New(dir string) (*Server, error) {
	sshd := findSSHD()
	if sshd == "" {
		return nil, fmt.Errorf("%w: no sshd (install openssh-server)", ErrMissing)
	}
	sshBin, err := exec.LookPath("ssh")
	if err != nil {
		return nil, fmt.Errorf("%w: no ssh client (install openssh-client)", ErrMissing)
	}
	keygen, err := exec.LookPath("ssh-keygen")
	if err != nil {
		return nil, fmt.Errorf("%w: no ssh-keygen (install openssh-client)", ErrMissing)
	}
	u, err := user.Current()
	if err != nil || u.Username == "" {
		return nil, fmt.Errorf("%w: the current user has no name: %v", ErrMissing, err)
	}
	if os.Geteuid() == 0 {
		// sshd started as root refuses to run without its privilege
		// separation directory, which systemd's unit normally creates.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			return nil, fmt.Errorf("sshdtest: create /run/sshd: %w", err)
		}
	}

	hostKey := filepath.Join(dir, "host_key")
	clientKey := filepath.Join(dir, "client_key")
	for _, k := range []string{hostKey, clientKey} {
		out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-C", "sshdtest", "-f", k).CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("sshdtest: ssh-keygen %s: %v: %s", k, err, out)
		}
	}
	hostPub, err := os.ReadFile(hostKey + ".pub")
	if err != nil {
		return nil, fmt.Errorf("sshdtest: %w", err)
	}

	var lastErr error
	for range attempts {
		port, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("sshdtest: %w", err)
		}
		s := &Server{Port: port, User: u.Username, dir: dir}
		if err := s.writeConfig(sshBin, hostKey, clientKey, strings.TrimSpace(string(hostPub))); err != nil {
			return nil, fmt.Errorf("sshdtest: %w", err)
		}
		if err := s.start(sshd); err != nil {
			return nil, fmt.Errorf("sshdtest: %w", err)
		}
		err = s.waitReady()
		if err == nil {
			return s, nil
		}
		lastErr = err
		s.stop()
		if !errors.Is(err, errExited) {
			break
		}
	}
	return nil, fmt.Errorf("sshdtest: %w", lastErr)
}

// Close stops sshd and waits for it. It is idempotent.
func (s *Server) Close() { s.stop() }

// findSSHD returns the absolute path of sshd (it refuses to start
// otherwise), which is in /usr/sbin, often not in a user's PATH.
func findSSHD() string {
	if p, err := exec.LookPath("sshd"); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
	}
	for _, p := range []string{"/usr/sbin/sshd", "/usr/local/sbin/sshd", "/sbin/sshd"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// writeConfig writes sshd_config, the client's ssh_config and
// known_hosts, and the ssh wrapper for s.Port.
func (s *Server) writeConfig(sshBin, hostKey, clientKey, hostPub string) error {
	pid := filepath.Join(s.dir, "sshd.pid")
	sshdConfig := strings.Join([]string{
		"ListenAddress 127.0.0.1:" + strconv.Itoa(s.Port),
		"HostKey " + hostKey,
		"PidFile " + pid,
		"AuthorizedKeysFile " + clientKey + ".pub",
		"AllowUsers " + s.User,
		"PubkeyAuthentication yes",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"PermitRootLogin prohibit-password",
		"StrictModes no",
		"UsePAM no",
		"AllowTcpForwarding yes",
		"PrintMotd no",
		"PrintLastLog no",
		"LogLevel VERBOSE",
		"",
	}, "\n")
	knownHosts := filepath.Join(s.dir, "known_hosts")
	sshConfig := strings.Join([]string{
		"Host *",
		"  Port " + strconv.Itoa(s.Port),
		"  User " + s.User,
		"  IdentityFile " + clientKey,
		"  IdentitiesOnly yes",
		"  IdentityAgent none",
		"  UserKnownHostsFile " + knownHosts,
		"  GlobalKnownHostsFile /dev/null",
		"  StrictHostKeyChecking yes",
		"  CheckHostIP no",
		"  UpdateHostKeys no",
		"  BatchMode yes",
		"  ControlMaster no",
		"  ControlPath none",
		"  LogLevel ERROR",
		"",
	}, "\n")
	wrapper := filepath.Join(s.dir, "ssh")
	script := fmt.Sprintf("#!/bin/sh\nexec %s -F %s \"$@\"\n", shellQuote(sshBin), shellQuote(filepath.Join(s.dir, "ssh_config")))
	files := []struct {
		path string
		data string
		mode os.FileMode
	}{
		{filepath.Join(s.dir, "sshd_config"), sshdConfig, 0o600},
		{filepath.Join(s.dir, "ssh_config"), sshConfig, 0o600},
		{knownHosts, fmt.Sprintf("[127.0.0.1]:%d %s\n", s.Port, hostPub), 0o600},
		{wrapper, script, 0o755},
	}
	for _, f := range files {
		if err := os.WriteFile(f.path, []byte(f.data), f.mode); err != nil {
			return fmt.Errorf("write %s: %w", f.path, err)
		}
		// WriteFile keeps the mode of an existing file: a retry on a
		// new port rewrites the same files.
		if err := os.Chmod(f.path, f.mode); err != nil {
			return fmt.Errorf("chmod %s: %w", f.path, err)
		}
	}
	s.SSH = wrapper
	return nil
}

// errExited reports that sshd ended before it accepted a login (a port
// taken in the meantime, a bad configuration: its log says).
var errExited = errors.New("sshd exited")

// start runs sshd in the foreground, logging to s.stderr.
func (s *Server) start(sshd string) error {
	s.stderr = &lockedBuffer{}
	s.exited = make(chan struct{})
	cmd := exec.Command(sshd, "-D", "-e", "-f", filepath.Join(s.dir, "sshd_config"))
	cmd.Stdout = s.stderr
	cmd.Stderr = s.stderr
	// Its own process group, so that stop signals it and nothing of the
	// test's (each session it forks runs in a session of its own and ends
	// with its client); Pdeathsig ends it with the test binary.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	// A session still open when sshd ends holds its log pipe: Wait
	// returns a moment after sshd itself, whatever its sessions do.
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", sshd, err)
	}
	s.cmd = cmd
	go func() {
		_ = cmd.Wait()
		close(s.exited)
	}()
	return nil
}

// waitReady runs `ssh 127.0.0.1 true` through the wrapper until it
// succeeds, sshd exits, or startDeadline passes.
func (s *Server) waitReady() error {
	deadline := time.Now().Add(startDeadline)
	var last error
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		out, err := exec.CommandContext(ctx, s.SSH, "127.0.0.1", "true").CombinedOutput()
		cancel()
		if err == nil {
			return nil
		}
		last = fmt.Errorf("ssh true: %w: %s", err, bytes.TrimSpace(out))
		select {
		case <-s.exited:
			return fmt.Errorf("%w on port %d: %s", errExited, s.Port, s.Log())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sshd on port %d accepted no login within %v: %w; sshd log:\n%s", s.Port, startDeadline, last, s.Log())
		}
	}
}

// stop ends sshd and waits for it. It is idempotent.
func (s *Server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.exited:
		return
	default:
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.exited
	}
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// lockedBuffer is a bytes.Buffer safe for the writer goroutines of
// os/exec and a reader.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
