package libvirt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Tunnel carries the connections made to a local address to a TCP port
// on the loopback of a remote libvirt host, over the SSH transport of
// its qemu+ssh:// URI: each connection runs `ssh -W 127.0.0.1:<port>`
// with the URI's options, so the user's ssh configuration (and a
// ControlMaster, where configured) applies as for libvirt itself.
type Tunnel struct {
	ln   net.Listener
	bin  string
	argv []string
	log  *slog.Logger

	// ctx ends with Close, and with it every ssh.
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// ErrNoTunnel means the URI's host is reached without SSH (a local
// daemon, or tcp/tls): ports forwarded there need no tunnel from ukdev,
// or cannot get one.
var ErrNoTunnel = errors.New("libvirt: no ssh transport to tunnel through")

// OpenTunnel listens on local ("127.0.0.1:8080") and forwards every
// connection to remotePort on the loopback of uri's host. It fails with
// ErrNoTunnel unless uri is a qemu+ssh:// URI; log may be nil.
func OpenTunnel(uri, local string, remotePort int, log *slog.Logger) (*Tunnel, error) {
	u, err := url.Parse(ResolveURI(uri))
	if err != nil {
		return nil, fmt.Errorf("libvirt: tunnel: parse URI: %w", err)
	}
	if u.Scheme != "qemu+ssh" {
		return nil, fmt.Errorf("libvirt: tunnel to %s: %w", u.Redacted(), ErrNoTunnel)
	}
	if remotePort < 1 || remotePort > 65535 {
		return nil, fmt.Errorf("libvirt: tunnel: port %d is outside 1-65535", remotePort)
	}
	bin, argv, err := sshCommand(u)
	if err != nil {
		return nil, err
	}
	argv = append(argv, "-W", net.JoinHostPort("127.0.0.1", strconv.Itoa(remotePort)), "--", u.Hostname())
	ln, err := net.Listen("tcp", local)
	if err != nil {
		return nil, fmt.Errorf("libvirt: tunnel: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &Tunnel{ln: ln, bin: bin, argv: argv, log: log, ctx: ctx, cancel: cancel, conns: make(map[net.Conn]struct{})}
	t.wg.Add(1)
	go t.accept()
	return t, nil
}

// Addr returns the local address the tunnel listens on.
func (t *Tunnel) Addr() net.Addr { return t.ln.Addr() }

// Argv returns the ssh command line each connection runs, program first.
func (t *Tunnel) Argv() []string { return append([]string{t.bin}, t.argv...) }

// Close stops listening, ends every connection and its ssh, and waits for
// them.
func (t *Tunnel) Close() error {
	t.mu.Lock()
	t.closed = true
	t.cancel()
	for c := range t.conns {
		_ = c.Close()
	}
	t.mu.Unlock()
	err := t.ln.Close()
	t.wg.Wait()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("libvirt: tunnel: %w", err)
	}
	return nil
}

func (t *Tunnel) accept() {
	defer t.wg.Done()
	for {
		c, err := t.ln.Accept()
		if err != nil {
			return
		}
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			_ = c.Close()
			return
		}
		t.conns[c] = struct{}{}
		t.wg.Add(1)
		t.mu.Unlock()
		go t.serve(c)
	}
}

// serve runs one ssh for c until either side ends.
func (t *Tunnel) serve(c net.Conn) {
	defer t.wg.Done()
	defer func() {
		t.mu.Lock()
		delete(t.conns, c)
		t.mu.Unlock()
		_ = c.Close()
	}()
	cmd := exec.CommandContext(t.ctx, t.bin, t.argv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.log.Warn("tunnel: ssh stdin", "err", err)
		return
	}
	cmd.Stdout = c
	stderr := &tail{max: 2 << 10}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.log.Warn("tunnel: start ssh", "err", err)
		return
	}
	// The client's bytes go to ssh; its end of input becomes ssh's, which
	// passes it on. ssh ends when the remote side closes (or Close).
	go func() {
		_, _ = io.Copy(stdin, c)
		_ = stdin.Close()
	}()
	if err := cmd.Wait(); err != nil && t.ctx.Err() == nil {
		t.log.Debug("tunnel: ssh ended", "err", err, "stderr", stderr.String())
	}
}
