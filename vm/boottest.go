package vm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ukdev/ukdev/image"
)

// DefaultBootTestTimeout bounds a boot test whose options set none: a
// Linux kernel loaded through BIOS disk calls under TCG takes tens of
// seconds on a slow host.
const DefaultBootTestTimeout = 3 * time.Minute

// BootTestOptions say how to boot a disk for its test.
type BootTestOptions struct {
	// Disk is the disk to boot, with the machine whose firmware boots it
	// and the lines its loader prints.
	Disk image.Disk
	// QEMU is the machine binary; empty means the backend's default.
	QEMU string
	// Accel is the accelerator; nil means the backend's probe picks it.
	Accel *Accel
	// MemoryMiB is the guest's memory; zero means DefaultMemoryMiB.
	MemoryMiB int
	// RuntimeDir is a private directory for the machine's control socket
	// (a random name of 17 bytes, removed afterwards);
	// empty means a new temporary directory, removed afterwards.
	RuntimeDir string
	// Timeout bounds the wait for the guest's first line; zero means
	// DefaultBootTestTimeout.
	Timeout time.Duration
	// Console, when set, receives the raw console bytes.
	Console io.Writer
}

// BootTestResult is what a successful boot test saw.
type BootTestResult struct {
	// FirstLine is the guest's first console line, escape sequences
	// removed.
	FirstLine string
	// Accel is the accelerator the disk booted under.
	Accel Accel
	// Elapsed is the time from starting the machine to the first line.
	Elapsed time.Duration
}

// The reasons a boot test fails, wrapped in a *BootTestError.
var (
	// ErrBootTimeout: the guest printed no line before the deadline.
	ErrBootTimeout = errors.New("no console line from the guest in time")
	// ErrLoaderFailed: the disk's boot loader said it could not start the
	// kernel.
	ErrLoaderFailed = errors.New("the boot loader could not start the kernel")
	// ErrBootEnded: the machine stopped, reset or crashed before the
	// guest printed a line.
	ErrBootEnded = errors.New("the machine stopped before the guest printed a line")
)

// BootTestError says why a disk failed its boot test, with the end of
// what its console showed.
type BootTestError struct {
	// Disk is the disk's path.
	Disk string
	// Console is the end of the console output, escape sequences removed.
	Console string
	// Outcome is how the boot ended, when it did (ErrBootEnded).
	Outcome image.Outcome
	// Err is ErrBootTimeout, ErrLoaderFailed, ErrBootEnded, the start
	// error or the context's error.
	Err error
}

// Error implements error.
func (e *BootTestError) Error() string {
	msg := fmt.Sprintf("vm: boot test of %s: %v", e.Disk, e.Err)
	if e.Outcome.Detail != "" {
		msg += " (" + e.Outcome.Detail + ")"
	}
	if last := lastLines(e.Console, 3); last != "" {
		msg += "; the console ended with: " + last
	}
	return msg
}

// Unwrap returns the cause.
func (e *BootTestError) Unwrap() error { return e.Err }

