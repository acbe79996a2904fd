package libvirt

import (
	"errors"
	"os"
	"regexp"
	"testing"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/ukdev/ukdev/vm"
)

// TestAct pauses, resumes and stops a ukdev domain through libvirt, and
// refuses a domain without ukdev's tag, an unknown name and an unknown
// action.
func TestAct(t *testing.T) {
	l := reachable(t)
	host, _ := os.Hostname()
	owner := Owner{Host: host, PID: os.Getpid(), Project: "/work/act"}
	spec := vm.Spec{Machine: "pc", MemoryMiB: 16, StartPaused: true}
	create := func(name string, tagged bool) string {
		x, err := domainXML(domainParams{Name: name, Spec: spec, Owner: owner})
		if err != nil {
			t.Fatal(err)
		}
		if !tagged {
			x = regexp.MustCompile(`(?s)<metadata>.*</metadata>`).ReplaceAllString(x, "")
		}
		dom, err := l.DomainCreateXML(x, golibvirt.DomainStartPaused)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = l.DomainDestroy(dom) })
		return dom.Name
	}
	ours := create(newDomainName(owner), true)
	plain := create("ukdevtest-plain-"+newDomainName(Owner{})[len(NamePrefix):], false)

	steps := []struct {
		action, want string
	}{
		{ActionResume, "running"},
		{ActionPause, "paused"},
		{ActionResume, "running"},
		{ActionStop, StateDestroyed},
	}
	for _, s := range steps {
		d, err := Act(t.Context(), "", ours, s.action)
		if err != nil {
			t.Fatalf("%s: %v", s.action, err)
		}
		if d.Name != ours || d.State != s.want || d.Owner != owner {
			t.Errorf("%s = %+v, want %s %s owned by %+v", s.action, d, ours, s.want, owner)
		}
	}
	if _, err := l.DomainLookupByName(ours); !golibvirt.IsNotFound(err) {
		t.Errorf("after stop, lookup of %s: %v, want not found", ours, err)
	}

	refused := []struct {
		name, domain, action string
		is                   func(error) bool
	}{
		{"not ukdev's", plain, ActionStop, func(err error) bool { return errors.Is(err, ErrNotUkdev) }},
		{"unknown name", ours, ActionPause, golibvirt.IsNotFound},
		{"unknown action", plain, "reboot", func(err error) bool { return errors.Is(err, ErrUnknownAction) }},
	}
	for _, r := range refused {
		t.Run(r.name, func(t *testing.T) {
			_, err := Act(t.Context(), "", r.domain, r.action)
			if err == nil || !r.is(err) {
				t.Errorf("Act(%s, %s) = %v, want it refused", r.domain, r.action, err)
			}
		})
	}
	dom, err := l.DomainLookupByName(plain)
	if err != nil {
		t.Fatalf("the domain that is not ukdev's: %v", err)
	}
	state, _, err := l.DomainGetState(dom, 0)
	if err != nil || golibvirt.DomainState(state) != golibvirt.DomainPaused {
		t.Errorf("the domain that is not ukdev's is in state %d (%v), want left paused", state, err)
	}
}
