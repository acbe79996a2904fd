package devloop

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/ukdev/ukdev/flavor"
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/vm"
)

// GDBBinary is the debugger a GDBSession runs.
const GDBBinary = "gdb"

// ErrNoDebugger is returned by OpenGDB when the project's flavor cannot
// tell gdb what to load (it is no flavor.Debugger).
var ErrNoDebugger = errors.New("devloop: this flavor does not support gdb")

// GDBSession is how to attach gdb to a VM: the address of QEMU's gdb stub
// and the gdb command line that loads the flavor's debug file, sets the
// architecture and the address layout, and connects.
type GDBSession struct {
	// Address is the stub's address as gdb's `target remote` takes it: a
	// unix socket path (in the private runtime dir) or 127.0.0.1:<port>.
	Address string
	// Args is the full gdb command line, "gdb" first, runnable as it is;
	// more arguments (-batch, -ex ...) may be appended.
	Args []string
	// Note says what gdb will not see right (flavor.DebugTarget.Note);
	// empty when nothing.
	Note string
}

// CommandLine returns Args as one shell command line, each word quoted
// where the shell would otherwise split or expand it.
func (s GDBSession) CommandLine() string { return ShellJoin(s.Args) }

// ShellJoin quotes words for a POSIX shell and joins them with spaces: a
// word of only safe characters stays as it is, any other is put in single
// quotes.
func ShellJoin(words []string) string {
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = shellQuote(w)
	}
	return strings.Join(quoted, " ")
}

func shellQuote(w string) string {
	if w != "" && strings.Trim(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-") == "" {
		return w
	}
	return "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
}

// gdbArgs is the gdb command line for target, connecting to address (a
// `target remote` address): the architecture first (before the stub's
// registers are read), the symbols at their offset, the flavor's
// commands, then the connection.
func gdbArgs(t flavor.DebugTarget, address string) []string {
	return append(gdbLoadArgs(t), "-ex", "target remote "+address)
}

// gdbLoadArgs is the start of every gdb command line for target: gdb,
// the architecture, the symbols at their offset and the flavor's
// commands; what gdb debugs (a stub, a core) follows.
func gdbLoadArgs(t flavor.DebugTarget) []string {
	args := []string{GDBBinary, "-q"}
	if t.Arch != "" {
		args = append(args, "-ex", "set architecture "+t.Arch)
	}
	switch {
	case t.File == "":
	case t.Offset == 0:
		// gdb loads its file argument before running any -ex command.
		args = append(args, t.File)
	default:
		args = append(args, "-ex", fmt.Sprintf("symbol-file -o %#x %s", t.Offset, gdbQuote(t.File)))
	}
	for _, c := range t.Commands {
		args = append(args, "-ex", c)
	}
	return args
}

