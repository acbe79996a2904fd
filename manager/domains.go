package manager

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ukdev/ukdev/vm/libvirt"
)

// hostTimeout bounds the listing of one libvirt host: an SSH host that
// does not answer must not hold ukdev ps.
const hostTimeout = 15 * time.Second

// HostDomains is what one libvirt host said of the domains ukdev created
// there.
type HostDomains struct {
	// URI is the host's libvirt URI.
	URI string
	// Domains are its ukdev domains; Err says why the host did not
	// answer.
	Domains []libvirt.Domain
	Err     error
}

// Hosts returns the libvirt URIs ukdev ps and the actions look at: the
// hosts of the running loops, then extra (the current project's URI, the
// --on flags, LIBVIRT_DEFAULT_URI) in order, each once; empty ones are
// skipped.
func Hosts(vms []VM, extra ...string) []string {
	var uris []string
	add := func(uri string) {
		if uri != "" && !slices.Contains(uris, uri) {
			uris = append(uris, uri)
		}
	}
	for _, v := range vms {
		add(v.Host)
	}
	for _, uri := range extra {
		add(uri)
	}
	return uris
}

// ListDomains lists the ukdev domains of each host of uris, all at once,
// in the order of uris. A host that fails or takes longer than
// hostTimeout has Err set. Two URIs may name one daemon
// (qemu+ssh://me@kvm1/system and qemu+ssh://kvm1/system): a domain is
// listed under the first host that has it only.
func ListDomains(ctx context.Context, uris []string) []HostDomains {
	return dedupe(listAll(ctx, uris))
}

// dedupe drops from each host the domains an earlier host of out has
// (same name and owner: the same daemon reached under two URIs).
func dedupe(out []HostDomains) []HostDomains {
	seen := map[libvirt.Domain]bool{}
	for i := range out {
		out[i].Domains = slices.DeleteFunc(out[i].Domains, func(d libvirt.Domain) bool {
			key := libvirt.Domain{Name: d.Name, Owner: d.Owner}
			dup := seen[key]
			seen[key] = true
			return dup
		})
	}
	return out
}

// listAll lists the ukdev domains of each host of uris, all at once.
func listAll(ctx context.Context, uris []string) []HostDomains {
	out := make([]HostDomains, len(uris))
	var wg sync.WaitGroup
	for i, uri := range uris {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, hostTimeout)
			defer cancel()
			doms, err := listWithin(ctx, uri)
			out[i] = HostDomains{URI: uri, Domains: doms, Err: err}
		})
	}
	wg.Wait()
	return out
}

// listWithin is libvirt.List bounded by ctx as a whole: libvirt.List
// bounds only its dial, and a host can stall after it.
func listWithin(ctx context.Context, uri string) ([]libvirt.Domain, error) {
	type result struct {
		doms []libvirt.Domain
		err  error
	}
	done := make(chan result, 1)
	go func() {
		doms, err := libvirt.List(ctx, uri)
		done <- result{doms, err}
	}()
	select {
	case r := <-done:
		return r.doms, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("manager: list domains on %s: %w", uri, ctx.Err())
	}
}

// Owners says whether the ukdev that created a domain is a running loop
// of this machine, and whether its process still lives.
type Owners struct {
	// Hostname is this machine's hostname, as domains record it.
	Hostname string
	// Alive reports whether a process of this machine exists.
	Alive func(pid int) bool
}

