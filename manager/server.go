package manager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/project"
)

// Target is what the server asks of the loop it serves; *devloop.Loop
// implements it.
type Target interface {
	// Status says what the VM does.
	Status() devloop.Status
	// Current describes the live VM, if any.
	Current() (devloop.VMInfo, bool)
	// HostStats is a snapshot of the live VM's QEMU process.
	HostStats() (devloop.HostStats, error)
	// Do pauses, resumes, reboots or stops the VM, returning when done.
	Do(ctx context.Context, a devloop.Action) error
	// Config is the project's configuration as the loop runs it.
	Config() *project.Config
}

// Handler serves one op: args are the request's, the result is written
// as the reply's JSON.
type Handler func(ctx context.Context, args json.RawMessage) (any, error)

// Size is a terminal's size in cells.
type Size struct {
	Width  int `json:"width"`
	Height int `json:"height"`
}

// Terminal is a client's terminal, handed over by ukdev attach.
type Terminal struct {
	// In and Out are the client's standard input and output; the
	// attach function owns them only until it returns.
	In, Out *os.File
	// Env is the client's TERM, COLORTERM, NO_COLOR, TMUX and TMUX_PANE
	// ("KEY=value").
	Env []string
	// Size is the terminal's size at attach; Sizes its later sizes,
	// closed when the client is gone.
	Size  Size
	Sizes <-chan Size
}

// AttachFunc runs a dashboard on a client's terminal until the user
// detaches or ctx ends (the client went away, the server closes).
type AttachFunc func(ctx context.Context, t Terminal) error

// Server serves a loop's control socket and keeps its registry entry
// while it runs.
type Server struct {
	entry Entry
	t     Target
	ln    *net.UnixListener
	reg   *registration

	mu       sync.Mutex
	handlers map[string]Handler
	attach   AttachFunc
	quit     func()

	attached atomic.Bool // a dashboard is attached
	ownUI    atomic.Bool // the loop shows its own dashboard
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	closed   sync.Once
}

// Serve listens on e.Socket (0600; a stale socket there is replaced),
// publishes e in the registry, and serves status, pause, resume, reboot,
// stop, quit and attach for t until ctx ends or Close. Attach is refused
// until SetAttach, quit until SetQuit.
func Serve(ctx context.Context, e Entry, t Target) (*Server, error) {
	if e.Socket == "" {
		return nil, errors.New("manager: serve: the entry has no socket path")
	}
	dir, err := project.RegistryDir()
	if err != nil {
		return nil, fmt.Errorf("manager: serve: %w", err)
	}
	ln, err := listen(e.Socket)
	if err != nil {
		return nil, err
	}
	reg, err := register(dir, e)
	if err != nil {
		ln.Close()
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	s := &Server{entry: e, t: t, ln: ln, reg: reg, handlers: map[string]Handler{}, ctx: sctx, cancel: cancel}
	s.Handle("status", func(context.Context, json.RawMessage) (any, error) { return s.vm(), nil })
	for _, a := range []devloop.Action{devloop.ActionPause, devloop.ActionResume, devloop.ActionReboot, devloop.ActionStop} {
		s.Handle(string(a), func(ctx context.Context, _ json.RawMessage) (any, error) {
			if err := t.Do(ctx, a); err != nil {
				return nil, err
			}
			return s.vm(), nil
		})
	}
	s.Handle("quit", func(context.Context, json.RawMessage) (any, error) {
		s.mu.Lock()
		quit := s.quit
		s.mu.Unlock()
		if quit == nil {
			return nil, fmt.Errorf("manager: quit: %w: ukdev (pid %d) runs in a terminal; end it there, or stop its VM with ukdev stop", ErrRefused, e.PID)
		}
		// After the reply: quitting closes this server.
		return afterReply(quit), nil
	})
	s.wg.Add(1)
	go s.accept()
	context.AfterFunc(sctx, func() { ln.Close() })
	return s, nil
}

// listen creates the socket at path, 0600, replacing a stale one.
func listen(path string) (*net.UnixListener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("manager: serve: %s exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("manager: serve: another process serves %s", path)
		}
		os.Remove(path)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("manager: serve: %w", err)
	}
	// The runtime dir is 0700; the socket is made 0600 besides.
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("manager: serve: %w", err)
	}
	ln.SetUnlinkOnClose(true)
	return ln, nil
}

// Entry is the entry the server published.
func (s *Server) Entry() Entry { return s.entry }

// Handle serves op with h, replacing what served it.
func (s *Server) Handle(op string, h Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[op] = h
}

// SetAttach lets clients attach a dashboard, run by f.
func (s *Server) SetAttach(f AttachFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attach = f
}

// SetQuit lets clients end the ukdev (ukdev down on a detached one): quit
// is called once the reply is on its way.
func (s *Server) SetQuit(quit func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.quit = quit
}

// SetDashboard says whether the loop shows its own dashboard (a
// foreground ukdev dev): status reports it as attached.
// It is a no-op on a nil Server.
func (s *Server) SetDashboard(on bool) {
	if s != nil {
		s.ownUI.Store(on)
	}
}

// Close stops serving, ends attached dashboards, and removes the socket
// and the registry entry. It is idempotent, and a no-op on a nil Server.
func (s *Server) Close() error {
	if s == nil {
		return nil
	}
	s.closed.Do(func() {
		s.cancel()
		s.ln.Close()
		s.wg.Wait()
		s.reg.remove()
	})
	return nil
}

