// Package lines runs the external tools of the command and ops deploy
// targets: in their own process group, which a cancel kills whole, with
// their output streamed line by line as it comes.
package lines

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Stream says which output a line came from.
type Stream string

// The streams of a process.
const (
	Stdout Stream = "stdout"
	Stderr Stream = "stderr"
)

// Grace is how long a cancelled process group has between SIGTERM and
// SIGKILL.
const Grace = 3 * time.Second

// Cmd is one process to run.
type Cmd struct {
	// Argv is the program and its arguments; the program is looked up in
	// PATH.
	Argv []string
	// Dir is the working directory.
	Dir string
	// Env is the whole environment (os.Environ() plus additions).
	Env []string
}

// Run runs c and calls line for every line of its output, from one
// goroutine at a time, without the line's end. When ctx ends, the whole
// process group gets SIGTERM, then SIGKILL after Grace; Run always waits
// for the process, and leaves none of the group behind. A process that
// fails returns an *exec.ExitError (wrapped).
func Run(ctx context.Context, c Cmd, line func(Stream, string)) error {
	if len(c.Argv) == 0 {
		return errors.New("lines: run: no program")
	}
	cmd := exec.CommandContext(ctx, c.Argv[0], c.Argv[1:]...)
	cmd.Dir, cmd.Env = c.Dir, c.Env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error {
		// The group: a shell's children get it too.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	}
	cmd.WaitDelay = Grace
	// Pipes of our own rather than StdoutPipe: Wait then returns when the
	// process does, even while a background child still holds the
	// output, which the kill below ends.
	outR, outW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("lines: run %s: %w", c.Argv[0], err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return fmt.Errorf("lines: run %s: %w", c.Argv[0], err)
	}
	defer outR.Close()
	defer errR.Close()
	cmd.Stdout, cmd.Stderr = outW, errW
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		return fmt.Errorf("lines: run %s: %w", c.Argv[0], err)
	}
	pgid := cmd.Process.Pid
	var mu sync.Mutex
	var wg sync.WaitGroup
	read := func(r io.Reader, s Stream) {
		defer wg.Done()
		br := bufio.NewReader(r)
		for {
			text, err := br.ReadString('\n')
			if text != "" {
				mu.Lock()
				line(s, strings.TrimRight(text, "\r\n"))
				mu.Unlock()
			}
			if err != nil {
				return
			}
		}
	}
	wg.Add(2)
	go read(outR, Stdout)
	go read(errR, Stderr)
	err = cmd.Wait()
	// Whatever the group left running (a cancelled shell's children, a
	// background job) goes with it.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	// The output's last lines; a process that left the group and kept
	// the output open is not waited for.
	drained := make(chan struct{})
	go func() { wg.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(Grace):
		outR.Close()
		errR.Close()
		<-drained
	}
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("lines: %w", ctx.Err())
		}
		return fmt.Errorf("lines: %w", err)
	}
	return nil
}
