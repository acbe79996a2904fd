package libvirt

import (
	"context"
	"sync"

	golibvirt "github.com/digitalocean/go-libvirt"
)

// lifecycleHub shares one subscription to a connection's lifecycle
// events among the machines on it: libvirtd refuses a second
// registration of the same event for all domains on one connection
// ("event callback already tracked"), so each machine subscribes to the
// hub for its domain's UUID instead.
type lifecycleHub struct {
	mu   sync.Mutex
	subs map[golibvirt.UUID]*lifecycleSub
	// early keeps the last events of domains nobody subscribed to yet: a
	// domain's events can come before DomainCreateXML returns its UUID.
	early []golibvirt.DomainEventLifecycleMsg
}

// earlyEvents bounds lifecycleHub.early.
const earlyEvents = 64

// lifecycleSub is one machine's share of the events.
type lifecycleSub struct {
	ch   chan golibvirt.DomainEventLifecycleMsg
	done chan struct{}
	once sync.Once
}

// startLifecycleHub subscribes to l's lifecycle events until ctx ends.
func startLifecycleHub(ctx context.Context, l *golibvirt.Libvirt) (*lifecycleHub, error) {
	events, err := l.LifecycleEvents(ctx)
	if err != nil {
		return nil, err
	}
	h := &lifecycleHub{subs: make(map[golibvirt.UUID]*lifecycleSub)}
	go h.run(events)
	return h, nil
}

func (h *lifecycleHub) run(events <-chan golibvirt.DomainEventLifecycleMsg) {
	for ev := range events {
		h.mu.Lock()
		s := h.subs[ev.Dom.UUID]
		if s == nil {
			h.early = append(h.early, ev)
			if len(h.early) > earlyEvents {
				h.early = h.early[len(h.early)-earlyEvents:]
			}
		}
		h.mu.Unlock()
		if s != nil {
			select {
			case s.ch <- ev:
			case <-s.done:
			}
		}
	}
}

// subscribe returns the events of the domain with uuid, those that came
// before first; cancel ends the subscription.
func (h *lifecycleHub) subscribe(uuid golibvirt.UUID) (events <-chan golibvirt.DomainEventLifecycleMsg, cancel func()) {
	s := &lifecycleSub{ch: make(chan golibvirt.DomainEventLifecycleMsg, earlyEvents), done: make(chan struct{})}
	h.mu.Lock()
	kept := h.early[:0]
	for _, ev := range h.early {
		if ev.Dom.UUID == uuid {
			s.ch <- ev // fits: at most earlyEvents
		} else {
			kept = append(kept, ev)
		}
	}
	h.early = kept
	h.subs[uuid] = s
	h.mu.Unlock()
	return s.ch, func() {
		s.once.Do(func() {
			h.mu.Lock()
			if h.subs[uuid] == s {
				delete(h.subs, uuid)
			}
			h.mu.Unlock()
			close(s.done)
		})
	}
}
