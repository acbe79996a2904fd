// Package qmpcmd holds the QMP commands that both QEMU backends send to
// inspect a guest, and the decoding of their replies: vm/qemu runs them on
// its own QMP socket, vm/libvirt through libvirt's QEMU monitor
// passthrough. Each function takes an Executor, the one thing the two
// differ in. QMP's JSON stays inside the backends and this package.
package qmpcmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// Executor runs one QMP command, name with its arguments (nil for none),
// and returns the reply's "return" value. An error reply is an *Error.
type Executor interface {
	Execute(ctx context.Context, name string, args any) (json.RawMessage, error)
}

// Command is one QMP command: its "execute" name and its arguments (nil
// for none).
type Command struct {
	Name string
	Args any
}

// BatchExecutor is an Executor that can also write several commands at
// once and read their replies after: one round trip for all of them, not
// one each. vm/qemu's executor is one (its own QMP socket); libvirt's
// monitor passthrough takes one command at a time and is not.
type BatchExecutor interface {
	Executor
	// ExecuteBatch runs cmds in one write and returns each one's
	// "return" value and error, in order, as Execute would have.
	ExecuteBatch(ctx context.Context, cmds []Command) ([]json.RawMessage, []error)
}

// round is a group of commands whose replies are read in order: all in
// one ExecuteBatch when the executor is a BatchExecutor, else each by
// Execute when it is read, so that a caller that stops at an error asks
// nothing more, as it would running them one by one.
type round struct {
	ctx  context.Context
	ex   Executor
	cmds []Command
	rets []json.RawMessage
	errs []error
}

// newRound starts cmds on ex: at once if ex can batch them.
func newRound(ctx context.Context, ex Executor, cmds []Command) *round {
	r := &round{ctx: ctx, ex: ex, cmds: cmds}
	if b, ok := ex.(BatchExecutor); ok {
		r.rets, r.errs = b.ExecuteBatch(ctx, cmds)
	}
	return r
}

// result returns command i's "return" value or error.
func (r *round) result(i int) (json.RawMessage, error) {
	if r.errs == nil {
		return r.ex.Execute(r.ctx, r.cmds[i].Name, r.cmds[i].Args)
	}
	return r.rets[i], r.errs[i]
}

// Error is an error reply from QEMU to one command.
type Error struct {
	// Command is the command's "execute" name.
	Command string
	// Class is QEMU's error class ("GenericError", "CommandNotFound"...).
	Class string
	// Desc is QEMU's description of the error.
	Desc string
}

// Error implements error.
func (e *Error) Error() string {
	return fmt.Sprintf("qemu: qmp %s: %s: %s", e.Command, e.Class, e.Desc)
}

// Reply is a QMP reply as QEMU sends it: a "return" value, or an
// "error".
type Reply struct {
	Return json.RawMessage `json:"return"`
	Error  *struct {
		Class string `json:"class"`
		Desc  string `json:"desc"`
	} `json:"error"`
}

// DecodeReply decodes raw, QEMU's whole reply to command, into its
// "return" value, or an *Error for an error reply.
func DecodeReply(command string, raw []byte) (json.RawMessage, error) {
	var r Reply
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("qemu: qmp %s: decode reply: %w", command, err)
	}
	if r.Error != nil {
		return nil, &Error{Command: command, Class: r.Error.Class, Desc: r.Error.Desc}
	}
	return r.Return, nil
}

// HMP runs a human monitor command and returns its text.
func HMP(ctx context.Context, ex Executor, command string) (string, error) {
	ret, err := ex.Execute(ctx, "human-monitor-command", map[string]string{"command-line": command})
	if err != nil {
		return "", err
	}
	var text string
	if err := json.Unmarshal(ret, &text); err != nil {
		return "", fmt.Errorf("qemu: hmp %s: decode reply: %w", command, err)
	}
	return text, nil
}

// Status returns QEMU's run state ("running", "paused", "prelaunch",
// "shutdown", "guest-panicked", "internal-error"...).
func Status(ctx context.Context, ex Executor) (string, error) {
	ret, err := ex.Execute(ctx, "query-status", nil)
	if err != nil {
		return "", err
	}
	var st struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(ret, &st); err != nil {
		return "", fmt.Errorf("qemu: qmp query-status: decode: %w", err)
	}
	return st.Status, nil
}

// optional sorts the error of a command a caller can do without: a
// command QEMU does not have (missing, never asked again), one it refused
// now (nil), or a QEMU that did not answer (returned).
func optional(err error) (missing bool, _ error) {
	var qe *Error
	switch {
	case err == nil:
		return false, nil
	case errors.As(err, &qe):
		return qe.Class == "CommandNotFound", nil
	default:
		return false, err
	}
}
