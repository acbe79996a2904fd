package metrics

import (
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/ukdev/ukdev/project"
)

// ErrNotForwarded is returned (wrapped) by ResolveURL when the URL needs a
// forwarded TCP port that the VM does not have.
var ErrNotForwarded = errors.New("port not forwarded")

// ResolveURL turns a metrics.url or health.url (see project.ParseGuestURL)
// into the URL to request, given the VM's forwarded ports: a path goes to
// the first forwarded TCP port, ":8080/path" to the forward of host port
// 8080, each on the address the forward binds (127.0.0.1 for one that
// binds every interface); a whole loopback URL is used as it is.
func ResolveURL(raw string, ports []project.Port) (string, error) {
	u, err := project.ParseGuestURL(raw)
	if err != nil {
		return "", fmt.Errorf("metrics: resolve URL: %w", err)
	}
	if u.Full != "" {
		return u.Full, nil
	}
	for _, p := range ports {
		if p.Proto != "tcp" || u.HostPort != 0 && p.HostPort != u.HostPort {
			continue
		}
		addr := p.HostAddr
		if addr == "" || addr == "0.0.0.0" || addr == "::" {
			addr = project.DefaultHostAddr
		}
		return "http://" + net.JoinHostPort(addr, strconv.Itoa(p.HostPort)) + u.Path, nil
	}
	if u.HostPort != 0 {
		return "", fmt.Errorf("metrics: resolve URL %q: %w: vm.ports forwards no host port %d", raw, ErrNotForwarded, u.HostPort)
	}
	return "", fmt.Errorf("metrics: resolve URL %q: %w: vm.ports forwards no TCP port for the path to go to", raw, ErrNotForwarded)
}
