package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/digitalocean/go-qemu/qmp"
)

// DefaultQMPTimeout bounds a QMP command whose context has no deadline.
const DefaultQMPTimeout = 5 * time.Second

// eventQueueLimit is how many undelivered events one subscriber may have
// queued before the oldest are dropped; the reader never waits for a
// subscriber.
const eventQueueLimit = 4096

// ErrMonitorClosed means the QMP connection is closed (Disconnect was
// called, or QEMU closed its end).
var ErrMonitorClosed = errors.New("qemu: qmp: connection closed")

// ErrAlreadyConnected is returned by a second Connect on one Monitor.
var ErrAlreadyConnected = errors.New("qemu: qmp: already connected")

// Monitor is a QMP client over one connection. It implements qmp.Monitor
// without the limits of go-qemu's SocketMonitor: messages of any size,
// every command under a deadline (RunContext), replies matched to commands
// by id so a reply that arrives after its command timed out is dropped
// instead of answering the next command, and events read by one goroutine
// for the connection's whole life and queued per subscriber, so a slow
// subscriber never stalls command replies.
//
// All methods are safe for concurrent use. Commands may be in flight
// concurrently; QEMU answers them in order.
type Monitor struct {
	conn    net.Conn
	timeout time.Duration
	log     *slog.Logger

	// sendSlot serialises writes; a channel rather than a mutex so a
	// command waiting to write still honours its context.
	sendSlot chan struct{}
	// done is closed when the reader has stopped.
	done     chan struct{}
	greeting chan qmp.Version

	connectOnce sync.Once
	closeOnce   sync.Once
	closeErr    error

	mu        sync.Mutex
	nextID    uint64
	pending   map[string]chan reply
	subs      map[*subscription]struct{}
	readErr   error // why the reader stopped, once it has
	readerOn  bool
	version   qmp.Version
	connected bool
}

var _ qmp.Monitor = (*Monitor)(nil)

// reply is the outcome of one command, as the reader saw it.
type reply struct {
	raw []byte
	err error
}

