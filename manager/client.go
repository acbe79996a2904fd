package manager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/ukdev/ukdev/devloop"
)

// Client talks to one loop's control socket. Its calls are made one at a
// time.
type Client struct {
	e Entry
	c *net.UnixConn
	r *lineReader
}

// Dial connects to e's control socket.
func Dial(ctx context.Context, e Entry) (*Client, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", e.Socket)
	if err != nil {
		return nil, fmt.Errorf("manager: %s (pid %d): control socket %s: %w", e.Project, e.PID, e.Socket, err)
	}
	uc := c.(*net.UnixConn)
	return &Client{e: e, c: uc, r: &lineReader{c: uc}}, nil
}

// Close closes the connection.
func (c *Client) Close() error {
	c.r.close()
	return c.c.Close()
}

// Call sends op with args (nil: none) and decodes the result into reply
// (nil: ignored). An error the loop replied with is a *RemoteError.
func (c *Client) Call(ctx context.Context, op string, args, reply any) error {
	if dl, ok := ctx.Deadline(); ok {
		c.c.SetDeadline(dl)
	} else {
		c.c.SetDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { c.c.SetDeadline(time.Now()) })
	defer stop()
	req := request{Op: op}
	if args != nil {
		data, err := json.Marshal(args)
		if err != nil {
			return fmt.Errorf("manager: %s: %w", op, err)
		}
		req.Args = data
	}
	if err := writeLine(c.c, req); err != nil {
		return c.wrap(ctx, op, err)
	}
	rep, err := c.read()
	if err != nil {
		return c.wrap(ctx, op, err)
	}
	if rep.Error != "" {
		return &RemoteError{Op: op, Message: rep.Error, Code: rep.Code}
	}
	if reply != nil && len(rep.Result) > 0 {
		if err := json.Unmarshal(rep.Result, reply); err != nil {
			return fmt.Errorf("manager: %s: %s's reply: %w", op, c.e.Project, err)
		}
	}
	return nil
}

// read reads one reply line.
func (c *Client) read() (reply, error) {
	line, fds, err := c.r.next()
	closeFDs(fds)
	if err != nil {
		return reply{}, err
	}
	var rep reply
	if err := json.Unmarshal(line, &rep); err != nil {
		return reply{}, fmt.Errorf("bad reply: %w", err)
	}
	return rep, nil
}

// wrap says where a call failed, with ctx's error when it ended it.
func (c *Client) wrap(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		err = ctx.Err()
	}
	return fmt.Errorf("manager: %s to %s (pid %d, %s): %w", op, c.e.Project, c.e.PID, c.e.Socket, err)
}

// Status returns the loop's VM and its status.
func (c *Client) Status(ctx context.Context) (VM, error) {
	var v VM
	err := c.Call(ctx, "status", nil, &v)
	return v, err
}

// Pause pauses the VM (nothing when paused); it fails matching
// devloop.ErrNoVM when none runs.
func (c *Client) Pause(ctx context.Context) error { return c.Call(ctx, "pause", nil, nil) }

// Resume resumes a paused VM (nothing when it runs).
func (c *Client) Resume(ctx context.Context) error { return c.Call(ctx, "resume", nil, nil) }

// Reboot reboots the VM on the same build, or boots the last build again.
func (c *Client) Reboot(ctx context.Context) error { return c.Call(ctx, "reboot", nil, nil) }

// Stop stops the VM; the loop goes on (a foreground ukdev dev keeps
// watching).
func (c *Client) Stop(ctx context.Context) error { return c.Call(ctx, "stop", nil, nil) }

// Quit ends a detached ukdev, which stops its VM; a foreground one
// refuses (ErrRefused).
func (c *Client) Quit(ctx context.Context) error { return c.Call(ctx, "quit", nil, nil) }

// attachEnv are the variables of the client's environment that the
// dashboard needs.
var attachEnv = []string{"TERM", "COLORTERM", "NO_COLOR", "TMUX", "TMUX_PANE"}

// Attach hands the terminal in and out over to the loop, which shows its
// dashboard there until the user detaches (q) or ctx ends; env supplies
// TERM, COLORTERM and NO_COLOR. Window size changes (SIGWINCH) are
// forwarded. The terminal's mode is restored when Attach returns, however
// the dashboard ended.
func (c *Client) Attach(ctx context.Context, in, out *os.File, env []string) error {
	var pass []string
	for _, kv := range env {
		if k, _, ok := strings.Cut(kv, "="); ok && slices.Contains(attachEnv, k) {
			pass = append(pass, kv)
		}
	}
	var size Size
	if w, h, err := term.GetSize(int(out.Fd())); err == nil {
		size = Size{Width: w, Height: h}
	}
	if st, err := term.GetState(int(in.Fd())); err == nil {
		defer term.Restore(int(in.Fd()), st)
	}
	c.c.SetDeadline(time.Time{})
	req := request{Op: "attach"}
	req.Args, _ = json.Marshal(attachArgs{Env: pass, Size: size})
	if err := writeLine(c.c, req, int(in.Fd()), int(out.Fd())); err != nil {
		return c.wrap(ctx, "attach", err)
	}
	rep, err := c.read()
	if err != nil {
		return c.wrap(ctx, "attach", err)
	}
	if rep.Error != "" {
		return &RemoteError{Op: "attach", Message: rep.Error, Code: rep.Code}
	}
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	defer signal.Stop(winch)
	done := make(chan error, 1)
	go func() {
		rep, err := c.read()
		switch {
		case err != nil:
			done <- err
		case rep.Error != "":
			done <- &RemoteError{Op: "attach", Message: rep.Error, Code: rep.Code}
		default:
			done <- nil
		}
	}()
	for {
		select {
		case err := <-done:
			var re *RemoteError
			if err != nil && !errors.As(err, &re) {
				return c.wrap(ctx, "attach", fmt.Errorf("the ukdev serving the dashboard went away: %w", err))
			}
			return err
		case <-winch:
			if w, h, err := term.GetSize(int(out.Fd())); err == nil {
				_ = writeLine(c.c, request{Op: "resize", Args: mustJSON(Size{Width: w, Height: h})})
			}
		case <-ctx.Done():
			// Closing the connection detaches.
			c.c.Close()
			<-done
			return ctx.Err()
		}
	}
}

func mustJSON(v any) json.RawMessage {
	data, _ := json.Marshal(v)
	return data
}

// compile-time check that the loop is a Target.
var _ Target = (*devloop.Loop)(nil)
