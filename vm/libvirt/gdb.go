package libvirt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/ukdev/ukdev/vm"
)

// gdbListenAddr splits a gdb stub address in Spec.GDB's form,
// "unix:<path>" or "tcp:127.0.0.1:<port>", into the network and address
// of a local listener.
func gdbListenAddr(addr string) (network, address string, err error) {
	switch kind, rest, _ := strings.Cut(addr, ":"); {
	case kind == "unix" && rest != "":
		return "unix", rest, nil
	case kind == "tcp" && rest != "":
		return "tcp", rest, nil
	default:
		return "", "", fmt.Errorf("gdb stub address %q is neither unix:<path> nor tcp:<host>:<port>", addr)
	}
}

// chardevPort matches the TCP port of a listening chardev in
// query-chardev's filename ("disconnected:tcp:127.0.0.1:37953,server=on").
var chardevPort = regexp.MustCompile(`tcp:[^,\s]*:(\d+)`)

// GDBServer opens the guest's gdb stub at addr ("unix:<path>" or
// "tcp:127.0.0.1:<port>", on this machine), replacing one already open.
// QEMU's stub listens on a port of the libvirt host's loopback that the
// host picks (HMP gdbserver tcp:127.0.0.1:0), and a listener at addr here
// carries the debugger's connection to it: directly to a daemon of this
// machine, through `ssh -W` over a qemu+ssh:// URI. Other transports
// (tcp, tls) have no way to the host's loopback: an error wrapping
// errors.ErrUnsupported. The listener closes with the machine.
func (m *Machine) GDBServer(ctx context.Context, addr string) error {
	network, address, err := gdbListenAddr(addr)
	if err != nil {
		return fmt.Errorf("libvirt: gdbserver: %w", err)
	}
	if !localURI(m.uri) {
		u, err := url.Parse(m.uri)
		if err != nil {
			return fmt.Errorf("libvirt: gdbserver: parse URI: %w", err)
		}
		if u.Scheme != "qemu+ssh" {
			return fmt.Errorf("libvirt: gdbserver: the libvirt host is reached over %s, not ssh, so its loopback cannot be tunnelled to: %w",
				transport(u), errors.ErrUnsupported)
		}
	}
	// QEMU 7.2 refuses a second TCP stub while one is open ("duplicate
	// yank instance"): the old one is closed first, as in vm/qemu.
	if _, err := m.hmp(ctx, "gdbserver none"); err != nil {
		return fmt.Errorf("libvirt: gdbserver: %w", err)
	}
	text, err := m.hmp(ctx, "gdbserver tcp:127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("libvirt: gdbserver: %w", err)
	}
	if !strings.HasPrefix(strings.TrimSpace(text), "Waiting for gdb connection") {
		return fmt.Errorf("libvirt: gdbserver: %s", strings.Join(strings.Fields(text), " "))
	}
	port, err := m.gdbPort(ctx)
	if err != nil {
		return err
	}

	m.gdbMu.Lock()
	defer m.gdbMu.Unlock()
	if m.gdbDone {
		return fmt.Errorf("libvirt: gdbserver: %w", vm.ErrExited)
	}
	if m.gdb != nil {
		_ = m.gdb.Close()
		m.gdb = nil
	}
	if network == "unix" {
		// A socket left by an earlier stub (QEMU's own does the same).
		if fi, err := os.Lstat(address); err == nil && fi.Mode()&fs.ModeSocket != 0 {
			_ = os.Remove(address)
		}
	}
	tun, err := openTunnel(m.uri, network, address, port, true, m.log)
	if err != nil {
		return fmt.Errorf("libvirt: gdbserver at %s: %w", addr, err)
	}
	m.gdb = tun
	m.log.Debug("gdb stub tunnelled", "local", addr, "host port", port)
	return nil
}

// gdbPort returns the port of the gdb stub's chardev on the host.
func (m *Machine) gdbPort(ctx context.Context) (int, error) {
	ret, err := m.Execute(ctx, "query-chardev", nil)
	if err != nil {
		return 0, fmt.Errorf("libvirt: gdbserver: %w", err)
	}
	var devs []struct {
		Label    string `json:"label"`
		Filename string `json:"filename"`
	}
	if err := json.Unmarshal(ret, &devs); err != nil {
		return 0, fmt.Errorf("libvirt: gdbserver: decode query-chardev: %w", err)
	}
	for _, d := range devs {
		if d.Label != "gdb" {
			continue
		}
		if port, ok := parseChardevPort(d.Filename); ok {
			return port, nil
		}
		return 0, fmt.Errorf("libvirt: gdbserver: no TCP port in the stub's chardev %q", d.Filename)
	}
	return 0, errors.New("libvirt: gdbserver: QEMU lists no gdb chardev")
}

// parseChardevPort returns the TCP port of a chardev's filename.
func parseChardevPort(filename string) (int, bool) {
	sm := chardevPort.FindStringSubmatch(filename)
	if sm == nil {
		return 0, false
	}
	port, err := strconv.Atoi(sm[1])
	return port, err == nil && port > 0 && port < 65536
}
