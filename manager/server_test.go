package manager

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/project"
)

// fakeTarget is a loop for the server: a status, and the actions done.
type fakeTarget struct {
	mu     sync.Mutex
	status devloop.Status
	info   *devloop.VMInfo
	acts   []devloop.Action
	err    error
}

func (f *fakeTarget) Status() devloop.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status
}

func (f *fakeTarget) Current() (devloop.VMInfo, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.info == nil {
		return devloop.VMInfo{}, false
	}
	return *f.info, true
}

func (f *fakeTarget) HostStats() (devloop.HostStats, error) {
	return devloop.HostStats{PID: 42, UserTicks: 150, SystemTicks: 50, RSSBytes: 64 << 20}, nil
}

func (f *fakeTarget) Do(_ context.Context, a devloop.Action) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.acts = append(f.acts, a)
	switch a {
	case devloop.ActionPause:
		f.status.State = devloop.StatePaused
	case devloop.ActionResume:
		f.status.State = devloop.StateRunning
	case devloop.ActionStop:
		f.status.State = devloop.StateStopped
	}
	return nil
}

func (f *fakeTarget) Config() *project.Config {
	return &project.Config{VM: project.VM{Ports: []project.Port{{Proto: "tcp", HostPort: 8080, GuestPort: 80}}}}
}

func (f *fakeTarget) actions() []devloop.Action {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.acts)
}

// serveFake serves a fake loop named name in a private registry.
func serveFake(t *testing.T, name string) (*Server, *fakeTarget, Entry) {
	t.Helper()
	run := os.Getenv("XDG_RUNTIME_DIR")
	if !strings.HasPrefix(run, os.TempDir()) || run == "" {
		run = shortTemp(t)
		t.Setenv("XDG_RUNTIME_DIR", run)
	}
	e := testEntry(run, name)
	ft := &fakeTarget{status: devloop.Status{State: devloop.StateRunning, Boot: 2, Build: 3, Uptime: time.Minute},
		info: &devloop.VMInfo{Boot: 2, Build: 3, PID: 42, Accel: "tcg"}}
	s, err := Serve(context.Background(), e, ft)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, ft, e
}