// Merge returns vms with the domains of hosts: a domain created by one
// of the loops of vms (this hostname and the loop's pid) is named in
// that loop's row (Domain); every other ukdev domain gets a row of its
// own after the loops (host by host in the order of hosts, by name
// within one), its project from its metadata, its state from libvirt,
// and Orphan set when its owner was a ukdev of this machine that no
// longer runs. A loop with several domains
// (a hot reboot under way) names the first, and the others get rows of
// their own.
func Merge(vms []VM, hosts []HostDomains, o Owners) []VM {
	out := slices.Clone(vms)
	for _, h := range hosts {
		var extra []VM
		for _, d := range h.Domains {
			if i := loopOf(out, d, o.Hostname); i >= 0 && out[i].Domain == "" {
				out[i].Domain = d.Name
				continue
			}
			extra = append(extra, domainVM(h.URI, d, o))
		}
		slices.SortStableFunc(extra, func(a, b VM) int { return strings.Compare(a.Domain, b.Domain) })
		out = append(out, extra...)
	}
	return out
}

// loopOf returns the index of the loop of vms that created d, or -1.
func loopOf(vms []VM, d libvirt.Domain, hostname string) int {
	if d.Owner.Host != hostname || d.Owner.PID <= 0 {
		return -1
	}
	for i, v := range vms {
		if v.PID == d.Owner.PID {
			return i
		}
	}
	return -1
}

// OwnerLoop returns the running loop of vms that created d: d's owner is
// this machine (hostname) and the loop's ukdev process.
func OwnerLoop(vms []VM, d libvirt.Domain, hostname string) (VM, bool) {
	if i := loopOf(vms, d, hostname); i >= 0 {
		return vms[i], true
	}
	return VM{}, false
}

// domainVM is the row of a domain no running loop of ours owns.
func domainVM(uri string, d libvirt.Domain, o Owners) VM {
	v := VM{
		Entry: Entry{
			Project: filepath.Base(d.Owner.Project),
			Root:    d.Owner.Project,
			Host:    uri,
		},
		State:     d.State,
		Domain:    d.Name,
		OwnerHost: d.Owner.Host,
		OwnerPID:  d.Owner.PID,
	}
	if d.Owner.Project == "" {
		v.Project = "?"
	}
	v.Orphan = d.Owner.Host == o.Hostname && d.Owner.PID > 0 && o.Alive != nil && !o.Alive(d.Owner.PID)
	return v
}

// ErrDomainAmbiguous is returned (wrapped) by FindDomain when a name
// matches domains on several hosts, or several domains of one project.
var ErrDomainAmbiguous = errors.New("several ukdev domains match")

// DomainRef is a ukdev domain and the host it is on.
type DomainRef struct {
	URI    string
	Domain libvirt.Domain
}

// FindDomain returns the domain of hosts that name names: a domain's
// name, else the project (its root directory's name) of exactly one
// domain. It fails wrapping ErrNotFound when none matches and
// ErrDomainAmbiguous when several do.
func FindDomain(hosts []HostDomains, name string) (DomainRef, error) {
	var byName, byProject []DomainRef
	for _, h := range hosts {
		for _, d := range h.Domains {
			switch {
			case d.Name == name:
				byName = append(byName, DomainRef{h.URI, d})
			case d.Owner.Project != "" && filepath.Base(d.Owner.Project) == name:
				byProject = append(byProject, DomainRef{h.URI, d})
			}
		}
	}
	found := byName
	if len(found) == 0 {
		found = byProject
	}
	switch len(found) {
	case 0:
		return DomainRef{}, fmt.Errorf("manager: %q: %w: no ukdev domain by that name on %s", name, ErrNotFound, uriList(hosts))
	case 1:
		return found[0], nil
	}
	where := make([]string, len(found))
	for i, f := range found {
		where[i] = f.Domain.Name + " on " + f.URI
	}
	return DomainRef{}, fmt.Errorf("manager: %q: %w: %s; give the domain's name and --on", name, ErrDomainAmbiguous, strings.Join(where, ", "))
}

// uriList names the hosts that answered, for an error message.
func uriList(hosts []HostDomains) string {
	var uris []string
	for _, h := range hosts {
		if h.Err == nil {
			uris = append(uris, h.URI)
		}
	}
	if len(uris) == 0 {
		return "no libvirt host"
	}
	return strings.Join(uris, ", ")
}