// gdbQuote quotes a file name inside a gdb command, as gdb's argument
// splitter reads it.
func gdbQuote(s string) string {
	if !strings.ContainsAny(s, " \t\"'\\") {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// gdbStub is what OpenGDB needs of the live boot: its machine, its image
// and the stub it has open.
type gdbStub struct {
	m           vm.Machine
	boot, build int
	img         image.Image
	addr        string // the open stub, in vm.Spec.GDB's form; "" when none
}

// gdbState guards the live boot's stub: OpenGDB runs on any goroutine.
type gdbState struct {
	mu   sync.Mutex
	live *gdbStub
}

// setGDBStub records the boot whose stub OpenGDB opens.
func (l *Loop) setGDBStub(s *gdbStub) {
	l.gdb.mu.Lock()
	defer l.gdb.mu.Unlock()
	l.gdb.live = s
}

// gdbSocket is the path of boot n's gdb stub socket, in the private
// runtime dir: only the user reaches it.
func (l *Loop) gdbSocket(n int) string {
	return filepath.Join(l.runDir, fmt.Sprintf("gdb-%d.sock", n))
}

// OpenGDB opens QEMU's gdb stub on the live VM (running, or frozen after
// a crash) and returns how to attach gdb to it: on a unix socket in the
// private runtime dir, or with tcp on a free 127.0.0.1 port. A stub the
// boot already has of the same kind is reused, so that a second call
// does not drop a debugger attached to the first. The VM runs on until
// gdb attaches, which stops it. It reports the stub as a vm.gdb event,
// and is safe to call from any goroutine; it blocks for the round trips.
func (l *Loop) OpenGDB(ctx context.Context, tcp bool) (GDBSession, error) {
	l.gdb.mu.Lock()
	defer l.gdb.mu.Unlock()
	s := l.gdb.live
	if s == nil || s.m != l.live() {
		return GDBSession{}, ErrNoVM
	}
	target, err := l.debugTarget(s.img)
	if err != nil {
		return GDBSession{}, err
	}
	if s.addr == "" || strings.HasPrefix(s.addr, "tcp:") != tcp {
		addr := "unix:" + l.gdbSocket(s.boot)
		if tcp {
			if addr, err = freeLoopbackPort(); err != nil {
				return GDBSession{}, fmt.Errorf("devloop: open gdb stub: %w", err)
			}
		}
		if err := s.m.GDBServer(ctx, addr); err != nil {
			// The old stub is closed before the new one opens.
			s.addr = ""
			return GDBSession{}, fmt.Errorf("devloop: open gdb stub on boot #%d: %w", s.boot, l.unsupported(err, "a gdb stub"))
		}
		s.addr = addr
	}
	gs := newGDBSession(target, s.addr)
	l.emit(gdbEvent(s.boot, s.build, gs, fmt.Sprintf("gdb stub open on boot #%d at %s; attach with: %s", s.boot, gs.Address, gs.CommandLine())))
	return gs, nil
}

// debugTarget asks the flavor what gdb loads for img.
func (l *Loop) debugTarget(img image.Image) (flavor.DebugTarget, error) {
	d, ok := l.flavor.(flavor.Debugger)
	if !ok {
		return flavor.DebugTarget{}, fmt.Errorf("%w (%s)", ErrNoDebugger, l.cfg.Flavor)
	}
	t, err := d.DebugTarget(l.cfg, img)
	if err != nil {
		return flavor.DebugTarget{}, fmt.Errorf("devloop: gdb: %w", err)
	}
	return t, nil
}

// newGDBSession is the session for target on the stub at addr (vm.Spec.GDB's
// form).
func newGDBSession(target flavor.DebugTarget, addr string) GDBSession {
	remote := strings.TrimPrefix(strings.TrimPrefix(addr, "unix:"), "tcp:")
	return GDBSession{Address: remote, Args: gdbArgs(target, remote), Note: target.Note}
}

// gdbEvent reports a gdb stub open on a boot; the message ends with what
// gdb will not see right, if anything.
func gdbEvent(boot, build int, s GDBSession, msg string) Event {
	if s.Note != "" {
		msg += " (note: " + s.Note + ")"
	}
	return Event{Type: TypeVMGDB, Boot: boot, Build: build, Address: s.Address, Command: s.CommandLine(),
		Args: s.Args, Detail: s.Note, Message: msg}
}

// freeLoopbackPort returns "tcp:127.0.0.1:<port>" for a port that was
// free a moment ago. QEMU binds it next; if something took it in
// between, GDBServer says so.
func freeLoopbackPort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		return "", err
	}
	return "tcp:127.0.0.1:" + strconv.Itoa(port), nil
}

// waitForGDB reports boot b, started with its stub open and its guest
// paused (Options.GDB), as waiting for the debugger: gdb's continue
// starts the guest. A flavor without a debug target still gets the
// stub, and the event says why gdb has no symbols.
func (l *Loop) waitForGDB(b *bootState, addr string) {
	target, err := l.debugTarget(b.img)
	if err != nil {
		l.errorf("boot #%d: %v", b.n, err)
		target = flavor.DebugTarget{Arch: flavor.ArchX86_64}
	}
	gs := newGDBSession(target, addr)
	l.emit(gdbEvent(b.n, b.build, gs, fmt.Sprintf("boot #%d paused at its first instruction, waiting for gdb at %s: %s", b.n, gs.Address, gs.CommandLine())))
}