// NewMonitor returns a Monitor speaking QMP over conn. timeout bounds
// commands whose context has no deadline (zero means DefaultQMPTimeout);
// log may be nil. The Monitor owns conn: Disconnect closes it. Nothing is
// read until Connect.
func NewMonitor(conn net.Conn, timeout time.Duration, log *slog.Logger) *Monitor {
	if timeout <= 0 {
		timeout = DefaultQMPTimeout
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Monitor{
		conn:     conn,
		timeout:  timeout,
		log:      log,
		sendSlot: make(chan struct{}, 1),
		done:     make(chan struct{}),
		greeting: make(chan qmp.Version, 1),
		pending:  make(map[string]chan reply),
		subs:     make(map[*subscription]struct{}),
	}
}

// Connect reads QEMU's greeting and negotiates capabilities, within the
// Monitor's default timeout. It implements qmp.Monitor.
func (m *Monitor) Connect() error {
	ctx, cancel := context.WithTimeout(context.Background(), m.timeout)
	defer cancel()
	return m.ConnectContext(ctx)
}

// ConnectContext reads QEMU's greeting and runs qmp_capabilities, giving up
// when ctx is done. It starts the reader that serves the connection until
// Disconnect or EOF. A Monitor connects once; a later call returns
// ErrAlreadyConnected.
func (m *Monitor) ConnectContext(ctx context.Context) error {
	_, err := m.ConnectAndRun(ctx)
	return err
}

// ConnectAndRun is ConnectContext followed by commands (raw QMP commands,
// as RunContext takes them), with qmp_capabilities and the commands sent
// in one write once the greeting has come: QEMU handles them one after the
// other, with no round trip in between. It returns the commands' replies,
// in order. An error from the negotiation leaves the Monitor unconnected;
// an error of a command (the first one, when several fail) is returned
// after the negotiation succeeded, with the replies of the commands that
// did not fail. Subscribe to Events before calling it to see the events
// the commands cause.
func (m *Monitor) ConnectAndRun(ctx context.Context, commands ...[]byte) ([][]byte, error) {
	first := false
	m.connectOnce.Do(func() { first = true })
	if !first {
		return nil, ErrAlreadyConnected
	}
	m.mu.Lock()
	m.readerOn = true
	m.mu.Unlock()
	go m.read()

	select {
	case v := <-m.greeting:
		m.mu.Lock()
		m.version = v
		m.mu.Unlock()
	case <-m.done:
		return nil, fmt.Errorf("qemu: qmp connect: no greeting: %w", m.stopReason())
	case <-ctx.Done():
		return nil, fmt.Errorf("qemu: qmp connect: waiting for greeting: %w", ctx.Err())
	}
	batch := append([][]byte{[]byte(`{"execute":"qmp_capabilities"}`)}, commands...)
	replies, errs := m.runBatch(ctx, batch)
	if errs[0] != nil {
		return nil, fmt.Errorf("qemu: qmp connect: %w", errs[0])
	}
	m.mu.Lock()
	m.connected = true
	m.mu.Unlock()
	return replies[1:], firstError(errs[1:])
}

// firstError returns the first non-nil error of errs, or nil.
func firstError(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Version returns the QEMU version from the greeting (zero before Connect).
func (m *Monitor) Version() qmp.Version {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.version
}

// Done returns a channel closed when the connection has ended (Disconnect,
// or QEMU closed it) and no more replies or events will arrive.
func (m *Monitor) Done() <-chan struct{} { return m.done }

// Disconnect closes the connection and waits for the reader to stop.
// Commands in flight fail with ErrMonitorClosed and event channels close.
// It is idempotent; it implements qmp.Monitor.
func (m *Monitor) Disconnect() error {
	m.closeOnce.Do(func() {
		if err := m.conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			m.closeErr = fmt.Errorf("qemu: qmp disconnect: %w", err)
		}
	})
	m.mu.Lock()
	readerOn := m.readerOn
	m.mu.Unlock()
	if readerOn {
		<-m.done
	} else {
		m.stop(ErrMonitorClosed)
	}
	return m.closeErr
}

// Run runs one raw QMP command under the Monitor's default timeout. It
// implements qmp.Monitor; see RunContext.
func (m *Monitor) Run(command []byte) ([]byte, error) {
	return m.RunContext(context.Background(), command)
}

// RunContext sends one raw QMP command (a JSON object with "execute" and
// optional "arguments") and returns QEMU's whole reply object, e.g.
// {"return":{...},"id":"ukdev-3"}. Any "id" in command is replaced by the
// Monitor's own. When ctx has no deadline the Monitor's default timeout
// applies. An error reply is a *QMPError; a closed connection wraps
// ErrMonitorClosed; a timeout wraps context.DeadlineExceeded.
func (m *Monitor) RunContext(ctx context.Context, command []byte) ([]byte, error) {
	replies, errs := m.runBatch(ctx, [][]byte{command})
	return replies[0], errs[0]
}

// RunBatch sends commands (each as RunContext takes it) in one write and
// waits for every reply: QEMU runs them in order with no round trip in
// between. It returns the replies in order; the error is that of the
// first command that failed (the replies of the others are still
// returned), or one of the batch as a whole (a malformed command: nothing
// is sent).
func (m *Monitor) RunBatch(ctx context.Context, commands ...[]byte) ([][]byte, error) {
	if len(commands) == 0 {
		return nil, nil
	}
	replies, errs := m.runBatch(ctx, commands)
	return replies, firstError(errs)
}

// pendingCommand is one command of a batch, registered under its id.
type pendingCommand struct {
	name string
	id   string
	ch   chan reply
}

// runBatch sends commands in one write and returns each one's reply and
// error, in order (both slices have one entry per command). When a command
// is malformed, or the write fails, nothing is run and every command fails
// with that error.
func (m *Monitor) runBatch(ctx context.Context, commands [][]byte) ([][]byte, []error) {
	replies := make([][]byte, len(commands))
	errs := make([]error, len(commands))
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, m.timeout)
		defer cancel()
	}
	cmds := make([]*pendingCommand, 0, len(commands))
	var lines []byte
	for _, command := range commands {
		c, line, err := m.register(command)
		if err != nil {
			// Nothing is sent: the batch is run whole or not at all.
			for i := range errs {
				errs[i] = err
			}
			return replies, errs
		}
		defer m.forget(c.id)
		cmds = append(cmds, c)
		lines = append(lines, line...)
	}
	if err := m.send(ctx, lines); err != nil {
		for i, c := range cmds {
			errs[i] = fmt.Errorf("qemu: qmp %s: %w", c.name, err)
		}
		return replies, errs
	}
	for i, c := range cmds {
		replies[i], errs[i] = c.await(ctx)
	}
	return replies, errs
}

