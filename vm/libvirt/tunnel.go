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
	"sync/atomic"
	"syscall"
	"time"
)

// Tunnel carries the connections made to a local address to a TCP port
// on the loopback of a libvirt host. To a remote host it goes over the
// SSH transport of its qemu+ssh:// URI: each connection runs `ssh -W
// 127.0.0.1:<port>` with the URI's options, so the user's ssh
// configuration (and a ControlMaster, where configured) applies as for
// libvirt itself. To the daemon of this machine it connects directly.
//
// Its target port can change while it listens (Retarget): connections
// accepted afterwards go to the new port, those already open stay where
// they are.
type Tunnel struct {
	ln   net.Listener
	bin  string
	argv []string // ssh's options, up to the -W; empty: a direct connection
	host string
	log  *slog.Logger

	target atomic.Int32

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
	return openTunnel(uri, "tcp", local, remotePort, false, log)
}

// openTunnel listens on network ("tcp" or "unix") at local and forwards
// every connection to remotePort on the loopback of uri's host: over ssh
// for a qemu+ssh:// URI, directly when direct is set and uri is local.
func openTunnel(uri, network, local string, remotePort int, direct bool, log *slog.Logger) (*Tunnel, error) {
	uri = ResolveURI(uri)
	u, err := url.Parse(uri)
	if err != nil {
		return nil, fmt.Errorf("libvirt: tunnel: parse URI: %w", err)
	}
	if remotePort < 1 || remotePort > 65535 {
		return nil, fmt.Errorf("libvirt: tunnel: port %d is outside 1-65535", remotePort)
	}
	t := &Tunnel{conns: make(map[net.Conn]struct{})}
	switch {
	case u.Scheme == "qemu+ssh":
		bin, argv, err := sshCommand(u)
		if err != nil {
			return nil, err
		}
		t.bin, t.argv, t.host = bin, argv, u.Hostname()
	case direct && localURI(uri):
	default:
		return nil, fmt.Errorf("libvirt: tunnel to %s: %w", u.Redacted(), ErrNoTunnel)
	}
	t.target.Store(int32(remotePort))
	if t.ln, err = net.Listen(network, local); err != nil {
		return nil, fmt.Errorf("libvirt: tunnel: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t.log = log
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.wg.Add(1)
	go t.accept()
	return t, nil
}

// Addr returns the local address the tunnel listens on.
func (t *Tunnel) Addr() net.Addr { return t.ln.Addr() }

// Target returns the port on the host's loopback connections go to.
func (t *Tunnel) Target() int { return int(t.target.Load()) }

// Retarget sends the connections accepted from now on to remotePort;
// those already open stay where they are.
//
// Port 0 means no target: connections are closed as soon as accepted.
func (t *Tunnel) Retarget(remotePort int) { t.target.Store(int32(remotePort)) }

// Argv returns the ssh command line a connection accepted now runs,
// program first; nil for a direct tunnel.
func (t *Tunnel) Argv() []string {
	if t.bin == "" {
		return nil
	}
	argv := append([]string{t.bin}, t.argv...)
	return append(argv, "-W", net.JoinHostPort("127.0.0.1", strconv.Itoa(t.Target())), "--", t.host)
}

// Close stops listening, ends every connection and its ssh, and waits for
// them. It is idempotent.
func (t *Tunnel) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
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

// serve carries c to the target until either side ends.
func (t *Tunnel) serve(c net.Conn) {
	defer t.wg.Done()
	defer func() {
		t.mu.Lock()
		delete(t.conns, c)
		t.mu.Unlock()
		_ = c.Close()
	}()
	if t.Target() == 0 {
		return // no machine behind the tunnel now: the connection is closed
	}
	argv := t.Argv()
	if argv == nil {
		t.serveDirect(c)
		return
	}
	cmd := exec.CommandContext(t.ctx, argv[0], argv[1:]...)
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

// serveDirect connects c to the target on this machine's loopback.
func (t *Tunnel) serveDirect(c net.Conn) {
	var d net.Dialer
	r, err := d.DialContext(t.ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(t.Target())))
	if err != nil {
		t.log.Debug("tunnel: connect", "err", err)
		return
	}
	stop := context.AfterFunc(t.ctx, func() { _ = r.Close() })
	defer stop()
	defer r.Close()
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(r, c)
		if tc, ok := r.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		close(done)
	}()
	_, _ = io.Copy(c, r)
	_ = c.Close()
	<-done
}
