package manager

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/ukdev/ukdev/devloop"
)

// The control socket speaks JSON lines. A client writes a request
//
//	{"op":"status","args":{...}}
//
// and the server answers each with one reply, in order:
//
//	{"result":...}  or  {"error":"...","code":"no-vm"}
//
// "attach" carries the client's terminal as two file descriptors
// (SCM_RIGHTS) with its request line; after its reply the client may send
// {"op":"resize","args":{"width":W,"height":H}} lines, and the server
// sends one more reply when the dashboard has ended.

// request is one line a client sends.
type request struct {
	Op   string          `json:"op"`
	Args json.RawMessage `json:"args,omitempty"`
}

// reply is one line the server sends.
type reply struct {
	Result json.RawMessage `json:"result,omitempty"`
	Error  string          `json:"error,omitempty"`
	Code   string          `json:"code,omitempty"`
}

// The error codes of replies, which RemoteError maps to errors.Is targets.
const (
	codeNoVM      = "no-vm"
	codeUnknownOp = "unknown-op"
	codeRefused   = "refused"
)

// ErrUnknownOp is matched (errors.Is) by a RemoteError for an op the
// server does not serve (an older ukdev).
var ErrUnknownOp = errors.New("the ukdev does not serve this op")

// ErrRefused is matched by a RemoteError when the server refused the
// request as it stands (attach to a ukdev with a terminal of its own, or
// one already attached; quit of a foreground ukdev).
var ErrRefused = errors.New("refused")

// RemoteError is an error a loop's server replied with.
type RemoteError struct {
	Op, Message, Code string
}

func (e *RemoteError) Error() string { return e.Message }

// Is matches ErrUnknownOp, ErrRefused and devloop.ErrNoVM by the reply's
// code.
func (e *RemoteError) Is(target error) bool {
	switch e.Code {
	case codeNoVM:
		return target == devloop.ErrNoVM
	case codeUnknownOp:
		return target == ErrUnknownOp
	case codeRefused:
		return target == ErrRefused
	}
	return false
}

// errorReply turns a handler's error into a reply.
func errorReply(err error) reply {
	r := reply{Error: err.Error()}
	switch {
	case errors.Is(err, devloop.ErrNoVM):
		r.Code = codeNoVM
	case errors.Is(err, ErrUnknownOp):
		r.Code = codeUnknownOp
	case errors.Is(err, ErrRefused):
		r.Code = codeRefused
	}
	return r
}

// maxLine bounds a line on the control socket.
const maxLine = 1 << 20

// lineReader reads lines from a unix connection together with the file
// descriptors passed with them: a plain buffered reader would drop them.
type lineReader struct {
	c         *net.UnixConn
	buf       []byte
	fds       []int
	data, oob []byte // read buffers, made at the first read
}

// next returns the next line (without its newline) and the descriptors
// received since the previous one. The caller owns the descriptors.
func (r *lineReader) next() ([]byte, []int, error) {
	for {
		if i := bytes.IndexByte(r.buf, '\n'); i >= 0 {
			line := r.buf[:i:i]
			r.buf = r.buf[i+1:]
			fds := r.fds
			r.fds = nil
			return line, fds, nil
		}
		if len(r.buf) > maxLine {
			return nil, nil, fmt.Errorf("manager: a line longer than %d bytes", maxLine)
		}
		if r.data == nil {
			r.data, r.oob = make([]byte, 32<<10), make([]byte, unix.CmsgSpace(4*4))
		}
		// Go receives descriptors close-on-exec: QEMU and builds never
		// inherit a client's terminal.
		n, oobn, _, _, err := r.c.ReadMsgUnix(r.data, r.oob)
		if oobn > 0 {
			r.fds = append(r.fds, parseRights(r.oob[:oobn])...)
		}
		n = max(n, 0)
		r.buf = append(r.buf, r.data[:n]...)
		if err != nil && n == 0 {
			return nil, nil, err
		}
	}
}

// close closes descriptors received and not taken.
func (r *lineReader) close() {
	closeFDs(r.fds)
	r.fds = nil
}

// parseRights returns the descriptors in a control message.
func parseRights(oob []byte) []int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for _, m := range msgs {
		if got, err := unix.ParseUnixRights(&m); err == nil {
			fds = append(fds, got...)
		}
	}
	return fds
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		_ = syscall.Close(fd)
	}
}

// writeLine writes v as one JSON line, with fds passed alongside.
func writeLine(c *net.UnixConn, v any, fds ...int) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	data = append(data, '\n')
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	n, _, err := c.WriteMsgUnix(data, oob, nil)
	if err == nil && n < len(data) {
		_, err = c.Write(data[n:])
	}
	return err
}
