package libvirt

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"syscall"

	golibvirt "github.com/digitalocean/go-libvirt"
)

// Domain is a domain ukdev created, as List finds it.
type Domain struct {
	// Name is the domain's name on the host.
	Name string
	// Owner is what its metadata tag says of the ukdev that created it.
	Owner Owner
	// State is libvirt's state of the domain: "running", "paused",
	// "crashed"...
	State string
}

// List returns the domains of the daemon at uri that carry ukdev's
// metadata tag, and only those.
func List(ctx context.Context, uri string) ([]Domain, error) {
	l, err := Dial(ctx, uri)
	if err != nil {
		return nil, err
	}
	defer l.Disconnect()
	doms, _, err := l.ConnectListAllDomains(1, golibvirt.ConnectListDomainsActive)
	if err != nil {
		return nil, fmt.Errorf("libvirt: list domains: %w", err)
	}
	var out []Domain
	for _, d := range doms {
		meta, err := l.DomainGetMetadata(d, int32(golibvirt.DomainMetadataElement), golibvirt.OptString{Namespace}, 0)
		switch {
		case isError(err, golibvirt.ErrNoDomainMetadata), isError(err, golibvirt.ErrNoDomain):
			continue // not ukdev's, or gone meanwhile
		case err != nil:
			return nil, fmt.Errorf("libvirt: list domains: metadata of %s: %w", d.Name, err)
		}
		var owner struct {
			Owner
		}
		if err := xml.Unmarshal([]byte(meta), &owner); err != nil {
			return nil, fmt.Errorf("libvirt: list domains: metadata of %s: %w", d.Name, err)
		}
		state, _, err := l.DomainGetState(d, 0)
		if isError(err, golibvirt.ErrNoDomain) {
			continue
		}
		out = append(out, Domain{Name: d.Name, Owner: owner.Owner, State: stateName(state)})
	}
	return out, nil
}

// stateName names a virDomainState.
func stateName(s int32) string {
	switch golibvirt.DomainState(s) {
	case golibvirt.DomainRunning:
		return "running"
	case golibvirt.DomainBlocked:
		return "blocked"
	case golibvirt.DomainPaused:
		return "paused"
	case golibvirt.DomainShutdown:
		return "shutting down"
	case golibvirt.DomainShutoff:
		return "shut off"
	case golibvirt.DomainCrashed:
		return "crashed"
	case golibvirt.DomainPmsuspended:
		return "suspended"
	default:
		return "unknown"
	}
}

// CleanStale destroys the domains of the daemon at uri that a ukdev of
// this machine created for project (its root directory; empty: any
// project) and that outlived it: its metadata names this host and a
// process that no longer exists. Domains are started auto-destroyed, so
// libvirtd removes them when their client's connection closes; this
// catches those a daemon kept because it had not noticed yet (a
// half-open SSH or TCP connection). It returns the names destroyed.
func CleanStale(ctx context.Context, uri, project string) ([]string, error) {
	doms, err := List(ctx, uri)
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	var stale []Domain
	for _, d := range doms {
		if d.Owner.Host == host && d.Owner.PID > 0 && (project == "" || d.Owner.Project == project) && !processExists(d.Owner.PID) {
			stale = append(stale, d)
		}
	}
	if len(stale) == 0 {
		return nil, nil
	}
	l, err := Dial(ctx, uri)
	if err != nil {
		return nil, err
	}
	defer l.Disconnect()
	var names []string
	for _, d := range stale {
		dom, err := l.DomainLookupByName(d.Name)
		if err == nil {
			err = l.DomainDestroy(dom)
		}
		switch {
		case err == nil:
			names = append(names, d.Name)
		case isError(err, golibvirt.ErrNoDomain):
		default:
			return names, fmt.Errorf("libvirt: clean stale domain %s: %w", d.Name, err)
		}
	}
	return names, nil
}

// processExists reports whether a process with pid exists here.
func processExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
