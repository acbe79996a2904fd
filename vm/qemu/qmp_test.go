package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/go-qemu/qmp"
)

// fakeQMP is the server end of a QMP connection, driven step by step by a
// test. Its methods report problems with t.Errorf, so they may run on any
// goroutine.
type fakeQMP struct {
	t    *testing.T
	conn net.Conn
	dec  *json.Decoder
	wmu  sync.Mutex
}

// serverCommand is a command as the fake server received it.
type serverCommand struct {
	Execute   string          `json:"execute"`
	Arguments json.RawMessage `json:"arguments"`
	ID        json.RawMessage `json:"id"`
}

const greeting = `{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian"}, "capabilities": ["oob"]}}`

// newUnixPair returns a connected client and fake server over a unix socket.
func newUnixPair(t *testing.T) (net.Conn, *fakeQMP) {
	t.Helper()
	path := filepath.Join(shortTempDir(t), "q.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			t.Errorf("accept: %v", err)
		}
		accepted <- c
	}()
	client, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	server := <-accepted
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, &fakeQMP{t: t, conn: server, dec: json.NewDecoder(server)}
}

func (f *fakeQMP) send(line string) {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	if _, err := f.conn.Write([]byte(line + "\r\n")); err != nil {
		f.t.Errorf("fake qmp: write: %v", err)
	}
}

// expect reads one command and checks its name; it returns the command.
func (f *fakeQMP) expect(name string) serverCommand {
	var c serverCommand
	if err := f.dec.Decode(&c); err != nil {
		f.t.Errorf("fake qmp: waiting for %s: %v", name, err)
		return c
	}
	if c.Execute != name {
		f.t.Errorf("fake qmp: got command %q, want %q", c.Execute, name)
	}
	return c
}

func (f *fakeQMP) reply(c serverCommand, ret string) {
	f.send(fmt.Sprintf(`{"return": %s, "id": %s}`, ret, c.ID))
}

func (f *fakeQMP) event(name, data string) {
	f.send(fmt.Sprintf(`{"timestamp": {"seconds": 1, "microseconds": 2}, "event": %q, "data": %s}`, name, data))
}

// handshake plays QEMU's side of Connect.
func (f *fakeQMP) handshake() {
	f.send(greeting)
	f.reply(f.expect("qmp_capabilities"), "{}")
}

// connected returns a Monitor that has completed the handshake.
func connected(t *testing.T, timeout time.Duration) (*Monitor, *fakeQMP) {
	t.Helper()
	client, server := newUnixPair(t)
	m := NewMonitor(client, timeout, nil)
	done := make(chan struct{})
	go func() { defer close(done); server.handshake() }()
	if err := m.Connect(); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	<-done
	t.Cleanup(func() { _ = m.Disconnect() })
	return m, server
}

func TestMonitorConnectAndRun(t *testing.T) {
	m, server := connected(t, 5*time.Second)
	if v := m.Version().String(); v != "7.2.22" {
		t.Errorf("Version = %s, want 7.2.22", v)
	}
	events, err := m.Events(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		c := server.expect("query-status")
		// Events may come before the reply they interleave with.
		server.event("STOP", "{}")
		server.event("SHUTDOWN", `{"guest": true, "reason": "guest-reset"}`)
		server.reply(c, `{"status": "paused", "running": false}`)
	}()
	out, err := m.Run([]byte(`{"execute":"query-status"}`))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	var r struct {
		Return struct{ Status string } `json:"return"`
	}
	if err := json.Unmarshal(out, &r); err != nil || r.Return.Status != "paused" {
		t.Fatalf("reply %s: status %q, err %v", out, r.Return.Status, err)
	}
	for _, want := range []string{"STOP", "SHUTDOWN"} {
		ev := nextEvent(t, events)
		if ev.Event != want {
			t.Fatalf("event %q, want %q", ev.Event, want)
		}
		if want == "SHUTDOWN" && ev.Data["reason"] != "guest-reset" {
			t.Errorf("SHUTDOWN data = %v", ev.Data)
		}
	}
}

func nextEvent(t *testing.T, events <-chan qmp.Event) qmp.Event {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok {
			t.Fatal("events channel closed")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
	}
	return qmp.Event{}
}

