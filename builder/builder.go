// Package builder runs a project's build command: it starts it in its own
// process group, streams its output line by line, and, when a newer change
// makes the build stale, stops the whole group (grandchildren included).
// Under a supervisor (see RunSupervisor) the whole build also dies with the
// process that started it, however that ends. It knows nothing about QEMU
// or what the build produces.
package builder

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultGrace is the time a canceled build gets between SIGTERM and SIGKILL
// when Builder.Grace is not set.
const DefaultGrace = 2 * time.Second

// MaxLine is the longest line delivered whole; longer lines are split into
// pieces of MaxLine bytes.
const MaxLine = 64 << 10

// Stream names for Line.Stream.
const (
	// Stdout names the command's standard output.
	Stdout = "stdout"
	// Stderr names the command's standard error.
	Stderr = "stderr"
)

// Builder runs one build command. A Builder holds settings, and after
// Prestart a supervisor waiting for the next build: Run may be called again
// (and from several goroutines), each call running the command afresh.
type Builder struct {
	// Command is run as `sh -c Command`. An empty Command is no build step:
	// Run succeeds at once without starting anything.
	Command string
	// Dir is the working directory; empty means the current one.
	Dir string
	// Env holds KEY=VALUE entries added to os.Environ(); later entries
	// win over earlier ones and over the inherited environment.
	Env []string
	// Grace is how long a canceled build has between SIGTERM and SIGKILL;
	// zero or negative means DefaultGrace.
	Grace time.Duration
	// Supervisor is the executable that runs the build supervisor when
	// started with SupervisorArg (cmd/ukdev: SelfExe; see RunSupervisor):
	// with it, the whole build dies with the calling process however that
	// ends. Empty starts `sh -c Command` directly, which only Pdeathsig
	// ties to the caller: a SIGKILL of the caller then leaves the shell's
	// children running.
	Supervisor string

	// prestart holds the supervisor started ahead of time; nil without
	// Prestart.
	prestart *prestarter
}

// Line is one line of build output, without its line ending.
type Line struct {
	// Stream is Stdout or Stderr.
	Stream string
	// Text is the line without "\n" or "\r\n"; the bytes are as the build
	// wrote them, not necessarily valid UTF-8.
	Text string
}

// Result is how a build ended.
type Result struct {
	// ExitCode is the command's exit status, or -1 if it did not exit
	// normally (killed by a signal, or never started).
	ExitCode int
	// Duration is the wall time from start to the end of Run.
	Duration time.Duration
	// Canceled says ctx was canceled (a newer change arrived) before the
	// build ended; the whole process group was then killed.
	Canceled bool
	// Err says why the build could not run or did not exit normally: it
	// could not start, it was killed by a signal, or it was canceled (then
	// Err wraps the context's error). A non-zero exit alone is not an Err.
	Err error
}

// OK reports whether the build ran to completion and exited 0.
func (r Result) OK() bool { return r.Err == nil && !r.Canceled && r.ExitCode == 0 }

