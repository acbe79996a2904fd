package libvirt

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/ukdev/ukdev/vm"
	"github.com/ukdev/ukdev/vm/qmpcmd"
)

// forward is the local end of a port forwarded to a guest on a remote
// host: a listener on the configured address and port whose connections
// go through ssh to the port the current machine's QEMU bound on the
// host's loopback. It outlives machines: the machine of a hot reboot
// takes it over (Tunnel.Retarget), so the port stays bound.
type forward struct {
	tun *Tunnel
	// owner is the machine the tunnel goes to now; nil once it exited.
	owner *Machine
}

// release forgets m as the forward's target, and the tunnel refuses
// connections until the next machine takes it over: the host port m's
// QEMU had is free now, and another program (another user's forward, on
// a shared host) may take it. The caller holds the Backend's mutex.
func (f *forward) release(m *Machine) {
	if f.owner == m {
		f.owner = nil
		f.tun.Retarget(0)
	}
}

// AddPortForward forwards a port to the guest through the domain's
// user-mode network (hostfwd_add on libvirt's hostnet0).
//
// With a daemon of this machine (qemu:///system), QEMU binds pf's address
// and port itself, as vm/qemu does. On a remote host, QEMU binds a port of
// the host's loopback that the host picks, and the Backend listens on
// pf's address and port here and carries each connection there over ssh
// (`ssh -W`, one per connection, as OpenTunnel). That listener is the
// Backend's: it stays bound until Backend.Close, across machines, and
// each machine that forwards the same port takes it over. Only TCP over a
// qemu+ssh:// URI can be tunnelled: UDP, or a tcp/tls transport, is a
// *vm.PortError that says so, as is a local port in use.
//
// A machine on a libvirt network (Backend.Network), or without
// Spec.Network, fails with an error wrapping vm.ErrNoNetwork.
func (m *Machine) AddPortForward(ctx context.Context, pf vm.PortForward) error {
	if !m.spec.Network {
		return fmt.Errorf("libvirt: add port forward: %w", vm.ErrNoNetwork)
	}
	if m.b.Network != "" {
		return fmt.Errorf("libvirt: add port forward: the guest is on libvirt network %q, not a user-mode network ukdev can forward ports of: %w",
			m.b.Network, vm.ErrNoNetwork)
	}
	if localURI(m.uri) {
		return qmpcmd.AddPortForward(ctx, m, netdevID, pf)
	}
	if _, err := qmpcmd.HostfwdRule(pf); err != nil {
		return err
	}
	if pf.HostAddr == "" {
		pf.HostAddr = vm.DefaultHostAddr
	}
	u, err := url.Parse(m.uri)
	if err != nil {
		return fmt.Errorf("libvirt: add port forward: parse URI: %w", err)
	}
	switch {
	case pf.Proto != "tcp":
		return &vm.PortError{Forward: pf, Detail: fmt.Sprintf("%s cannot be forwarded from a remote libvirt host (%s): only TCP over qemu+ssh is tunnelled",
			strings.ToUpper(pf.Proto), u.Redacted())}
	case u.Scheme != "qemu+ssh":
		return &vm.PortError{Forward: pf, Detail: fmt.Sprintf("the libvirt host is reached over %s (%s): only TCP over qemu+ssh is tunnelled",
			transport(u), u.Redacted())}
	}

	key := pf.Proto + "/" + net.JoinHostPort(pf.HostAddr, strconv.Itoa(pf.HostPort))
	b := m.b
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return fmt.Errorf("libvirt: add port forward: %w", ErrClosed)
	}
	f := b.forwards[key]
	if f != nil && f.owner == m {
		b.mu.Unlock()
		return &vm.PortError{Forward: pf, Detail: "already forwarded to this machine"}
	}
	fresh := f == nil
	if fresh {
		// Bound before anything changes on the host: a busy port leaves
		// nothing behind.
		tun, err := OpenTunnel(m.uri, net.JoinHostPort(pf.HostAddr, strconv.Itoa(pf.HostPort)), 1, m.log)
		if err != nil {
			b.mu.Unlock()
			detail := err.Error()
			if inner := errors.Unwrap(err); inner != nil {
				detail = inner.Error()
			}
			return &vm.PortError{Forward: pf, Detail: detail}
		}
		f = &forward{tun: tun}
		if b.forwards == nil {
			b.forwards = make(map[string]*forward)
		}
		b.forwards[key] = f
	}
	b.mu.Unlock()

	// The monitor commands run without the Backend's lock: a machine
	// that exits meanwhile takes it to give its forwards back.
	port, err := m.hostLoopbackForward(ctx, pf.GuestPort)

	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		if fresh && f.owner == nil && b.forwards[key] == f {
			delete(b.forwards, key)
			_ = f.tun.Close()
		}
		return err
	}
	if b.closed {
		return fmt.Errorf("libvirt: add port forward: %w", ErrClosed)
	}
	f.tun.Retarget(port)
	f.owner = m
	m.log.Debug("port tunnelled", "local", key, "host port", port, "guest port", pf.GuestPort)
	return nil
}

