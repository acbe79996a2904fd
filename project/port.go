package project

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// DefaultHostAddr is the host address a forwarded port binds when its spec
// names none: only the local machine can reach the guest.
const DefaultHostAddr = "127.0.0.1"

// Port is one host→guest port forward.
type Port struct {
	// Proto is "tcp" or "udp".
	Proto string
	// HostAddr is the host IPv4 address to bind; DefaultHostAddr unless
	// the spec names one.
	HostAddr string
	// HostPort and GuestPort are in 1..65535.
	HostPort  int
	GuestPort int
	// Spec is the forward as written in the config.
	Spec string
}

// String formats p in the config's spec syntax, always with protocol and
// address ("tcp:127.0.0.1:8080:80", "udp:0.0.0.0:5353:53").
func (p Port) String() string {
	addr := p.HostAddr
	if strings.Contains(addr, ":") {
		addr = "[" + addr + "]"
	}
	return fmt.Sprintf("%s:%s:%d:%d", p.Proto, addr, p.HostPort, p.GuestPort)
}

// ParsePort parses a port forward written as
// [proto:][hostaddr:]hostport:guestport, where proto is tcp (the default) or
// udp and hostaddr is an IPv4 address. An IPv6 address ("[::1]:8080:80")
// is refused: QEMU 7.2's user-mode networking forwards IPv4 host addresses
// only.
// Port ranges ("8000-8010:8000-8010") are not supported: each port is
// forwarded on its own line, so that a conflict names the exact port.
// Errors wrap ErrBadPort.
func ParsePort(spec string) (Port, error) {
	p, err := parsePort(spec)
	if err != nil {
		return Port{}, fmt.Errorf("project: parse port %q: %w: %w", spec, ErrBadPort, err)
	}
	return p, nil
}

// parsePort is ParsePort without the wrapping, so that config errors can
// phrase the reason their own way.
func parsePort(spec string) (Port, error) {
	const want = "want [proto:][addr:]hostport:guestport"
	p := Port{Proto: "tcp", HostAddr: DefaultHostAddr, Spec: spec}
	rest := strings.TrimSpace(spec)
	if proto, after, ok := strings.Cut(rest, ":"); ok {
		switch strings.ToLower(proto) {
		case "tcp", "udp":
			p.Proto, rest = strings.ToLower(proto), after
		}
	}
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]")
		if end < 0 || !strings.HasPrefix(rest[end+1:], ":") {
			return Port{}, fmt.Errorf("unclosed [ in IPv6 address: %s", want)
		}
		addr, err := parseHostAddr(rest[1:end])
		if err != nil {
			return Port{}, err
		}
		p.HostAddr, rest = addr, rest[end+2:]
		parts := strings.Split(rest, ":")
		if len(parts) != 2 {
			return Port{}, fmt.Errorf("%s", want)
		}
		return finishPort(p, parts[0], parts[1])
	}
	parts := strings.Split(rest, ":")
	switch len(parts) {
	case 2:
		return finishPort(p, parts[0], parts[1])
	case 3:
		addr, err := parseHostAddr(parts[0])
		if err != nil {
			return Port{}, err
		}
		p.HostAddr = addr
		return finishPort(p, parts[1], parts[2])
	}
	if len(parts) > 3 {
		if addr := strings.Join(parts[:len(parts)-2], ":"); isIP(addr) {
			// An IPv6 address without brackets: say why IPv6 fails.
			_, err := parseHostAddr(addr)
			return Port{}, err
		}
	}
	return Port{}, fmt.Errorf("%s", want)
}

// parseHostAddr checks that a forward's host address is an IP address and
// returns it in canonical form.
func parseHostAddr(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("empty host address: leave it out for %s or write 0.0.0.0 for all interfaces", DefaultHostAddr)
	}
	addr, err := netip.ParseAddr(s)
	if err != nil || addr.Zone() != "" {
		return "", fmt.Errorf("host address %q is not an IP address", s)
	}
	addr = addr.Unmap()
	if addr.Is6() {
		// QEMU 7.2's user-mode networking parses hostfwd's host address
		// as IPv4 only; refusing here beats QEMU's misleading "is the
		// port in use?" at boot.
		use := "an IPv4 address such as " + DefaultHostAddr
		if addr.IsUnspecified() {
			use = "0.0.0.0 for every interface"
		}
		return "", fmt.Errorf("host address %s is IPv6, and QEMU's user-mode networking forwards only IPv4 host addresses: use %s", addr, use)
	}
	return addr.String(), nil
}

// isIP reports whether s is an IP address.
func isIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

// finishPort parses the two port numbers of a forward.
func finishPort(p Port, host, guest string) (Port, error) {
	var err error
	if p.HostPort, err = portNumber("host", host); err != nil {
		return Port{}, err
	}
	if p.GuestPort, err = portNumber("guest", guest); err != nil {
		return Port{}, err
	}
	return p, nil
}

// portNumber parses one side's port number.
func portNumber(side, s string) (int, error) {
	if strings.Contains(s, "-") {
		return 0, fmt.Errorf("port ranges are not supported: forward each port on its own")
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 || s[0] == '+' {
		return 0, fmt.Errorf("%s port %q is not a number from 1 to 65535", side, s)
	}
	return n, nil
}