// Run runs the command and returns when it has ended, every process left in
// its group after a cancel has been killed, and all its output has been
// delivered.
//
// The command runs in a new process group. With a Supervisor, every
// process of the build is killed when the caller dies, however it dies;
// without one, only the shell gets SIGKILL, and only if the thread that
// started it dies. When ctx is canceled, the group gets SIGTERM,
// and SIGKILL once Grace has passed, whether or not the command itself has
// exited by then, so a grandchild that ignores SIGTERM dies too. When the
// command exits on its own but something it left behind keeps its output
// open, Run waits Grace for the output to close, then kills the group; a
// process that left the group (setsid) and holds the output is cut off.
//
// out receives every line of output. Calls to out come from goroutines Run
// starts, one at a time (never concurrently), and never after Run returns;
// the lines of each stream arrive in order, and the two streams interleave
// in the order their lines were read. A slow out slows the build down (its
// pipe fills) rather than losing lines. out may be nil.
func (b *Builder) Run(ctx context.Context, out func(Line)) Result {
	start := time.Now()
	if b.Command == "" {
		return Result{Duration: time.Since(start)}
	}
	grace := b.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	if out == nil {
		out = func(Line) {}
	}
	if err := ctx.Err(); err != nil {
		return Result{ExitCode: -1, Canceled: true, Err: fmt.Errorf("builder: run: %w", err), Duration: time.Since(start)}
	}

	if err := checkDir(b.Dir); err != nil {
		return failed(start, fmt.Errorf("builder: %w", err))
	}

	proc, err := b.start()
	if err != nil {
		if derr := checkDir(b.Dir); derr != nil {
			// Removed since the check: the start error would blame the
			// executable ("fork/exec /usr/bin/sh: no such file").
			err = derr
		}
		return failed(start, fmt.Errorf("builder: start %q: %w", b.Command, err))
	}
	defer closeAll(proc.lifeW)
	defer b.prestart.refillLater(b)
	cmd, outR, errR := proc.cmd, proc.outR, proc.errR
	pgid := cmd.Process.Pid

	var mu sync.Mutex
	deliver := func(l Line) {
		mu.Lock()
		defer mu.Unlock()
		out(l)
	}
	var readers sync.WaitGroup
	readers.Add(2)
	go readLines(outR, Stdout, deliver, &readers)
	go readLines(errR, Stderr, deliver, &readers)
	outputDone := make(chan struct{})
	go func() {
		readers.Wait()
		close(outputDone)
	}()

	// Wait for the exit without reaping, so that the group's id cannot be
	// reused while it may still be signalled: the unreaped leader holds it.
	exited := make(chan error, 1)
	go func() { exited <- waitExit(pgid) }()

	canceled := false
	var waitErr error
	select {
	case waitErr = <-exited:
		// Leftovers still holding the output get Grace to finish.
		if !waitFor(outputDone, grace) {
			killGroup(pgid, unix.SIGKILL)
		}
	case <-ctx.Done():
		canceled = true
		waitErr = stopGroup(pgid, grace, exited, outputDone)
	}
	// A process that left the group cannot be signalled: stop reading its
	// output rather than wait for it forever.
	if !waitFor(outputDone, grace) {
		closeAll(outR, errR)
		<-outputDone
	}
	closeAll(outR, errR)
	_ = cmd.Wait() // reaps the leader; its status comes from ProcessState

	res := Result{ExitCode: -1, Canceled: canceled}
	switch {
	case waitErr != nil:
		res.Err = fmt.Errorf("builder: wait: %w", waitErr)
	case canceled:
		res.Err = fmt.Errorf("builder: canceled: %w", context.Cause(ctx))
	}
	if st := cmd.ProcessState; st != nil {
		res.ExitCode = st.ExitCode()
		if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() && res.Err == nil {
			res.Err = fmt.Errorf("builder: %q: %w", b.Command, &SignalError{Signal: ws.Signal()})
		}
	}
	res.Duration = time.Since(start)
	return res
}

// DirError says the build did not start because its directory (Builder.Dir)
// does not exist or is not a directory. Err is the cause (wrapping
// fs.ErrNotExist when it is missing).
type DirError struct {
	Dir string
	Err error
}

// ErrNotDir is DirError.Err for a Dir that exists but is not a directory.
var ErrNotDir = errors.New("not a directory")

// Error says what is wrong with the directory.
func (e *DirError) Error() string {
	if errors.Is(e.Err, fs.ErrNotExist) {
		return "build directory " + e.Dir + " does not exist"
	}
	return "build directory " + e.Dir + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *DirError) Unwrap() error { return e.Err }

// checkDir returns a *DirError when dir (empty: the current directory) is
// not a directory that exists.
func checkDir(dir string) error {
	if dir == "" {
		return nil
	}
	fi, err := os.Stat(dir)
	switch {
	case err != nil:
		return &DirError{Dir: dir, Err: err}
	case !fi.IsDir():
		return &DirError{Dir: dir, Err: ErrNotDir}
	}
	return nil
}

// buildProc is a started build: its process (the shell, or the supervisor
// leading the build's group), the read ends of its output, and the
// lifeline's write end (nil without a supervisor), which the caller keeps
// open until the build has ended.
type buildProc struct {
	cmd        *exec.Cmd
	outR, errR *os.File
	lifeW      *os.File
}

// start starts the build: with the supervisor started ahead of time when
// there is one (see Prestart), else afresh.
func (b *Builder) start() (*buildProc, error) {
	if s := b.prestart.take(); s != nil {
		if err := s.launch(b.Dir); err == nil {
			return s.proc, nil
		}
		// The spare died: start afresh.
		s.discard()
	}
	proc, _, err := b.spawn(false)
	return proc, err
}

