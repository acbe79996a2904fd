package libvirt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket"
)

// DefaultURI is the libvirt URI used when neither the configuration nor
// LIBVIRT_DEFAULT_URI names one.
const DefaultURI = "qemu:///system"

// defaultSocket is libvirtd's read-write socket on the host.
const defaultSocket = "/var/run/libvirt/libvirt-sock"

// ResolveURI returns uri, else $LIBVIRT_DEFAULT_URI, else DefaultURI.
func ResolveURI(uri string) string {
	switch {
	case uri != "":
		return uri
	case os.Getenv("LIBVIRT_DEFAULT_URI") != "":
		return os.Getenv("LIBVIRT_DEFAULT_URI")
	default:
		return DefaultURI
	}
}

// Dial connects to the libvirt daemon at uri (empty: ResolveURI) and
// returns the connected client. qemu+ssh:// URIs run the system ssh
// (SSHDialer), as libvirt's own clients do, so that ~/.ssh/config,
// the agent and known_hosts apply; the other transports (unix, tcp, tls,
// libssh) are go-libvirt's. ctx bounds the connection.
func Dial(ctx context.Context, uri string) (*golibvirt.Libvirt, error) {
	uri = ResolveURI(uri)
	u, err := url.Parse(uri)
	if err != nil {
		return nil, fmt.Errorf("libvirt: dial: parse URI %q: %w", Redact(uri), err)
	}
	var l *golibvirt.Libvirt
	done := make(chan error, 1)
	go func() {
		if u.Scheme == "qemu+ssh" {
			d, err := NewSSHDialer(u)
			if err != nil {
				done <- err
				return
			}
			l = golibvirt.NewWithDialer(d)
			err = l.ConnectToURI(golibvirt.ConnectURI(remoteName(u)))
			if why := ""; err != nil {
				if why = d.sshFailure(2 * time.Second); why != "" {
					err = fmt.Errorf("%s: %w", why, err)
				}
			}
			done <- err
			return
		}
		l, err = golibvirt.ConnectToURI(u)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			return nil, fmt.Errorf("libvirt: dial %s: %w", u.Redacted(), err)
		}
		return l, nil
	case <-ctx.Done():
		go func() {
			if <-done == nil {
				_ = l.Disconnect()
			}
		}()
		return nil, fmt.Errorf("libvirt: dial %s: %w", u.Redacted(), ctx.Err())
	}
}

// Redact returns uri without the password it may hold, for messages and
// logs; a URI that does not parse is reduced to its scheme.
func Redact(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		scheme, _, _ := strings.Cut(uri, ":")
		return scheme + "://(unparsable URI)"
	}
	return u.Redacted()
}

// remoteName is the URI the daemon on the far side of an SSH transport
// is asked for: the URI without its transport and host ("qemu:///system"),
// or its name parameter.
func remoteName(u *url.URL) string {
	if name := u.Query().Get("name"); name != "" {
		return name
	}
	driver, _, _ := strings.Cut(u.Scheme, "+")
	return (&url.URL{Scheme: driver, Path: u.Path}).String()
}

// SSHDialer reaches a remote libvirt daemon through the system ssh, as
// libvirt's own qemu+ssh transport does: ssh runs virt-ssh-helper (or nc
// on the daemon's socket where the helper is missing) on the host and
// the RPC stream goes over its standard input and output. It implements
// go-libvirt's socket.Dialer.
type SSHDialer struct {
	// SSH is the ssh program ("ssh" when empty).
	SSH string
	// Argv is the command line after the program.
	Argv []string

	mu   sync.Mutex
	last *cmdConn // the ssh Dial started last, for why it failed
}

var _ socket.Dialer = (*SSHDialer)(nil)

// NewSSHDialer returns the dialer of a qemu+ssh:// URI. It honours the
// URI's user, port and the command (the ssh program), keyfile, socket and
// netcat parameters, like libvirt; everything else comes from the user's
// ssh configuration.
func NewSSHDialer(u *url.URL) (*SSHDialer, error) {
	bin, argv, err := sshCommand(u)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	sock := q.Get("socket")
	if sock == "" {
		sock = defaultSocket
	}
	nc := q.Get("netcat")
	if nc == "" {
		nc = "nc"
	}
	// libvirt 9's "auto" proxy: the helper when the host has it, else nc.
	script := fmt.Sprintf("which virt-ssh-helper 1>/dev/null 2>&1; if test $? = 0; then virt-ssh-helper %s; else %s -U %s; fi",
		shellQuote(remoteName(u)), shellQuote(nc), shellQuote(sock))
	argv = append(argv, "--", u.Hostname(), "sh -c "+shellQuote(script))
	return &SSHDialer{SSH: bin, Argv: argv}, nil
}