// register parses one raw command, gives it the Monitor's next id and
// returns it with the line to send.
func (m *Monitor) register(command []byte) (*pendingCommand, []byte, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(command, &obj); err != nil {
		return nil, nil, fmt.Errorf("qemu: qmp: command is not a JSON object: %w", err)
	}
	var name string
	if err := json.Unmarshal(obj["execute"], &name); err != nil || name == "" {
		return nil, nil, fmt.Errorf("qemu: qmp: command %.60q has no \"execute\" name", command)
	}
	c := &pendingCommand{name: name, ch: make(chan reply, 1)}
	m.mu.Lock()
	if m.readErr != nil || !m.readerOn {
		m.mu.Unlock()
		return nil, nil, fmt.Errorf("qemu: qmp %s: %w", name, ErrMonitorClosed)
	}
	m.nextID++
	c.id = "ukdev-" + strconv.FormatUint(m.nextID, 10)
	m.pending[c.id] = c.ch
	m.mu.Unlock()

	idJSON, _ := json.Marshal(c.id) // a string always marshals
	obj["id"] = idJSON
	line, err := json.Marshal(obj)
	if err != nil {
		m.forget(c.id)
		return nil, nil, fmt.Errorf("qemu: qmp %s: encode: %w", name, err)
	}
	return c, append(line, '\n'), nil
}

// await waits for the command's reply until ctx is done.
func (c *pendingCommand) await(ctx context.Context) ([]byte, error) {
	select {
	case r := <-c.ch:
		if r.err != nil {
			var qe *QMPError
			if errors.As(r.err, &qe) {
				qe.Command = c.name
				return nil, qe
			}
			return nil, fmt.Errorf("qemu: qmp %s: %w", c.name, r.err)
		}
		return r.raw, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("qemu: qmp %s: no reply: %w", c.name, ctx.Err())
	}
}

// send writes one command line, waiting at most until ctx is done. A
// partly written command would corrupt the stream, so it closes the
// connection.
func (m *Monitor) send(ctx context.Context, line []byte) error {
	select {
	case m.sendSlot <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("waiting to send: %w", ctx.Err())
	case <-m.done:
		return ErrMonitorClosed
	}
	defer func() { <-m.sendSlot }()

	deadline, _ := ctx.Deadline()
	_ = m.conn.SetWriteDeadline(deadline) // not every net.Conn has deadlines
	n, err := m.conn.Write(line)
	_ = m.conn.SetWriteDeadline(time.Time{})
	if err == nil {
		return nil
	}
	if n > 0 {
		m.log.Warn("qmp: command written in part, closing connection", "written", n, "len", len(line))
		_ = m.conn.Close()
	}
	if ctx.Err() != nil {
		return fmt.Errorf("send: %w", ctx.Err())
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// The write deadline is ctx's, which may not have fired yet.
		return fmt.Errorf("send: %w", context.DeadlineExceeded)
	}
	if errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrClosedPipe) {
		return ErrMonitorClosed
	}
	return fmt.Errorf("send: %w", err)
}

// forget drops a command's pending entry; a late reply is then discarded.
func (m *Monitor) forget(id string) {
	m.mu.Lock()
	delete(m.pending, id)
	m.mu.Unlock()
}

// message is the union of the shapes QMP sends.
type message struct {
	QMP *struct {
		Version qmp.Version `json:"version"`
	} `json:"QMP"`
	Event  string          `json:"event"`
	ID     json.RawMessage `json:"id"`
	Return json.RawMessage `json:"return"`
	Error  *struct {
		Class string `json:"class"`
		Desc  string `json:"desc"`
	} `json:"error"`
}

// read is the connection's only reader. It runs from Connect until the
// connection ends, then fails pending commands and closes event channels.
func (m *Monitor) read() {
	dec := json.NewDecoder(m.conn)
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrClosedPipe) {
				err = ErrMonitorClosed
			} else {
				err = fmt.Errorf("%w: read: %w", ErrMonitorClosed, err)
			}
			m.stop(err)
			// Nothing more can come; release the socket now rather than
			// at Disconnect, which a caller may never need.
			_ = m.conn.Close()
			return
		}
		var msg message
		if err := json.Unmarshal(raw, &msg); err != nil {
			m.log.Warn("qmp: ignoring a message that is not an object", "err", err)
			continue
		}
		switch {
		case msg.QMP != nil:
			select {
			case m.greeting <- msg.QMP.Version:
			default:
			}
		case msg.Event != "":
			var ev qmp.Event
			if err := json.Unmarshal(raw, &ev); err != nil {
				m.log.Warn("qmp: ignoring a malformed event", "event", msg.Event, "err", err)
				continue
			}
			m.dispatch(ev)
		default:
			m.deliver(msg, raw)
		}
	}
}

