package gcp

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/api/compute/v1"

	"github.com/ukdev/ukdev/project"
)

// ports groups the guest ports to open by protocol, sorted.
func ports(list []project.Port) map[string][]string {
	m := map[string][]string{}
	for _, p := range list {
		port := strconv.Itoa(p.GuestPort)
		if !slices.Contains(m[p.Proto], port) {
			m[p.Proto] = append(m[p.Proto], port)
		}
	}
	for _, v := range m {
		slices.SortFunc(v, func(a, b string) int { x, _ := strconv.Atoi(a); y, _ := strconv.Atoi(b); return x - y })
	}
	return m
}

// firewallRule is the rule that opens ports to the instances tagged with
// its name.
func (d *deployer) firewallRule(name string, open map[string][]string) *compute.Firewall {
	fw := &compute.Firewall{
		Name:         name,
		Description:  "ukdev: the ports of the project's deployed instances",
		Network:      "global/networks/" + d.st.Network,
		Direction:    "INGRESS",
		SourceRanges: []string{"0.0.0.0/0"},
		TargetTags:   []string{name},
	}
	for _, p := range slices.Sorted(maps.Keys(open)) {
		fw.Allowed = append(fw.Allowed, &compute.FirewallAllowed{IPProtocol: p, Ports: open[p]})
	}
	return fw
}

// sameAllowed reports whether the rule opens exactly the ports in open.
func sameAllowed(fw *compute.Firewall, open map[string][]string) bool {
	got := map[string][]string{}
	for _, a := range fw.Allowed {
		got[a.IPProtocol] = append(got[a.IPProtocol], a.Ports...)
	}
	return maps.EqualFunc(got, open, func(a, b []string) bool {
		a, b = slices.Clone(a), slices.Clone(b)
		slices.Sort(a)
		slices.Sort(b)
		return slices.Equal(a, b)
	})
}

// describePorts writes the ports of open ("tcp 80, 443; udp 53").
func describePorts(open map[string][]string) string {
	var parts []string
	for _, p := range slices.Sorted(maps.Keys(open)) {
		parts = append(parts, p+" "+strings.Join(open[p], ", "))
	}
	return strings.Join(parts, "; ")
}

// portsOf lists the ports a rule opens, as forwards of the same port.
func portsOf(fw *compute.Firewall) []project.Port {
	var list []project.Port
	for _, a := range fw.Allowed {
		for _, p := range a.Ports {
			n, _ := strconv.Atoi(p)
			list = append(list, project.Port{Proto: a.IPProtocol, GuestPort: n})
		}
	}
	return list
}

// openPorts makes the firewall rule want, or updates the existing one
// (have, nil when absent) when it opens other ports.
func (d *deployer) openPorts(ctx context.Context, c *clients, have, want *compute.Firewall) error {
	switch {
	case have == nil:
		return d.do(ctx, c, "create firewall rule "+want.Name, func() (*compute.Operation, error) {
			return c.compute.Firewalls.Insert(d.st.Project, want).Context(ctx).Do()
		})
	case !sameAllowed(have, ports(portsOf(want))):
		patch := &compute.Firewall{Allowed: want.Allowed}
		return d.do(ctx, c, "update firewall rule "+want.Name, func() (*compute.Operation, error) {
			return c.compute.Firewalls.Patch(d.st.Project, want.Name, patch).Context(ctx).Do()
		})
	}
	return nil
}