func TestMonitorLargeReply(t *testing.T) {
	m, server := connected(t, 5*time.Second)
	big := strings.Repeat("0123456789abcdef", 20<<10) // 320 KiB, far over 64 KiB
	go func() {
		server.reply(server.expect("human-monitor-command"), fmt.Sprintf("%q", big))
		server.reply(server.expect("query-status"), `{"status": "running"}`)
	}()
	out, err := m.Run([]byte(`{"execute":"human-monitor-command","arguments":{"command-line":"xp /40000x 0"}}`))
	if err != nil {
		t.Fatalf("large reply: %v", err)
	}
	var r struct{ Return string }
	if err := json.Unmarshal(out, &r); err != nil || r.Return != big {
		t.Fatalf("large reply mangled: %d bytes, err %v", len(r.Return), err)
	}
	if _, err := m.Run([]byte(`{"execute":"query-status"}`)); err != nil {
		t.Fatalf("command after a large reply: %v", err)
	}
}

func TestMonitorErrorReply(t *testing.T) {
	m, server := connected(t, 5*time.Second)
	go func() {
		c := server.expect("cont")
		server.send(fmt.Sprintf(`{"error": {"class": "GenericError", "desc": "Resetting the Virtual Machine is required"}, "id": %s}`, c.ID))
	}()
	_, err := m.Run([]byte(`{"execute":"cont"}`))
	var qe *QMPError
	if !errors.As(err, &qe) {
		t.Fatalf("err = %v, want *QMPError", err)
	}
	if qe.Command != "cont" || qe.Class != "GenericError" || qe.Desc != "Resetting the Virtual Machine is required" {
		t.Errorf("QMPError = %+v", qe)
	}
}

// TestMonitorTimeoutThenLateReply checks that a hung command times out and
// that its reply, arriving later, is not taken for the next command's.
func TestMonitorTimeoutThenLateReply(t *testing.T) {
	m, server := connected(t, 5*time.Second)
	slow := make(chan serverCommand, 1)
	go func() { slow <- server.expect("query-status") }()

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := m.RunContext(ctx, []byte(`{"execute":"query-status"}`))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hung command: err = %v, want DeadlineExceeded", err)
	}

	go func() {
		server.reply(<-slow, `{"status": "late"}`)
		server.reply(server.expect("query-name"), `{"name": "fresh"}`)
	}()
	out, err := m.Run([]byte(`{"execute":"query-name"}`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "fresh") {
		t.Fatalf("second command got %s, want its own reply", out)
	}
}

// TestMonitorTimeoutWhenServerDoesNotRead uses net.Pipe, where a write
// blocks until the other end reads: a server that stops reading must not
// hang the command.
func TestMonitorTimeoutWhenServerDoesNotRead(t *testing.T) {
	client, serverConn := net.Pipe()
	defer serverConn.Close()
	server := &fakeQMP{t: t, conn: serverConn, dec: json.NewDecoder(serverConn)}
	m := NewMonitor(client, 100*time.Millisecond, nil)
	defer m.Disconnect()
	go server.handshake()
	if err := m.Connect(); err != nil {
		t.Fatal(err)
	}
	// The server now reads nothing more.
	_, err := m.Run([]byte(`{"execute":"query-status"}`))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
}

func TestMonitorConnectWithoutGreetingTimesOut(t *testing.T) {
	client, _ := newUnixPair(t)
	m := NewMonitor(client, 50*time.Millisecond, nil)
	defer m.Disconnect()
	if err := m.Connect(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Connect = %v, want DeadlineExceeded", err)
	}
	if err := m.Connect(); !errors.Is(err, ErrAlreadyConnected) {
		t.Fatalf("second Connect = %v, want ErrAlreadyConnected", err)
	}
}