// transport names the transport of a libvirt URI: "tcp" for qemu+tcp,
// "tls" for qemu:// with a host.
func transport(u *url.URL) string {
	if _, t, ok := strings.Cut(u.Scheme, "+"); ok {
		return t
	}
	return "tls"
}

// hostLoopbackForward has QEMU forward a port of the host's loopback,
// which the host picks, to guestPort, and returns that port. QEMU 7.2's
// hostfwd_add takes port 0 and reports the port bound in `info usernet`:
// the forward that was not there before is the new one.
func (m *Machine) hostLoopbackForward(ctx context.Context, guestPort int) (int, error) {
	before, err := m.usernetForwards(ctx)
	if err != nil {
		return 0, err
	}
	pf := vm.PortForward{Proto: "tcp", HostAddr: "127.0.0.1", HostPort: 1, GuestPort: guestPort}
	rule := fmt.Sprintf("tcp:127.0.0.1:0-:%d", guestPort)
	text, err := m.hmp(ctx, "hostfwd_add "+netdevID+" "+rule)
	if err != nil {
		return 0, fmt.Errorf("libvirt: add port forward %s: %w", rule, err)
	}
	if text = strings.TrimSpace(text); text != "" {
		pf.HostPort = 0
		return 0, &vm.PortError{Forward: pf, Detail: "on the libvirt host: " + text}
	}
	after, err := m.usernetForwards(ctx)
	if err != nil {
		return 0, err
	}
	for _, f := range after {
		if f.guestPort == guestPort && !containsForward(before, f) {
			return f.hostPort, nil
		}
	}
	return 0, fmt.Errorf("libvirt: add port forward %s: the new forward is not in info usernet", rule)
}

// hmp runs an HMP command through QMP and returns its text.
func (m *Machine) hmp(ctx context.Context, cmd string) (string, error) {
	ret, err := m.Execute(ctx, "human-monitor-command", map[string]string{"command-line": cmd})
	if err != nil {
		return "", err
	}
	var text string
	if err := json.Unmarshal(ret, &text); err != nil {
		return "", fmt.Errorf("libvirt: %s: decode reply: %w", cmd, err)
	}
	return text, nil
}

// usernetForward is a TCP host forward of `info usernet`.
type usernetForward struct {
	hostPort, guestPort int
}

func containsForward(list []usernetForward, f usernetForward) bool {
	for _, x := range list {
		if x == f {
			return true
		}
	}
	return false
}

// usernetForwards lists the TCP host forwards of the domain's user-mode
// network.
func (m *Machine) usernetForwards(ctx context.Context) ([]usernetForward, error) {
	text, err := m.hmp(ctx, "info usernet")
	if err != nil {
		return nil, fmt.Errorf("libvirt: info usernet: %w", err)
	}
	return parseUsernet(text), nil
}

// parseUsernet returns the TCP host forwards of `info usernet`'s output:
//
//	Hub -1 (hostnet0):
//	  Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ
//	  TCP[HOST_FORWARD]  13       127.0.0.1 46423       10.0.2.15    80     0     0
func parseUsernet(text string) []usernetForward {
	var out []usernetForward
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 || f[0] != "TCP[HOST_FORWARD]" {
			continue
		}
		host, err1 := strconv.Atoi(f[3])
		guest, err2 := strconv.Atoi(f[5])
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, usernetForward{hostPort: host, guestPort: guest})
	}
	return out
}
