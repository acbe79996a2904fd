package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/guestexit"
	"github.com/ukdev/ukdev/manager"
	"github.com/ukdev/ukdev/nofollow"
	"github.com/ukdev/ukdev/project"
	"github.com/ukdev/ukdev/tui"
)

// detachedCmd is the hidden command a detached ukdev runs: ukdev up
// starts the same binary with it.
const detachedCmd = "__detached"

// readyFD is the descriptor of the pipe on which a detached ukdev reports
// its start to ukdev up (the first of exec's ExtraFiles).
const readyFD = 3

// readyWait bounds how long the detached ukdev waits, after its VM
// started, for the guest's first console line before ukdev up returns.
const readyWait = 5 * time.Second

// upMsg is one line on the ready pipe: an event's plain rendering, then
// either Ready or Failed with the status ukdev up exits with.
type upMsg struct {
	Line   string `json:"line,omitempty"`
	Ready  bool   `json:"ready,omitempty"`
	Failed bool   `json:"failed,omitempty"`
	Code   int    `json:"code,omitempty"`
	Error  string `json:"error,omitempty"`
}

func newUpCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Boot the project's VM detached from the terminal (same as run -d)",
		Long: `up starts a ukdev that runs the project's VM without a terminal: it builds when the
image is missing or older than a source, boots it, and returns once the VM runs,
printing the build and boot as they go. A failed build or a guest that ends at once
makes up fail with their status (as ukdev run's).

The VM keeps running after the terminal closes, its console still logged (ukdev
logs -f follows it); ukdev ps lists it, ukdev attach opens its dashboard, ukdev
down stops it. Saves do not rebuild it until watching is turned on in its
dashboard (w).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.up(cmd.Context())
		},
	}
	addOnFlag(cmd, a)
	return cmd
}

// up starts a detached ukdev for the project and relays its start.
func (a *app) up(ctx context.Context) error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	if v, err := manager.Find(ctx, cfg.Root); err == nil && v.Root == realPath(cfg.Root) {
		how := "in a terminal"
		if v.Detached {
			how = "detached"
		}
		return fmt.Errorf("up: %s already runs %s (ukdev pid %d): ukdev attach shows it, ukdev down stops it", v.Project, how, v.PID)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("up: %w", err)
	}
	args := []string{"-C", cfg.Root}
	if a.configPath != "" {
		p, err := filepath.Abs(a.configPath)
		if err != nil {
			return fmt.Errorf("up: %w", err)
		}
		args = append(args, "-c", p)
	}
	args = append(args, detachedCmd)
	if a.on != "" {
		args = append(args, "--on", a.on)
	}
	state, err := project.StateDir(cfg)
	if err != nil {
		return fmt.Errorf("up: %w", err)
	}
	if err := os.MkdirAll(state, 0o700); err != nil {
		return fmt.Errorf("up: %w", err)
	}
	logPath := filepath.Join(state, "detached.log")
	logf, err := nofollow.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("up: %w", err)
	}
	defer logf.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("up: %w", err)
	}
	defer pr.Close()
	cmd := exec.Command(exe, args...)
	cmd.Dir = cfg.Root
	// No terminal: its own session, standard input /dev/null, its output
	// (only what escapes its log, such as a Go panic) to detached.log.
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{pw}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		pw.Close()
		return fmt.Errorf("up: start %s: %w", exe, err)
	}
	pw.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	msgs := make(chan upMsg)
	readErr := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var m upMsg
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				msgs <- m
			}
		}
		readErr <- sc.Err()
	}()
	for {
		select {
		case m := <-msgs:
			switch {
			case m.Line != "":
				fmt.Fprintln(a.stderr, m.Line)
			case m.Ready:
				fmt.Fprintf(a.stderr, "ukdev: %s runs detached (ukdev pid %d): `ukdev attach` opens its dashboard, `ukdev down` stops it\n", cfg.Name, cmd.Process.Pid)
				return nil
			case m.Failed:
				fmt.Fprintf(a.stderr, "ukdev: up: %s (its log: %s)\n", m.Error, logPath)
				return &exitError{code: max(m.Code, 1)}
			}
		case <-readErr:
			err := <-exited
			return fmt.Errorf("up: the detached ukdev ended before its VM ran (%v); see %s", err, logPath)
		case <-ctx.Done():
			// Interrupted: the VM was not wanted after all.
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(upStopWait):
				_ = cmd.Process.Kill()
			}
			return &exitError{code: 130}
		}
	}
}

// upStopWait bounds how long an interrupted ukdev up waits for the
// detached ukdev it started to stop.
const upStopWait = 30 * time.Second

// realPath is path with symlinks resolved, or path itself.
func realPath(path string) string {
	if r, err := filepath.EvalSymlinks(path); err == nil {
		return r
	}
	return path
}

func newDetachedCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:    detachedCmd,
		Short:  "Run the loop detached (started by ukdev up)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.detached(cmd.Context(), os.NewFile(readyFD, "ready"))
		},
	}
	addOnFlag(cmd, a)
	return cmd
}

// detached is a detached ukdev: the loop with watching off, registered
// and serving its control socket, reporting its start on ready, until
// ukdev down (quit) or a signal ends it. A dashboard attaches through the
// control socket.
func (a *app) detached(ctx context.Context, ready *os.File) error {
	rep := &startReporter{w: ready}
	defer rep.fail(125, "the detached ukdev ended")
	s, err := a.openSession(devloop.Options{NoWatch: true})
	if err != nil {
		rep.fail(125, err.Error())
		return err
	}
	defer s.closer.Close()
	ctx, quit := context.WithCancel(ctx)
	defer quit()
	srv := a.serveControl(ctx, s, true, false)
	if srv == nil {
		err := errors.New("cannot serve the control socket (see the log)")
		rep.fail(125, err.Error())
		return err
	}
	defer srv.Close()
	srv.SetQuit(quit)
	h := newEventHub()
	srv.SetAttach(func(actx context.Context, term manager.Terminal) error {
		events, leave := h.subscribe()
		defer leave()
		sizes := make(chan tui.Size, 1)
		go func() {
			defer close(sizes)
			for sz := range term.Sizes {
				sizes <- tui.Size{Width: sz.Width, Height: sz.Height}
			}
		}()
		return tui.RunAttached(actx, s.loop, events, tui.Options{
			Color:   envColor(term.Env),
			Project: s.cfg.Name,
			Flavor:  s.cfg.Flavor,
			Ports:   manager.PortLabels(s.cfg.VM.Ports),
			Host:    hostLabel(libvirtHost(s.cfg)),
			Log:     s.log,
			Input:   term.In,
			Output:  term.Out,
			Environ: term.Env,
			Resize:  sizes,
			// Inside the client's tmux, g opens gdb in a split of its pane.
			Tmux:     clientEnv(term.Env, "TMUX") != "",
			TmuxPane: clientEnv(term.Env, "TMUX_PANE"),
			VMs:      &vmSource{},
		})
	})
	rep.quit = quit
	hubDone := make(chan struct{})
	go func() {
		defer close(hubDone)
		h.run(s.loop.Events(), rep.observe)
	}()
	_, err = s.loop.Run(ctx)
	<-hubDone
	return err
}

// clientEnv returns the value of key in env ("KEY=value" entries), "" when
// it is not there.
func clientEnv(env []string, key string) string {
	for _, kv := range env {
		if k, v, _ := strings.Cut(kv, "="); k == key {
			return v
		}
	}
	return ""
}

// envColor is colorAllowed for an attached client's environment.
func envColor(env []string) bool {
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if (k == "TERM" && v == "dumb") || (k == "NO_COLOR" && v != "") {
			return false
		}
	}
	return true
}

// startReporter reports a detached ukdev's start to ukdev up: each event
// as a line until the VM runs (its guest's first console line, or
// readyWait after it started), or the start failed; then it closes the
// pipe. A failed start ends the detached ukdev (quit).
type startReporter struct {
	mu   sync.Mutex
	w    io.WriteCloser // nil once done
	quit func()
	boot int
}

func (r *startReporter) send(m upMsg) {
	if r.w == nil {
		return
	}
	data, _ := json.Marshal(m)
	if _, err := r.w.Write(append(data, '\n')); err != nil {
		// ukdev up is gone: nobody waits for the report.
		r.w.Close()
		r.w = nil
	}
}

// done sends the last message and closes the pipe.
func (r *startReporter) done(m upMsg) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.send(m)
	if r.w != nil {
		r.w.Close()
		r.w = nil
	}
}

// fail reports a failed start (nothing once the start was reported) and
// ends the detached ukdev.
func (r *startReporter) fail(code int, msg string) {
	r.mu.Lock()
	pending := r.w != nil
	r.mu.Unlock()
	if !pending {
		return
	}
	r.done(upMsg{Failed: true, Code: code, Error: msg})
	if r.quit != nil {
		r.quit()
	}
}

// observe follows the loop's events while the start is pending.
func (r *startReporter) observe(e devloop.Event) {
	r.mu.Lock()
	if r.w == nil {
		r.mu.Unlock()
		return
	}
	r.send(upMsg{Line: plainLine(e, false)})
	if e.Type == devloop.TypeVMStart {
		r.boot = e.Boot
		// A guest that prints nothing runs all the same.
		time.AfterFunc(readyWait, func() { r.done(upMsg{Ready: true}) })
	}
	ready := e.Type == devloop.TypeVMConsole && r.boot > 0 && e.Boot == r.boot
	r.mu.Unlock()
	if ready {
		r.done(upMsg{Ready: true})
		return
	}
	switch e.Type {
	case devloop.TypeBuildDone:
		if e.OK != nil && !*e.OK {
			code := 1
			if e.ExitCode != nil && *e.ExitCode > 0 {
				code = *e.ExitCode
			}
			r.fail(code, fmt.Sprintf("build #%d failed", e.Build))
		}
	case devloop.TypeError:
		r.fail(125, e.Message)
	case devloop.TypeVMExit:
		exit := guestexit.Exit{Reason: guestexit.Reason(e.Reason), Detail: e.Detail}
		if e.ExitCode != nil {
			exit.Code, exit.HasCode = *e.ExitCode, true
		}
		r.fail(exitStatus(exit), fmt.Sprintf("boot #%d ended: %s", e.Boot, exit))
	case devloop.TypeStop:
		r.fail(125, "the loop stopped")
	}
}

// eventHub reads a detached loop's events (nothing may block the loop for
// want of a reader) and forwards them to the attached dashboard, if any.
// A new dashboard first gets the events that set the status bar (accel,
// watching, the current build and boot), then the live ones.
type eventHub struct {
	mu     sync.Mutex
	sub    chan devloop.Event
	left   chan struct{} // closed when sub's dashboard leaves
	closed bool
	accel  *devloop.Event
	watch  *devloop.Event
	build  []devloop.Event // the last build's start and end
	boot   []devloop.Event // the current boot's start and state changes
	lines  []devloop.Event // the current boot's last console lines
}

// Bounds of what the hub keeps for a new dashboard.
const (
	// maxRecent bounds the current boot's state events.
	maxRecent = 64
	// maxReplayLines bounds the current boot's console lines: the
	// console's scrollback when a dashboard attaches.
	maxReplayLines = 2000
)

func newEventHub() *eventHub { return &eventHub{} }

// run forwards in until it closes, calling observe on every event first.
func (h *eventHub) run(in <-chan devloop.Event, observe func(devloop.Event)) {
	for e := range in {
		observe(e)
		h.mu.Lock()
		h.remember(e)
		sub, left := h.sub, h.left
		h.mu.Unlock()
		if sub != nil {
			select {
			case sub <- e:
			case <-left:
			}
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	if h.sub != nil {
		close(h.sub) // the dashboard quits: the loop ended
		h.sub = nil
	}
}

// remember keeps the events a new dashboard needs: what its status bar
// shows (accelerator, watching, the last build, the current boot's
// state) and the current boot's console. h.mu is held.
func (h *eventHub) remember(e devloop.Event) {
	switch e.Type {
	case devloop.TypeAccel:
		h.accel = &e
	case devloop.TypeWatchPaused, devloop.TypeWatchResumed:
		h.watch = &e
	case devloop.TypeBuildStart:
		h.build = append(h.build[:0], e)
	case devloop.TypeBuildDone, devloop.TypeBuildCanceled:
		h.build = append(h.build, e)
	case devloop.TypeImageReady:
		// Alone, it names an up-to-date image booted without a build; a
		// reboot prepares the image again: keep the last one only.
		h.build = slices.DeleteFunc(h.build, func(x devloop.Event) bool { return x.Type == devloop.TypeImageReady })
		h.build = append(h.build, e)
	case devloop.TypeVMStart:
		h.boot = append(h.boot[:0], e)
		h.lines = h.lines[:0]
	case devloop.TypeVMPaused, devloop.TypeVMResumed, devloop.TypeVMReset, devloop.TypeVMExit, devloop.TypeVMCrash,
		devloop.TypeReload, devloop.TypeVMGDB, devloop.TypeHealthReady, devloop.TypeHealthStatus:
		if len(h.boot) >= maxRecent {
			h.boot = slices.Delete(h.boot, 1, 2) // the boot's start stays
		}
		h.boot = append(h.boot, e)
	case devloop.TypeVMConsole:
		// Cut back only at twice the bound: a flooding guest costs one
		// copy per maxReplayLines lines.
		if len(h.lines) >= 2*maxReplayLines {
			h.lines = append(h.lines[:0], h.lines[len(h.lines)-maxReplayLines:]...)
		}
		h.lines = append(h.lines, e)
	}
}

// replay is what a new dashboard receives first, in the order it
// happened. h.mu is held.
func (h *eventHub) replay() []devloop.Event {
	var out []devloop.Event
	for _, e := range []*devloop.Event{h.accel, h.watch} {
		if e != nil {
			out = append(out, *e)
		}
	}
	out = append(out, h.build...)
	out = append(out, h.boot...)
	out = append(out, h.lines[max(0, len(h.lines)-maxReplayLines):]...)
	slices.SortStableFunc(out, func(a, b devloop.Event) int { return a.Time.Compare(b.Time) })
	return out
}

// subscribe returns the event stream for a new dashboard, and the
// function to call when it leaves. One dashboard at a time (the control
// socket refuses a second).
func (h *eventHub) subscribe() (<-chan devloop.Event, func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch := make(chan devloop.Event, 8192) // more than replay can hold
	for _, e := range h.replay() {
		ch <- e
	}
	if h.closed {
		close(ch)
		return ch, func() {}
	}
	left := make(chan struct{})
	h.sub, h.left = ch, left
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.sub == ch {
			h.sub, h.left = nil, nil
		}
		close(left)
	}
}