func TestMonitorServerCloses(t *testing.T) {
	m, server := connected(t, 5*time.Second)
	events, err := m.Events(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		server.expect("query-status")
		server.event("SHUTDOWN", `{"guest": false, "reason": "host-qmp-quit"}`)
		server.conn.Close()
	}()
	if _, err := m.Run([]byte(`{"execute":"query-status"}`)); !errors.Is(err, ErrMonitorClosed) {
		t.Fatalf("pending command: err = %v, want ErrMonitorClosed", err)
	}
	// An event sent before the close is still delivered, then the channel closes.
	if ev := nextEvent(t, events); ev.Event != "SHUTDOWN" {
		t.Fatalf("event %q, want SHUTDOWN", ev.Event)
	}
	select {
	case _, ok := <-events:
		if ok {
			t.Fatal("events channel delivered after close")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("events channel not closed")
	}
	select {
	case <-m.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed")
	}
	if _, err := m.Run([]byte(`{"execute":"query-status"}`)); !errors.Is(err, ErrMonitorClosed) {
		t.Fatalf("command after close: err = %v, want ErrMonitorClosed", err)
	}
	if err := m.Disconnect(); err != nil {
		t.Fatalf("Disconnect after server close: %v", err)
	}
}

// TestMonitorSlowSubscriber checks that a subscriber that never reads
// delays neither replies nor other subscribers.
func TestMonitorSlowSubscriber(t *testing.T) {
	m, server := connected(t, 5*time.Second)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if _, err := m.Events(ctx); err != nil { // never read
		t.Fatal(err)
	}
	reader, err := m.Events(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	go func() {
		c := server.expect("query-status")
		for i := range n {
			server.event("BALLOON_CHANGE", fmt.Sprintf(`{"actual": %d}`, i))
		}
		server.reply(c, `{"status": "running"}`)
	}()
	if _, err := m.Run([]byte(`{"execute":"query-status"}`)); err != nil {
		t.Fatalf("reply behind events for a stuck subscriber: %v", err)
	}
	for i := range n {
		ev := nextEvent(t, reader)
		if got, _ := ev.Data["actual"].(float64); int(got) != i {
			t.Fatalf("event %d has actual %v: out of order", i, ev.Data["actual"])
		}
	}
}

func TestMonitorConcurrentCommands(t *testing.T) {
	m, server := connected(t, 5*time.Second)
	const n = 20
	go func() {
		for range n {
			c := server.expect("query-name")
			server.reply(c, fmt.Sprintf(`{"name": %s}`, c.ID))
		}
	}()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			out, err := m.Run([]byte(`{"execute":"query-name","id":"caller-id"}`))
			if err != nil {
				t.Errorf("Run: %v", err)
				return
			}
			var r struct {
				ID     string `json:"id"`
				Return struct {
					Name string `json:"name"`
				} `json:"return"`
			}
			if err := json.Unmarshal(out, &r); err != nil || r.ID != r.Return.Name || !strings.HasPrefix(r.ID, "ukdev-") {
				t.Errorf("reply %s does not match its command (err %v)", out, err)
			}
		})
	}
	wg.Wait()
}

func TestMonitorRejectsBadCommands(t *testing.T) {
	m, _ := connected(t, 5*time.Second)
	for _, cmd := range []string{``, `[]`, `{"arguments":{}}`, `{"execute":""}`, `{"execute":3}`} {
		if _, err := m.Run([]byte(cmd)); err == nil {
			t.Errorf("Run(%q) succeeded", cmd)
		}
	}
}