// deliver hands a reply to the command waiting for it.
func (m *Monitor) deliver(msg message, raw []byte) {
	var id string
	if err := json.Unmarshal(msg.ID, &id); err != nil {
		m.log.Warn("qmp: ignoring a reply without a string id", "reply", truncate(string(raw), 200))
		return
	}
	m.mu.Lock()
	ch, ok := m.pending[id]
	delete(m.pending, id)
	m.mu.Unlock()
	if !ok {
		m.log.Debug("qmp: dropping a reply nobody waits for", "id", id)
		return
	}
	r := reply{raw: raw}
	if msg.Error != nil {
		r = reply{err: &QMPError{Class: msg.Error.Class, Desc: msg.Error.Desc}}
	}
	ch <- r // buffered, and each id is delivered once
}

// stop records why the connection ended, fails every pending command and
// ends every subscription. Only the first reason is kept.
func (m *Monitor) stop(reason error) {
	m.mu.Lock()
	if m.readErr != nil {
		m.mu.Unlock()
		return
	}
	m.readErr = reason
	pending := m.pending
	m.pending = make(map[string]chan reply)
	subs := m.subs
	m.subs = make(map[*subscription]struct{})
	m.mu.Unlock()

	for _, ch := range pending {
		ch <- reply{err: reason}
	}
	for s := range subs {
		s.end()
	}
	select {
	case <-m.done:
	default:
		close(m.done)
	}
}

// stopReason returns why the reader stopped.
func (m *Monitor) stopReason() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.readErr == nil {
		return ErrMonitorClosed
	}
	return m.readErr
}

// Events returns a channel of the QMP events that arrive from now on, until
// ctx is done or the connection ends; then the channel is closed. Each call
// makes an independent subscription with its own queue: a subscriber that
// falls more than a few thousand events behind loses the oldest ones, and
// never delays anyone else. It may be called before Connect. It implements
// qmp.Monitor.
func (m *Monitor) Events(ctx context.Context) (<-chan qmp.Event, error) {
	s := &subscription{notify: make(chan struct{}, 1), log: m.log}
	out := make(chan qmp.Event)
	m.mu.Lock()
	if m.readErr != nil {
		m.mu.Unlock()
		return nil, fmt.Errorf("qemu: qmp events: %w", ErrMonitorClosed)
	}
	m.subs[s] = struct{}{}
	m.mu.Unlock()
	go func() {
		defer close(out)
		defer m.unsubscribe(s)
		s.pump(ctx, out)
	}()
	return out, nil
}

// dispatch queues an event for every subscriber, without waiting.
func (m *Monitor) dispatch(ev qmp.Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for s := range m.subs {
		s.push(ev)
	}
}

func (m *Monitor) unsubscribe(s *subscription) {
	m.mu.Lock()
	delete(m.subs, s)
	m.mu.Unlock()
}

// subscription is one Events channel's queue.
type subscription struct {
	notify chan struct{}
	log    *slog.Logger

	mu      sync.Mutex
	queue   []qmp.Event
	ended   bool
	dropped int
}

func (s *subscription) push(ev qmp.Event) {
	s.mu.Lock()
	if len(s.queue) >= eventQueueLimit {
		s.queue = s.queue[1:]
		s.dropped++
		if s.dropped == 1 || s.dropped%1000 == 0 {
			s.log.Warn("qmp: event subscriber too slow, dropping events", "dropped", s.dropped)
		}
	}
	s.queue = append(s.queue, ev)
	s.mu.Unlock()
	s.wake()
}

func (s *subscription) end() {
	s.mu.Lock()
	s.ended = true
	s.mu.Unlock()
	s.wake()
}

func (s *subscription) wake() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// pump delivers queued events in order until ctx is done, or the
// subscription has ended and its queue is empty.
func (s *subscription) pump(ctx context.Context, out chan<- qmp.Event) {
	for {
		s.mu.Lock()
		batch := s.queue
		s.queue = nil
		ended := s.ended
		s.mu.Unlock()
		for _, ev := range batch {
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
		if ended && len(batch) == 0 {
			return
		}
		if len(batch) > 0 {
			continue
		}
		select {
		case <-s.notify:
		case <-ctx.Done():
			return
		}
	}
}

// truncate shortens s to at most n bytes for logs and messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
