package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/manager"
)

func TestWritePs(t *testing.T) {
	vms := []manager.VM{
		{Entry: manager.Entry{Project: "api", Flavor: "nanos", PID: 41230, Detached: true}, State: "running", Boot: 3,
			Uptime: 12*time.Minute + 4*time.Second, Accel: "kvm", QEMUPID: 7, CPUPercent: 1.25, RSS: 88 << 20, Ports: []string{"tcp 8080→8080"}},
		{Entry: manager.Entry{Project: "hello", Flavor: "elf", PID: 40977}, State: "building", Attached: true},
		{Entry: manager.Entry{Project: "lost", Flavor: "elf", PID: 5}, State: "none", Error: "control socket: connection refused"},
	}
	var b bytes.Buffer
	if err := writePs(&b, vms, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	want := `PROJECT  FLAVOR  STATE        BOOT  UPTIME  ACCEL  CPU%  RSS    PORTS          PID    MODE
api      nanos   running      #3    12m04s  KVM    1.2   88.0M  tcp 8080→8080  41230  detached
hello    elf     building     -     -       -      -     -      -              40977  terminal, dashboard
lost     elf     unreachable  -     -       -      -     -      -              5      terminal
lost: control socket: connection refused
`
	if b.String() != want {
		t.Errorf("ukdev ps table:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	if err := writePs(&b, nil, nil, time.Now()); err != nil || !strings.Contains(b.String(), "no ukdev is running") {
		t.Errorf("empty list: %q, %v", b.String(), err)
	}
}

// With a VM on a libvirt host, ukdev ps shows a HOST column, the rows of
// domains no running loop owns, and the hosts that did not answer.
func TestWritePsHosts(t *testing.T) {
	vms := []manager.VM{
		{Entry: manager.Entry{Project: "api", Flavor: "nanos", PID: 41230, Host: "qemu+ssh://dev@kvm1:2222/system"}, State: "running", Boot: 1,
			Uptime: 4 * time.Second, Accel: "kvm", Domain: "ukdev-api-1a2b"},
		{Entry: manager.Entry{Project: "hello", Flavor: "elf", PID: 40977}, State: "running", Boot: 2, Accel: "tcg", QEMUPID: 9, RSS: 20 << 20},
		{Entry: manager.Entry{Project: "old", Root: "/p/old", Host: "qemu:///system"}, State: "paused", Domain: "ukdev-old-3c4d", OwnerHost: "dev1", OwnerPID: 9999, Orphan: true},
		{Entry: manager.Entry{Project: "web", Root: "/p/web", Host: "qemu:///system"}, State: "running", Domain: "ukdev-web-5e6f", OwnerHost: "laptop", OwnerPID: 812},
	}
	hosts := []manager.HostDomains{
		{URI: "qemu:///system"},
		{URI: "qemu+ssh://down/system", Err: errors.New("ssh: connect to host down port 22: Connection refused")},
	}
	var b bytes.Buffer
	if err := writePs(&b, vms, hosts, time.Now()); err != nil {
		t.Fatal(err)
	}
	want := `PROJECT  FLAVOR  HOST       STATE    BOOT  UPTIME  ACCEL  CPU%  RSS    PORTS  PID    MODE
api      nanos   kvm1:2222  running  #1    4s      KVM    -     -      -      41230  terminal
hello    elf     -          running  #2    -       TCG    0.0   20.0M  -      40977  terminal
old      -       local      paused   -     -       -      -     -      -      -      orphan
web      -       local      running  -     -       -      -     -      -      -      ukdev on laptop pid 812
qemu+ssh://down/system: unreachable: ssh: connect to host down port 22: Connection refused
`
	if b.String() != want {
		t.Errorf("ukdev ps table:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	if err := writePs(&b, nil, hosts[1:], time.Now()); err != nil || !strings.Contains(b.String(), "no ukdev is running") || !strings.Contains(b.String(), "down/system: unreachable") {
		t.Errorf("empty list, a host down: %q, %v", b.String(), err)
	}
}

func TestPsHost(t *testing.T) {
	for uri, want := range map[string]string{
		"":                       "-",
		"qemu:///system":         "local",
		"qemu:///session":        "local",
		"qemu+ssh://kvm1/system": "kvm1",
		"qemu+ssh://dev@127.0.0.1:2222/system?command=/x/ssh": "127.0.0.1:2222",
	} {
		if got := psHost(uri); got != want {
			t.Errorf("psHost(%q) = %q, want %q", uri, got, want)
		}
	}
}

// upMessages runs events through a startReporter and returns what ukdev
// up reads, and whether the detached ukdev was told to quit.
func upMessages(t *testing.T, events []devloop.Event) ([]upMsg, bool) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	quit := false
	rep := &startReporter{w: w, quit: func() { quit = true }}
	for _, e := range events {
		rep.observe(e)
	}
	rep.fail(125, "the detached ukdev ended") // as detached's defer
	var msgs []upMsg
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var m upMsg
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		if m.Line != "" {
			m.Line = "line"
		}
		msgs = append(msgs, m)
	}
	return msgs, quit
}

func TestStartReporter(t *testing.T) {
	ok, failed, two := true, false, 2
	line := upMsg{Line: "line"}
	tests := []struct {
		name   string
		events []devloop.Event
		want   []upMsg
		quit   bool
	}{
		{"ready at the first console line",
			[]devloop.Event{{Type: devloop.TypeBuildDone, Build: 1, OK: &ok}, {Type: devloop.TypeVMStart, Boot: 1}, {Type: devloop.TypeVMConsole, Boot: 1, Line: "hi"}, {Type: devloop.TypeVMConsole, Boot: 1, Line: "later"}},
			[]upMsg{line, line, line, {Ready: true}}, false},
		{"failed build: its status",
			[]devloop.Event{{Type: devloop.TypeBuildStart, Build: 1}, {Type: devloop.TypeBuildDone, Build: 1, OK: &failed, ExitCode: &two}},
			[]upMsg{line, line, {Failed: true, Code: 2, Error: "build #1 failed"}}, true},
		{"guest ended at once: its status",
			[]devloop.Event{{Type: devloop.TypeVMStart, Boot: 1}, {Type: devloop.TypeVMExit, Boot: 1, Reason: "exit", ExitCode: &two}},
			[]upMsg{line, line, {Failed: true, Code: 2, Error: "boot #1 ended: exit 2"}}, true},
		{"error before the boot",
			[]devloop.Event{{Type: devloop.TypeError, Message: "cannot start QEMU"}},
			[]upMsg{line, {Failed: true, Code: 125, Error: "cannot start QEMU"}}, true},
		{"ended without a boot",
			[]devloop.Event{{Type: devloop.TypeStart}},
			[]upMsg{line, {Failed: true, Code: 125, Error: "the detached ukdev ended"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, quit := upMessages(t, tt.events)
			if !slices.Equal(got, tt.want) || quit != tt.quit {
				t.Errorf("messages %+v, quit %v; want %+v, quit %v", got, quit, tt.want, tt.quit)
			}
		})
	}
}

// A dashboard attaching to a detached loop first gets the events that set
// its status bar, then the live ones; one that leaves never blocks the
// loop's events; the end of the loop ends the dashboard's stream.
func TestEventHub(t *testing.T) {
	h := newEventHub()
	in := make(chan devloop.Event)
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.run(in, func(devloop.Event) {})
	}()
	t0 := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	for i, e := range []devloop.Event{
		{Type: devloop.TypeAccel, Accel: "tcg"},
		{Type: devloop.TypeWatchPaused},
		{Type: devloop.TypeBuildStart, Build: 1},
		{Type: devloop.TypeBuildDone, Build: 1},
		{Type: devloop.TypeVMStart, Boot: 1},
		{Type: devloop.TypeVMConsole, Boot: 1, Line: "an earlier boot's"},
		{Type: devloop.TypeBuildStart, Build: 2},
		{Type: devloop.TypeBuildDone, Build: 2},
		{Type: devloop.TypeVMStart, Boot: 2},
		{Type: devloop.TypeVMConsole, Boot: 2, Line: "banner"},
		{Type: devloop.TypeBuildStart, Build: 3}, // a build in progress
		{Type: devloop.TypeVMPaused, Boot: 2},
	} {
		e.Time = t0.Add(time.Duration(i) * time.Millisecond)
		in <- e
	}
	events, leave := h.subscribe()
	in <- devloop.Event{Type: devloop.TypeVMConsole, Boot: 2, Line: "live", Time: t0.Add(time.Second)}
	var got []string
	for range 7 {
		e := <-events
		got = append(got, fmt.Sprintf("%s%d%s", e.Type, e.Boot+e.Build, e.Line))
	}
	want := []string{"vm.accel0", "watch.paused0", "vm.start2", "vm.console2banner", "build.start3", "vm.paused2", "vm.console2live"}
	if !slices.Equal(got, want) {
		t.Errorf("the attached dashboard got %q, want %q", got, want)
	}
	leave()
	const flood = 10000 // more than the subscriber's buffer: nobody reads it
	for i := range flood {
		in <- devloop.Event{Type: devloop.TypeVMConsole, Boot: 2, Line: strconv.Itoa(i), Time: t0.Add(time.Second + time.Duration(i)*time.Microsecond)}
	}
	events, _ = h.subscribe()
	close(in)
	<-done
	// accel, watch, boot 2's start, build 3's start, boot 2's pause, then the
	// last console lines up to the bound, in order, none twice: the last
	// one may come live rather than replayed when the hub had not kept
	// it yet at the subscribe.
	var others, lines []string
	for e := range events {
		if e.Type == devloop.TypeVMConsole {
			lines = append(lines, e.Line)
		} else {
			others = append(others, string(e.Type))
		}
	}
	if want := []string{"vm.accel", "watch.paused", "vm.start", "build.start", "vm.paused"}; !slices.Equal(others, want) {
		t.Errorf("a dashboard attached just before the end got %q, want %q", others, want)
	}
	if n := len(lines); n < maxReplayLines || n > maxReplayLines+1 {
		t.Fatalf("it got %d console lines, want the last %d (or one more, live)", n, maxReplayLines)
	}
	for i, l := range lines {
		if want := strconv.Itoa(flood - len(lines) + i); l != want {
			t.Fatalf("console line %d is %q, want %q: the last lines in order", i, l, want)
		}
	}
}