// vm is the loop's status as a VM.
func (s *Server) vm() VM {
	st := s.t.Status()
	v := VM{Entry: s.entry, State: st.State, Boot: st.Boot, Build: st.Build, Since: st.Since, Uptime: st.Uptime,
		Exit: st.Exit, Attached: s.attached.Load() || s.ownUI.Load()}
	if info, ok := s.t.Current(); ok {
		v.QEMUPID, v.Accel = info.PID, info.Accel
		if hs, err := s.t.HostStats(); err == nil {
			v.CPUTime, v.RSS = hs.CPUTime(), int64(hs.RSSBytes)
		}
	}
	if cfg := s.t.Config(); cfg != nil {
		v.Ports = PortLabels(cfg.VM.Ports)
	}
	return v
}

// PortLabels renders forwarded ports as "tcp 8080→80", with the host
// address when it is not the default.
func PortLabels(ports []project.Port) []string {
	var out []string
	for _, p := range ports {
		host := strconv.Itoa(p.HostPort)
		if p.HostAddr != "" && p.HostAddr != project.DefaultHostAddr {
			host = net.JoinHostPort(p.HostAddr, host)
		}
		out = append(out, fmt.Sprintf("%s %s→%d", p.Proto, host, p.GuestPort))
	}
	return out
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(c)
		}()
	}
}

// serveConn answers c's requests in order until it closes.
func (s *Server) serveConn(c *net.UnixConn) {
	defer c.Close()
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	context.AfterFunc(ctx, func() { c.SetReadDeadline(time.Now()) })
	r := &lineReader{c: c}
	defer r.close()
	for {
		line, fds, err := r.next()
		if err != nil {
			closeFDs(fds)
			return
		}
		var req request
		if err := json.Unmarshal(line, &req); err != nil {
			closeFDs(fds)
			_ = writeLine(c, reply{Error: fmt.Sprintf("manager: bad request: %v", err)})
			return
		}
		if req.Op == "attach" {
			s.serveAttach(ctx, c, r, req.Args, fds)
			return
		}
		closeFDs(fds)
		rep, then := s.call(ctx, req)
		if err := writeLine(c, rep); err != nil {
			return
		}
		if then != nil {
			then()
		}
	}
}

// afterReply is a handler's result that replies null, then runs.
type afterReply func()

// call runs a request's handler, returning its reply and what to run
// once the reply is sent.
func (s *Server) call(ctx context.Context, req request) (reply, func()) {
	s.mu.Lock()
	h := s.handlers[req.Op]
	s.mu.Unlock()
	if h == nil {
		return errorReply(fmt.Errorf("manager: %q: %w", req.Op, ErrUnknownOp)), nil
	}
	res, err := h(ctx, req.Args)
	if err != nil {
		return errorReply(err), nil
	}
	if then, ok := res.(afterReply); ok {
		return reply{Result: json.RawMessage("null")}, then
	}
	data, err := json.Marshal(res)
	if err != nil {
		return errorReply(fmt.Errorf("manager: %s: reply: %w", req.Op, err)), nil
	}
	return reply{Result: data}, nil
}

// attachArgs are the arguments of an attach request.
type attachArgs struct {
	Env  []string `json:"env"`
	Size Size     `json:"size"`
}

// serveAttach runs the dashboard on the terminal passed in fds until it
// detaches or the client goes away, then sends the final reply.
func (s *Server) serveAttach(ctx context.Context, c *net.UnixConn, r *lineReader, raw json.RawMessage, fds []int) {
	s.mu.Lock()
	attach := s.attach
	s.mu.Unlock()
	var args attachArgs
	err := json.Unmarshal(raw, &args)
	switch {
	case err != nil:
		err = fmt.Errorf("manager: attach: bad arguments: %w", err)
	case len(fds) != 2:
		err = fmt.Errorf("manager: attach: want the terminal's input and output, got %d descriptors", len(fds))
	case attach == nil && s.ownUI.Load():
		err = fmt.Errorf("manager: attach: %w: ukdev (pid %d) shows its own dashboard in its terminal", ErrRefused, s.entry.PID)
	case attach == nil:
		err = fmt.Errorf("manager: attach: %w: ukdev (pid %d) runs in a terminal of its own; only a ukdev started with ukdev up can be attached", ErrRefused, s.entry.PID)
	case !s.attached.CompareAndSwap(false, true):
		err = fmt.Errorf("manager: attach: %w: a dashboard is already attached to %s", ErrRefused, s.entry.Project)
	}
	if err != nil {
		closeFDs(fds)
		_ = writeLine(c, errorReply(err))
		return
	}
	defer s.attached.Store(false)
	in, out := os.NewFile(uintptr(fds[0]), "attached-input"), os.NewFile(uintptr(fds[1]), "attached-output")
	defer in.Close()
	defer out.Close()
	if err := writeLine(c, reply{Result: json.RawMessage(`{"attached":true}`)}); err != nil {
		return
	}
	actx, detach := context.WithCancel(ctx)
	defer detach()
	sizes := make(chan Size, 8)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		// Resizes until the client goes away, which detaches.
		defer close(sizes)
		defer detach()
		for {
			line, fds, err := r.next()
			closeFDs(fds)
			if err != nil {
				return
			}
			var req request
			var sz Size
			if json.Unmarshal(line, &req) != nil || req.Op != "resize" || json.Unmarshal(req.Args, &sz) != nil {
				continue
			}
			select {
			case sizes <- sz:
			default: // the dashboard lags: it reads the terminal's size itself
			}
		}
	}()
	err = attach(actx, Terminal{In: in, Out: out, Env: args.Env, Size: args.Size, Sizes: sizes})
	// Cleared before the client hears of it: a status it asks for next
	// must not show the dashboard still attached.
	s.attached.Store(false)
	final := reply{Result: json.RawMessage(`{"detached":true}`)}
	if err != nil {
		final = errorReply(fmt.Errorf("manager: attach: %w", err))
	}
	_ = writeLine(c, final)
	// The reader goroutine ends with the connection.
	c.Close()
	<-readerDone
}
