package libvirt

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"

	golibvirt "github.com/digitalocean/go-libvirt"
)

// The actions Act takes on a domain.
const (
	// ActionStop destroys the domain (a transient domain is then gone).
	ActionStop = "stop"
	// ActionPause suspends the domain's vCPUs.
	ActionPause = "pause"
	// ActionResume resumes a suspended domain.
	ActionResume = "resume"
)

// StateDestroyed is the State Act reports for a domain it destroyed and
// that libvirt no longer knows (a transient domain).
const StateDestroyed = "destroyed"

// ErrNotUkdev is returned (wrapped) by Act for a domain that does not
// carry ukdev's metadata tag: ukdev never acts on domains it did not
// create.
var ErrNotUkdev = errors.New("not a domain ukdev created")

// ErrUnknownAction is returned (wrapped) by Act for an action other than
// ActionStop, ActionPause and ActionResume.
var ErrUnknownAction = errors.New("unknown action")

// Act stops (destroys), pauses (suspends) or resumes the domain called
// name on the daemon at uri, and returns the domain as it is afterwards.
// A domain without ukdev's metadata tag is refused (ErrNotUkdev); a name
// the daemon does not know fails with libvirt's not-found error
// (golibvirt.IsNotFound).
func Act(ctx context.Context, uri, name, action string) (Domain, error) {
	switch action {
	case ActionStop, ActionPause, ActionResume:
	default:
		return Domain{}, fmt.Errorf("libvirt: %s %s: %w %q", action, name, ErrUnknownAction, action)
	}
	l, err := Dial(ctx, uri)
	if err != nil {
		return Domain{}, err
	}
	defer l.Disconnect()
	dom, d, err := lookupOurs(l, name)
	if err != nil {
		return Domain{}, fmt.Errorf("libvirt: %s %s: %w", action, name, err)
	}
	switch action {
	case ActionStop:
		err = l.DomainDestroy(dom)
	case ActionPause:
		err = l.DomainSuspend(dom)
	case ActionResume:
		err = l.DomainResume(dom)
	}
	if err != nil {
		return Domain{}, fmt.Errorf("libvirt: %s %s: %w", action, name, err)
	}
	state, _, err := l.DomainGetState(dom, 0)
	switch {
	case isError(err, golibvirt.ErrNoDomain):
		d.State = StateDestroyed
	case err != nil:
		return Domain{}, fmt.Errorf("libvirt: %s %s: state: %w", action, name, err)
	default:
		d.State = stateName(state)
	}
	return d, nil
}

// lookupOurs returns the domain called name with its owner and state,
// and its handle, provided it carries ukdev's metadata tag.
func lookupOurs(l *golibvirt.Libvirt, name string) (golibvirt.Domain, Domain, error) {
	dom, err := l.DomainLookupByName(name)
	if err != nil {
		return dom, Domain{}, err
	}
	meta, err := l.DomainGetMetadata(dom, int32(golibvirt.DomainMetadataElement), golibvirt.OptString{Namespace}, 0)
	if isError(err, golibvirt.ErrNoDomainMetadata) {
		return dom, Domain{}, ErrNotUkdev
	}
	if err != nil {
		return dom, Domain{}, fmt.Errorf("metadata: %w", err)
	}
	owner, err := parseOwner(meta)
	if err != nil {
		return dom, Domain{}, err
	}
	state, _, err := l.DomainGetState(dom, 0)
	if err != nil {
		return dom, Domain{}, fmt.Errorf("state: %w", err)
	}
	return dom, Domain{Name: dom.Name, Owner: owner, State: stateName(state)}, nil
}

// parseOwner decodes ukdev's metadata element.
func parseOwner(meta string) (Owner, error) {
	var o struct {
		Owner
	}
	if err := xml.Unmarshal([]byte(meta), &o); err != nil {
		return Owner{}, fmt.Errorf("metadata: %w", err)
	}
	return o.Owner, nil
}