func dial(t *testing.T, e Entry) *Client {
	t.Helper()
	c, err := Dial(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestServerOps(t *testing.T) {
	s, ft, e := serveFake(t, "web")
	fi, err := os.Lstat(e.Socket)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %04o, want 0600", fi.Mode().Perm())
	}
	c := dial(t, e)
	ctx := context.Background()

	v, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := VM{Entry: e, State: "running", Boot: 2, Build: 3, QEMUPID: 42, Accel: "tcg", Uptime: time.Minute,
		CPUTime: 2 * time.Second, RSS: 64 << 20, Ports: []string{"tcp 8080→80"}}
	if v.Started.Equal(want.Started) {
		v.Started = want.Started
	}
	if !equalVM(v, want) {
		t.Errorf("status = %+v\nwant %+v", v, want)
	}

	steps := []struct {
		call  func(context.Context) error
		act   devloop.Action
		state string
	}{
		{c.Pause, devloop.ActionPause, "paused"},
		{c.Resume, devloop.ActionResume, "running"},
		{c.Reboot, devloop.ActionReboot, "running"},
		{c.Stop, devloop.ActionStop, "stopped"},
	}
	for i, st := range steps {
		if err := st.call(ctx); err != nil {
			t.Fatalf("%s: %v", st.act, err)
		}
		if acts := ft.actions(); len(acts) != i+1 || acts[i] != st.act {
			t.Fatalf("after %s the loop did %v", st.act, acts)
		}
		if v, _ := c.Status(ctx); v.State != st.state {
			t.Errorf("after %s: state %q, want %q", st.act, v.State, st.state)
		}
	}

	// Errors keep their kind across the socket.
	ft.mu.Lock()
	ft.err = devloop.ErrNoVM
	ft.mu.Unlock()
	if err := c.Pause(ctx); !errors.Is(err, devloop.ErrNoVM) {
		t.Errorf("pause without a VM: %v, want devloop.ErrNoVM", err)
	}
	if err := c.Call(ctx, "nope", nil, nil); !errors.Is(err, ErrUnknownOp) {
		t.Errorf("unknown op: %v, want ErrUnknownOp", err)
	}
	if err := c.Quit(ctx); !errors.Is(err, ErrRefused) {
		t.Errorf("quit without SetQuit: %v, want ErrRefused", err)
	}

	// Ops registered by the wiring, with arguments.
	s.Handle("echo", func(_ context.Context, args json.RawMessage) (any, error) {
		var in struct{ Text string }
		if err := json.Unmarshal(args, &in); err != nil {
			return nil, err
		}
		return map[string]string{"text": strings.ToUpper(in.Text)}, nil
	})
	var out struct{ Text string }
	if err := c.Call(ctx, "echo", map[string]string{"text": "hi"}, &out); err != nil || out.Text != "HI" {
		t.Errorf("echo = %q, %v; want HI", out.Text, err)
	}

	quit := make(chan struct{})
	s.SetQuit(func() { close(quit) })
	if err := c.Quit(ctx); err != nil {
		t.Fatalf("quit: %v", err)
	}
	select {
	case <-quit:
	case <-time.After(10 * time.Second):
		t.Fatal("quit was not called")
	}
}

func equalVM(a, b VM) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// List and Find go through the registry and the sockets; Close removes
// the socket and the entry.
func TestListAndClose(t *testing.T) {
	s1, _, e1 := serveFake(t, "one")
	_, _, e2 := serveFake(t, "two")
	ctx := context.Background()
	vms, err := List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(vms) != 2 || vms[0].Project != "one" || vms[1].Project != "two" || vms[0].State != "running" || vms[0].Error != "" {
		t.Fatalf("List = %+v", vms)
	}
	sub := filepath.Join(e2.Root, "sub")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	v, err := Find(ctx, sub)
	if err != nil || v.Project != "two" {
		t.Fatalf("Find in two's root = %+v, %v", v, err)
	}
	s1.Close()
	if _, err := os.Lstat(e1.Socket); !os.IsNotExist(err) {
		t.Errorf("socket left after Close: %v", err)
	}
	vms, _ = List(ctx)
	if len(vms) != 1 || vms[0].Project != "two" {
		t.Fatalf("List after one's Close = %+v", vms)
	}
	if _, err := Find(ctx, "one"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Find(one) after Close: %v, want ErrNotFound", err)
	}
}

// Attach passes the client's descriptors to the server's attach function,
// with the environment it needs; a second attach is refused while one is
// on, and the client going away detaches.
func TestAttachPassesDescriptors(t *testing.T) {
	s, _, e := serveFake(t, "tty")
	ctx := context.Background()

	if err := dial(t, e).Attach(ctx, os.Stdin, os.Stdout, nil); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "terminal of its own") {
		t.Fatalf("attach before SetAttach: %v, want ErrRefused saying why", err)
	}
	s.SetDashboard(true)
	if err := dial(t, e).Attach(ctx, os.Stdin, os.Stdout, nil); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "own dashboard") {
		t.Fatalf("attach to a ukdev showing its dashboard: %v, want ErrRefused saying why", err)
	}
	if v, _ := dial(t, e).Status(ctx); !v.Attached {
		t.Errorf("a ukdev showing its own dashboard is not reported as attached")
	}
	s.SetDashboard(false)

	started := make(chan Terminal, 1)
	ended := make(chan error, 1)
	s.SetAttach(func(ctx context.Context, term Terminal) error {
		started <- term
		// The dashboard: echo one line of input, upper-cased, then run
		// until detached.
		line, err := bufio.NewReader(term.In).ReadString('\n')
		if err != nil {
			return err
		}
		if _, err := io.WriteString(term.Out, strings.ToUpper(line)); err != nil {
			return err
		}
		<-ctx.Done()
		ended <- ctx.Err()
		return nil
	})
	inR, inW, _ := os.Pipe()
	outR, outW, _ := os.Pipe()
	defer inW.Close()
	defer outR.Close()
	actx, detach := context.WithCancel(ctx)
	done := make(chan error, 1)
	client := dial(t, e)
	go func() {
		done <- client.Attach(actx, inR, outW, []string{"TERM=xterm-256color", "HOME=/root", "NO_COLOR=1"})
	}()
	var term Terminal
	select {
	case term = <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the attach function did not start")
	}
	if want := []string{"TERM=xterm-256color", "NO_COLOR=1"}; !slices.Equal(term.Env, want) {
		t.Errorf("env = %q, want %q", term.Env, want)
	}
	if _, err := io.WriteString(inW, "typed\n"); err != nil {
		t.Fatal(err)
	}
	got, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil || got != "TYPED\n" {
		t.Fatalf("through the passed descriptors: %q, %v", got, err)
	}
	if v, _ := dial(t, e).Status(ctx); !v.Attached {
		t.Errorf("status while attached: Attached false")
	}
	if err := dial(t, e).Attach(ctx, os.Stdin, os.Stdout, nil); !errors.Is(err, ErrRefused) {
		t.Errorf("second attach: %v, want ErrRefused", err)
	}

	detach() // the client goes away
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the dashboard did not end when the client went away")
	}
	<-done
	inR.Close()
	outW.Close()
	waitFor(t, "attached cleared", func() bool {
		v, _ := dial(t, e).Status(ctx)
		return !v.Attached
	})
}

// waitFor polls cond (the server clears its state after the client sees
// the connection close) for a bounded time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 10s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