// BootTest boots o.Disk alone, the way a cloud would (the firmware reads
// the disk: no -kernel), and succeeds when the guest's first console line
// appears: the first line after the loader's Handover line, or any line
// when the loader prints none. The loader's LoaderFailed line, the
// machine ending and the deadline fail it with a *BootTestError; ctx
// cancels it. The machine is always stopped before BootTest returns, and
// the disk file is left as it was (Spec.BootDisk). The machine has a
// user-mode network, with no port forwarded.
func BootTest(ctx context.Context, b Backend, o BootTestOptions) (BootTestResult, error) {
	fail := func(err error, console string, out image.Outcome) (BootTestResult, error) {
		return BootTestResult{}, &BootTestError{Disk: o.Disk.Path, Console: console, Outcome: out, Err: err}
	}
	if err := b.Installed(o.QEMU); err != nil {
		return fail(err, "", image.Outcome{})
	}
	accel := b.ProbeAccel(ctx, o.QEMU)
	if o.Accel != nil {
		accel = *o.Accel
	}
	dir := o.RuntimeDir
	if dir == "" {
		d, err := os.MkdirTemp("", "ukdisk")
		if err != nil {
			return fail(err, "", image.Outcome{})
		}
		defer os.RemoveAll(d)
		dir = d
	}
	sock := filepath.Join(dir, fmt.Sprintf("disk-%08x.qmp", rand.Uint32()))
	defer os.Remove(sock)
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultBootTestTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	w := &firstLineWriter{disk: o.Disk, tee: o.Console, done: make(chan struct{})}
	spec := Spec{
		QEMU:      o.QEMU,
		Accel:     accel.Name,
		Machine:   o.Disk.Machine,
		MemoryMiB: o.MemoryMiB,
		QMPSocket: sock,
		BootDisk:  o.Disk.Path,
		// A NIC, as a cloud machine has: a guest configured for one may
		// wait for it before it prints anything.
		Network: true,
	}
	start := time.Now()
	m, err := b.Start(ctx, spec, StartOptions{Console: w})
	if err != nil {
		return fail(err, "", image.Outcome{})
	}
	defer func() {
		// A fresh context: the machine is stopped even when ctx has ended.
		stopCtx, stop := context.WithTimeout(context.Background(), 30*time.Second)
		defer stop()
		_ = m.Stop(stopCtx)
	}()
	select {
	case <-w.done:
		line, failed := w.result()
		if failed {
			return fail(ErrLoaderFailed, w.console(), image.Outcome{})
		}
		return BootTestResult{FirstLine: line, Accel: accel, Elapsed: time.Since(start)}, nil
	case <-m.Ended():
		// A paused guest stays until stopped; once the process is gone
		// every console byte has been seen, the last line included.
		stopCtx, stop := context.WithTimeout(context.Background(), 30*time.Second)
		_ = m.Stop(stopCtx)
		stop()
		<-m.Exited()
		if line, failed := w.result(); line != "" && !failed {
			return BootTestResult{FirstLine: line, Accel: accel, Elapsed: time.Since(start)}, nil
		}
		return fail(ErrBootEnded, w.console(), m.Outcome())
	case <-ctx.Done():
		err := ctx.Err()
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w (%s)", ErrBootTimeout, timeout)
		}
		return fail(err, w.console(), image.Outcome{})
	}
}

// firstLineWriter reads the console for the guest's first line, or the
// loader's failure line.
type firstLineWriter struct {
	disk image.Disk
	tee  io.Writer
	done chan struct{}

	mu       sync.Mutex
	partial  []byte
	tail     []string // the last cleaned lines
	handover bool
	line     string
	failed   bool
	finished bool
}

func (w *firstLineWriter) Write(p []byte) (int, error) {
	if w.tee != nil {
		_, _ = w.tee.Write(p)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexAny(w.partial, "\r\n")
		if i < 0 {
			break
		}
		raw := w.partial[:i]
		w.partial = w.partial[i+1:]
		w.handleLocked(CleanConsoleLine(string(raw)))
	}
	if len(w.partial) > 64<<10 {
		// A line without end: judge what there is.
		w.handleLocked(CleanConsoleLine(string(w.partial)))
		w.partial = w.partial[:0]
	}
	return len(p), nil
}

func (w *firstLineWriter) handleLocked(line string) {
	if line == "" || w.finished {
		return
	}
	w.tail = append(w.tail, line)
	if len(w.tail) > 20 {
		w.tail = w.tail[1:]
	}
	switch {
	case w.disk.LoaderFailed != "" && strings.Contains(line, w.disk.LoaderFailed):
		w.failed = true
	case !w.handover && w.disk.Handover != "":
		w.handover = strings.Contains(line, w.disk.Handover)
		return
	default:
		w.line = line
	}
	w.finished = true
	close(w.done)
}

func (w *firstLineWriter) result() (line string, failed bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.line, w.failed
}

func (w *firstLineWriter) console() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.tail, "\n")
}

// CleanConsoleLine returns a console line without its terminal escape
// sequences (CSI, OSC and two-byte ones) and control characters, trimmed.
func CleanConsoleLine(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == 0x1b && i+1 < len(s) && s[i+1] == '[':
			// CSI: parameters and intermediates, then a final byte.
			i += 2
			for i < len(s) && (s[i] < 0x40 || s[i] > 0x7e) {
				i++
			}
		case c == 0x1b && i+1 < len(s) && s[i+1] == ']':
			// OSC: up to BEL or ST.
			i += 2
			for i < len(s) && s[i] != 0x07 && !(s[i] == 0x1b && i+1 < len(s) && s[i+1] == '\\') {
				i++
			}
			if i < len(s) && s[i] == 0x1b {
				i++
			}
		case c == 0x1b:
			i++ // a two-byte sequence
		case c == '\t':
			b.WriteByte(' ')
		case c < 0x20 || c == 0x7f:
		default:
			b.WriteByte(c)
		}
	}
	return strings.TrimSpace(b.String())
}

// lastLines returns the last n lines of s, joined by " | ".
func lastLines(s string, n int) string {
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " | ")
}
