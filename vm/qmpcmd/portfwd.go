package qmpcmd

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	"github.com/ukdev/ukdev/vm"
)

// AddPortForward forwards a host port to the guest through the user-mode
// network backend netdev (HMP hostfwd_add). QEMU binds the host port at
// once: a port in use is reported as a *vm.PortError.
func AddPortForward(ctx context.Context, ex Executor, netdev string, pf vm.PortForward) error {
	rule, err := HostfwdRule(pf)
	if err != nil {
		return err
	}
	ret, err := ex.Execute(ctx, "human-monitor-command",
		map[string]string{"command-line": "hostfwd_add " + netdev + " " + rule})
	if err != nil {
		return fmt.Errorf("qemu: add port forward %s: %w", rule, err)
	}
	var text string
	if err := json.Unmarshal(ret, &text); err != nil {
		return fmt.Errorf("qemu: add port forward %s: decode reply: %w", rule, err)
	}
	if text = strings.TrimSpace(text); text != "" {
		if pf.HostAddr == "" {
			pf.HostAddr = vm.DefaultHostAddr
		}
		return &vm.PortError{Forward: pf, Detail: text}
	}
	return nil
}

// HostfwdRule validates pf and renders it in hostfwd_add syntax,
// "tcp:127.0.0.1:8080-:80". Validation also keeps anything but the rule
// out of the HMP command line.
func HostfwdRule(pf vm.PortForward) (string, error) {
	if pf.Proto != "tcp" && pf.Proto != "udp" {
		return "", fmt.Errorf("qemu: port forward: protocol %q is not tcp or udp", pf.Proto)
	}
	addr, err := netip.ParseAddr(strings.Trim(pf.HostAddrOrDefault(), "[]"))
	if err != nil || addr.Zone() != "" {
		return "", fmt.Errorf("qemu: port forward: host address %q is not an IP address", pf.HostAddr)
	}
	host := addr.String()
	if addr.Is6() {
		// QEMU 7.2 refuses IPv6 host addresses ("Bad host address", a
		// *PortError); later versions take them bracketed.
		host = "[" + host + "]"
	}
	if pf.HostPort < 1 || pf.HostPort > 65535 {
		return "", fmt.Errorf("qemu: port forward: host port %d is outside 1-65535", pf.HostPort)
	}
	if pf.GuestPort < 1 || pf.GuestPort > 65535 {
		return "", fmt.Errorf("qemu: port forward: guest port %d is outside 1-65535", pf.GuestPort)
	}
	return fmt.Sprintf("%s:%s:%d-:%d", pf.Proto, host, pf.HostPort, pf.GuestPort), nil
}
