package libvirt

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/ukdev/ukdev/vm"
)

// sshRuns returns the logged runs of ssh (loggedSSH): those that carry
// libvirt's protocol (dials) and those of tunnels (-W).
func sshRuns(t *testing.T, logFile string) (dials, tunnels []string) {
	t.Helper()
	b, err := os.ReadFile(logFile)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if strings.Contains(line, " -W ") {
			tunnels = append(tunnels, strings.TrimSpace(line))
		} else {
			dials = append(dials, strings.TrimSpace(line))
		}
	}
	return dials, tunnels
}

// Two machines in a row over ssh share the Backend's connection: one
// ssh; Close then stops the machine still running, which leaves no
// domain, and the Backend starts no more.
func TestBackendSharesConnection(t *testing.T) {
	l := reachable(t)
	uri, logFile := sshURI(t)
	b := testBackend(t, l)
	b.URI = uri
	if err := b.Installed(""); err != nil {
		t.Fatal(err)
	}
	if a := b.ProbeAccel(t.Context(), ""); a.Name == "" {
		t.Errorf("ProbeAccel = %+v", a)
	}
	var names []string
	var last vm.Machine
	for i := range 2 {
		con := newConsole()
		m, err := b.Start(t.Context(), helloSpec(t), vm.StartOptions{Console: con})
		if err != nil {
			t.Fatal(err)
		}
		con.wait(t, "hello from ukdev")
		names = append(names, m.(*Machine).Name())
		if i == 0 {
			if err := m.Stop(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		last = m
	}
	if dials, _ := sshRuns(t, logFile); len(dials) != 1 {
		t.Errorf("ssh ran %d times for the connection, want once:\n%s", len(dials), strings.Join(dials, "\n"))
	}
	if !contains(ukdevDomains(t), names[1]) {
		t.Fatalf("domain %s is not running", names[1])
	}
	if err := b.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("a second Close = %v", err)
	}
	select {
	case <-last.Exited():
	case <-time.After(waitLimit):
		t.Fatal("the machine still runs after Close")
	}
	if left := ukdevDomains(t); contains(left, names[1]) {
		t.Errorf("domain %s left after Close: %v", names[1], left)
	}
	if _, err := b.Start(t.Context(), helloSpec(t), vm.StartOptions{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close = %v, want ErrClosed", err)
	}
}

// A connection that dropped is dialled again by the next start.
func TestBackendRedials(t *testing.T) {
	l := reachable(t)
	b := testBackend(t, l)
	m, err := b.Start(t.Context(), helloSpec(t), vm.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	first, err := b.conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	_ = first.Disconnect()
	// The machine goes with its connection (auto-destroyed).
	select {
	case <-m.Exited():
	case <-time.After(waitLimit):
		t.Fatal("the machine outlived its connection")
	}
	ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	defer cancel()
	m2, err := b.Start(ctx, helloSpec(t), vm.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Stop(context.Background())
	if second, _ := b.conn(t.Context()); second == first {
		t.Error("the start after the drop used the dropped connection")
	}
}

// The hub hands each machine its domain's events, including those that
// came before it subscribed, and no other domain's.
func TestLifecycleHub(t *testing.T) {
	events := make(chan golibvirt.DomainEventLifecycleMsg)
	h := &lifecycleHub{subs: make(map[golibvirt.UUID]*lifecycleSub)}
	done := make(chan struct{})
	go func() { h.run(events); close(done) }()
	a, b := golibvirt.UUID{1}, golibvirt.UUID{2}
	ev := func(u golibvirt.UUID, e golibvirt.DomainEventType) golibvirt.DomainEventLifecycleMsg {
		return golibvirt.DomainEventLifecycleMsg{Dom: golibvirt.Domain{UUID: u}, Event: int32(e)}
	}
	events <- ev(a, golibvirt.DomainEventStarted)
	events <- ev(b, golibvirt.DomainEventStarted)
	got, cancel := h.subscribe(a)
	events <- ev(a, golibvirt.DomainEventStopped)
	for _, want := range []golibvirt.DomainEventType{golibvirt.DomainEventStarted, golibvirt.DomainEventStopped} {
		select {
		case e := <-got:
			if e.Dom.UUID != a || golibvirt.DomainEventType(e.Event) != want {
				t.Errorf("event %+v, want %v of domain a", e, want)
			}
		case <-time.After(waitLimit):
			t.Fatalf("no event %v", want)
		}
	}
	cancel()
	cancel()
	// An unsubscribed machine's events block nothing.
	for range earlyEvents + 1 {
		events <- ev(a, golibvirt.DomainEventResumed)
	}
	close(events)
	<-done
	if len(h.early) != earlyEvents {
		t.Errorf("%d early events kept, want %d", len(h.early), earlyEvents)
	}
}