// sshCommand returns the ssh program of a qemu+ssh:// URI and its options
// up to the host: no terminal, no escape character, no prompt, and the
// URI's port, user and keyfile.
func sshCommand(u *url.URL) (string, []string, error) {
	if u.Hostname() == "" {
		return "", nil, fmt.Errorf("libvirt: ssh transport: URI %q names no host", u.Redacted())
	}
	q := u.Query()
	// No prompt (nobody would see it); a host that does not answer fails
	// the dial within ConnectTimeout, and a link that dies mid-session
	// (an upload, a console) ends ssh, and so the connection, within a
	// minute, where TCP alone would wait for many.
	argv := []string{"-T", "-e", "none", "-o", "BatchMode=yes", "-o", "ConnectTimeout=20", "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4"}
	if p := u.Port(); p != "" {
		argv = append(argv, "-p", p)
	}
	if name := u.User.Username(); name != "" {
		argv = append(argv, "-l", name)
	}
	if key := q.Get("keyfile"); key != "" {
		argv = append(argv, "-i", key)
	}
	bin := q.Get("command")
	if bin == "" {
		bin = "ssh"
	}
	return bin, argv, nil
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Dial starts ssh and returns its standard input and output as one
// connection; closing it ends ssh.
func (d *SSHDialer) Dial() (net.Conn, error) {
	bin := d.SSH
	if bin == "" {
		bin = "ssh"
	}
	cmd := exec.Command(bin, d.Argv...)
	// Its own process group: a ^C typed to ukdev's terminal must not
	// reach it; Pdeathsig ends it with ukdev.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("libvirt: ssh transport: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("libvirt: ssh transport: %w", err)
	}
	stderr := &tail{max: 4 << 10}
	cmd.Stderr = stderr
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("libvirt: ssh transport: %w", err)
	}
	c := &cmdConn{cmd: cmd, in: stdin, out: stdout, stderr: stderr, waited: make(chan struct{})}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.waited)
	}()
	d.mu.Lock()
	d.last = c
	d.mu.Unlock()
	return c, nil
}

// sshFailure returns what the ssh Dial started last said on its standard
// error before it ended (within wait), or how it ended when it said
// nothing, or "" when it did not end: go-libvirt reports a transport that closed during the
// handshake only as an interrupted call, without ssh's reason
// ("Permission denied (publickey)", "Host key verification failed").
func (d *SSHDialer) sshFailure(wait time.Duration) string {
	d.mu.Lock()
	c := d.last
	d.mu.Unlock()
	if c == nil {
		return ""
	}
	select {
	case <-c.waited:
	case <-time.After(wait):
		return ""
	}
	msg := lastLine(c.stderr.String())
	switch {
	case msg == "" && c.waitErr != nil:
		return fmt.Sprintf("%s ended: %v", c.cmd.Path, c.waitErr)
	case msg != "" && !strings.HasPrefix(msg, "ssh:"):
		return "ssh: " + msg
	}
	return msg
}

// cmdConn is a net.Conn over a command's standard input and output.
// Deadlines are not supported (go-libvirt sets none).
type cmdConn struct {
	cmd     *exec.Cmd
	in      io.WriteCloser
	out     io.ReadCloser
	stderr  *tail
	waited  chan struct{}
	waitErr error
	once    sync.Once
}

func (c *cmdConn) Read(p []byte) (int, error) {
	n, err := c.out.Read(p)
	if errors.Is(err, io.EOF) || errors.Is(err, os.ErrClosed) {
		<-c.waited
		if msg := strings.TrimSpace(c.stderr.String()); msg != "" {
			return n, fmt.Errorf("libvirt: ssh transport closed: %s: %w", lastLine(msg), io.EOF)
		}
	}
	return n, err
}

func (c *cmdConn) Write(p []byte) (int, error) { return c.in.Write(p) }

// Close ends ssh: its input closes, then it is terminated.
func (c *cmdConn) Close() error {
	c.once.Do(func() {
		_ = c.in.Close()
		select {
		case <-c.waited:
		case <-time.After(time.Second):
			_ = c.cmd.Process.Signal(syscall.SIGTERM)
			<-c.waited
		}
	})
	return nil
}

func (c *cmdConn) LocalAddr() net.Addr              { return sshAddr("local") }
func (c *cmdConn) RemoteAddr() net.Addr             { return sshAddr(strings.Join(c.cmd.Args, " ")) }
func (c *cmdConn) SetDeadline(time.Time) error      { return errors.ErrUnsupported }
func (c *cmdConn) SetReadDeadline(time.Time) error  { return errors.ErrUnsupported }
func (c *cmdConn) SetWriteDeadline(time.Time) error { return errors.ErrUnsupported }

type sshAddr string

func (a sshAddr) Network() string { return "ssh" }
func (a sshAddr) String() string  { return string(a) }

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// lastLine returns the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