// spawn starts `sh -c Command`, or the supervisor when b has one. With
// waitGo (a spare, see Prestart) the supervisor starts in ukdev's working
// directory and waits for the go pipe, whose write end spawn returns.
func (b *Builder) spawn(waitGo bool) (proc *buildProc, goW *os.File, err error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, nil, fmt.Errorf("pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		closeAll(outR, outW)
		return nil, nil, fmt.Errorf("pipe: %w", err)
	}
	// The child's ends: closed here once it has them (or failed to start).
	var childEnds []*os.File
	defer func() { closeAll(childEnds...) }()
	childEnds = append(childEnds, outW, errW)

	proc = &buildProc{outR: outR, errR: errR}
	cmd := exec.Command("sh", "-c", b.Command)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Dir = b.Dir
	if b.Supervisor != "" {
		lifeR, lifeW, err := os.Pipe() // close-on-exec: only this process holds lifeW
		if err != nil {
			closeAll(outR, errR)
			return nil, nil, fmt.Errorf("pipe: %w", err)
		}
		childEnds = append(childEnds, lifeR)
		proc.lifeW = lifeW
		mode := modeNow
		if waitGo {
			mode = modeSpare
		}
		cmd = exec.Command(b.Supervisor, SupervisorArg, mode, b.Command)
		cmd.Args[0] = "ukdev" // not "/proc/self/exe" in ps
		cmd.ExtraFiles = []*os.File{lifeR}
		// No Pdeathsig: it would kill the supervisor when the thread that
		// started it ends, leaving the build without its watch.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Dir = b.Dir
		if waitGo {
			goR, w, err := os.Pipe()
			if err != nil {
				closeAll(outR, errR, lifeW)
				return nil, nil, fmt.Errorf("pipe: %w", err)
			}
			childEnds = append(childEnds, goR)
			goW = w
			cmd.ExtraFiles = append(cmd.ExtraFiles, goR)
			// The directory is entered at go: it may be gone or
			// replaced by then.
			cmd.Dir = ""
		}
	}
	cmd.Env = append(os.Environ(), b.Env...)
	cmd.Stdin = nil // /dev/null: a build must not read the terminal ukdev draws on
	cmd.Stdout = outW
	cmd.Stderr = errW
	if err := cmd.Start(); err != nil {
		closeAll(outR, errR, proc.lifeW, goW)
		return nil, nil, err
	}
	// Only the children hold the write ends now: the readers see EOF once
	// every process that inherited them has exited or closed them.
	proc.cmd = cmd
	return proc, goW, nil
}

// SignalError says the build command was killed by a signal it did not get
// from Run.
type SignalError struct {
	Signal syscall.Signal
}

// Error names the signal.
func (e *SignalError) Error() string { return "killed by signal: " + e.Signal.String() }

// failed is the Result of a build that could not start.
func failed(start time.Time, err error) Result {
	return Result{ExitCode: -1, Err: err, Duration: time.Since(start)}
}

// waitExit blocks until the process pid has exited, leaving it unreaped.
func waitExit(pid int) error {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// stopGroup stops a canceled build: SIGTERM to the group, then, once the
// leader has exited and the output has closed or grace has passed,
// SIGKILL to whatever is left in the group (a grandchild that ignores
// SIGTERM, or one that outlived the shell). It returns the leader's wait
// error once the leader has exited.
func stopGroup(pgid int, grace time.Duration, exited <-chan error, outputDone <-chan struct{}) error {
	killGroup(pgid, unix.SIGTERM)
	deadline := time.NewTimer(grace)
	defer deadline.Stop()
	var waitErr error
	leaderDone, outputClosed := false, false
	for !leaderDone || !outputClosed {
		select {
		case waitErr = <-exited:
			leaderDone, exited = true, nil
		case <-outputDone:
			outputClosed, outputDone = true, nil
		case <-deadline.C:
			killGroup(pgid, unix.SIGKILL)
			if !leaderDone {
				waitErr = <-exited
			}
			return waitErr
		}
	}
	killGroup(pgid, unix.SIGKILL)
	return waitErr
}

// waitFor reports whether done closes within d.
func waitFor(done <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// killGroup signals every process in the group. ESRCH (the group is gone)
// is expected and ignored; nothing else can fail for our own child's group.
func killGroup(pgid int, sig unix.Signal) {
	_ = unix.Kill(-pgid, sig)
}

// closeAll closes files, ignoring errors: they are pipe ends whose close
// cannot lose data.
func closeAll(files ...*os.File) {
	for _, f := range files {
		if f != nil {
			_ = f.Close()
		}
	}
}

// readLines delivers the lines read from r until EOF or a read error (the
// pipe was closed by Run).
func readLines(r io.Reader, stream string, deliver func(Line), wg *sync.WaitGroup) {
	defer wg.Done()
	br := bufio.NewReaderSize(r, MaxLine)
	for {
		chunk, err := br.ReadSlice('\n')
		switch {
		case err == nil:
			chunk = bytes.TrimSuffix(chunk[:len(chunk)-1], []byte("\r"))
			deliver(Line{Stream: stream, Text: string(chunk)})
		case errors.Is(err, bufio.ErrBufferFull):
			deliver(Line{Stream: stream, Text: string(chunk)})
		default:
			if len(chunk) > 0 {
				deliver(Line{Stream: stream, Text: string(bytes.TrimSuffix(chunk, []byte("\r")))})
			}
			return
		}
	}
}