func TestMonitorDisconnectBeforeConnect(t *testing.T) {
	client, _ := newUnixPair(t)
	m := NewMonitor(client, time.Second, nil)
	if err := m.Disconnect(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Run([]byte(`{"execute":"query-status"}`)); !errors.Is(err, ErrMonitorClosed) {
		t.Fatalf("Run after Disconnect = %v, want ErrMonitorClosed", err)
	}
	if _, err := m.Events(t.Context()); !errors.Is(err, ErrMonitorClosed) {
		t.Fatalf("Events after Disconnect = %v, want ErrMonitorClosed", err)
	}
}

// shortTempDir returns a temporary directory with a path short enough for
// unix sockets (t.TempDir can exceed 108 bytes with long test names).
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ukdev-vm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// TestMonitorConnectAndRunPipelined checks the pipelined handshake: the commands
// after qmp_capabilities are sent before its reply comes, and the
// negotiation's failures are told apart from the commands'.
func TestMonitorConnectAndRunPipelined(t *testing.T) {
	tests := []struct {
		name string
		// serve plays QEMU once the greeting is sent.
		serve func(f *fakeQMP)
		// wantConnected is whether the negotiation succeeded.
		wantConnected bool
		// wantCommand is the command a *QMPError must name ("" for none).
		wantCommand string
		wantIs      error
	}{
		{
			name: "both succeed",
			serve: func(f *fakeQMP) {
				caps := f.expect("qmp_capabilities")
				cont := f.expect("cont") // read before caps is answered
				f.reply(caps, "{}")
				f.event("RESUME", "{}")
				f.reply(cont, "{}")
			},
			wantConnected: true,
		},
		{
			name: "cont refused",
			serve: func(f *fakeQMP) {
				caps := f.expect("qmp_capabilities")
				cont := f.expect("cont")
				f.reply(caps, "{}")
				f.send(fmt.Sprintf(`{"error": {"class": "GenericError", "desc": "Resetting the Virtual Machine is required"}, "id": %s}`, cont.ID))
			},
			wantConnected: true,
			wantCommand:   "cont",
		},
		{
			name: "capabilities refused",
			serve: func(f *fakeQMP) {
				caps := f.expect("qmp_capabilities")
				cont := f.expect("cont")
				f.send(fmt.Sprintf(`{"error": {"class": "CommandNotFound", "desc": "nope"}, "id": %s}`, caps.ID))
				f.send(fmt.Sprintf(`{"error": {"class": "CommandNotFound", "desc": "Expecting capabilities negotiation"}, "id": %s}`, cont.ID))
			},
			wantCommand: "qmp_capabilities",
		},
		{
			name: "QEMU dies after the greeting",
			serve: func(f *fakeQMP) {
				f.expect("qmp_capabilities")
				f.expect("cont")
				f.conn.Close()
			},
			wantIs: ErrMonitorClosed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, server := newUnixPair(t)
			m := NewMonitor(client, 5*time.Second, nil)
			defer m.Disconnect()
			events, err := m.Events(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			served := make(chan struct{})
			go func() {
				defer close(served)
				server.send(greeting)
				tt.serve(server)
			}()
			replies, err := m.ConnectAndRun(t.Context(), []byte(`{"execute":"cont"}`))
			<-served
			var qe *QMPError
			switch {
			case tt.wantCommand == "" && tt.wantIs == nil:
				if err != nil || len(replies) != 1 || !strings.Contains(string(replies[0]), `"return"`) {
					t.Fatalf("ConnectAndRun = %q, %v; want cont's reply", replies, err)
				}
				if ev := nextEvent(t, events); ev.Event != "RESUME" {
					t.Errorf("event %q, want the RESUME sent before cont's reply", ev.Event)
				}
			case tt.wantCommand != "":
				if !errors.As(err, &qe) || qe.Command != tt.wantCommand {
					t.Fatalf("err = %v, want a *QMPError of %s", err, tt.wantCommand)
				}
			default:
				if !errors.Is(err, tt.wantIs) {
					t.Fatalf("err = %v, want %v", err, tt.wantIs)
				}
			}
			m.mu.Lock()
			got := m.connected
			m.mu.Unlock()
			if got != tt.wantConnected {
				t.Errorf("connected = %v, want %v", got, tt.wantConnected)
			}
		})
	}
}

// TestMonitorConnectAndRunNoGreeting: QEMU closing the socket before its
// greeting fails the connect, and a second connect is refused.
func TestMonitorConnectAndRunNoGreeting(t *testing.T) {
	client, server := newUnixPair(t)
	m := NewMonitor(client, 5*time.Second, nil)
	defer m.Disconnect()
	server.conn.Close()
	if _, err := m.ConnectAndRun(t.Context(), []byte(`{"execute":"cont"}`)); !errors.Is(err, ErrMonitorClosed) {
		t.Fatalf("ConnectAndRun = %v, want ErrMonitorClosed", err)
	}
	if _, err := m.ConnectAndRun(t.Context()); !errors.Is(err, ErrAlreadyConnected) {
		t.Fatalf("second ConnectAndRun = %v, want ErrAlreadyConnected", err)
	}
}

// TestMonitorRunBatch: commands of a batch go out in one write, their
// replies come back in order, and one failing command fails the batch
// with its own error while the others' replies are kept.
func TestMonitorRunBatch(t *testing.T) {
	m, server := connected(t, 5*time.Second)
	go func() {
		a := server.expect("query-status")
		b := server.expect("stop")
		c := server.expect("query-name")
		server.reply(a, `{"status": "running"}`)
		server.send(fmt.Sprintf(`{"error": {"class": "GenericError", "desc": "no"}, "id": %s}`, b.ID))
		server.reply(c, `{"name": "vm"}`)
	}()
	replies, err := m.RunBatch(t.Context(),
		[]byte(`{"execute":"query-status"}`), []byte(`{"execute":"stop"}`), []byte(`{"execute":"query-name"}`))
	var qe *QMPError
	if !errors.As(err, &qe) || qe.Command != "stop" {
		t.Fatalf("err = %v, want stop's *QMPError", err)
	}
	if len(replies) != 3 || !strings.Contains(string(replies[0]), "running") || replies[1] != nil || !strings.Contains(string(replies[2]), `"vm"`) {
		t.Fatalf("replies = %q", replies)
	}
	// A malformed command fails the batch before anything is sent: the
	// next command the server reads is the one after the batch.
	if _, err := m.RunBatch(t.Context(), []byte(`{"execute":"cont"}`), []byte(`not json`)); err == nil {
		t.Fatal("a batch with a malformed command succeeded")
	}
	go func() { server.reply(server.expect("query-status"), `{"status": "running"}`) }()
	if _, err := m.Run([]byte(`{"execute":"query-status"}`)); err != nil {
		t.Fatalf("the command after the refused batch: %v", err)
	}
}
