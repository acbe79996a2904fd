package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/creack/pty"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/internal/procfs"
	"github.com/ukdev/ukdev/tui/panel"
)

const (
	// floodTargetMB is the most resident memory ukdev may keep once a
	// build flood is over, in MB (10^6 bytes).
	floodTargetMB = 150
	// floodTimeout bounds a whole flood run, build and draining included.
	floodTimeout = 15 * time.Minute
	// idleTicks is the CPU time, in clock ticks (1/100 s), under which a
	// second of ukdev counts as idle (taking in output keeps a core busy):
	// the dashboard redraws and samples once a second even then, which
	// costs more when its panels hold huge lines.
	idleTicks = 20
)

// floodOptions says what the build flood feeds ukdev.
type floodOptions struct {
	ukdev   string
	total   int64 // bytes of build output
	lineLen int   // bytes per line, newline included
	verbose bool
}

// floodResult is ukdev's memory in one mode after a flood.
type floodResult struct {
	mode          string
	elapsed       time.Duration // start → idle after the build
	rssKB, peakKB int64
}

// runFlood builds a project whose build prints o.total bytes in lines of
// o.lineLen bytes, under `ukdev dev --json` read by the bench (headless)
// and under the dashboard on a pty, and prints ukdev's resident memory
// once it is idle after the build, beside the target, and its peak.
func runFlood(w io.Writer, o floodOptions) error {
	if o.lineLen < 2 || o.total < int64(o.lineLen) {
		return fmt.Errorf("bench: -flood-line must be at least 2 and -flood-bytes at least a line, got %d and %d", o.lineLen, o.total)
	}
	ws, err := newWorkspace(o.ukdev, "ukflood")
	if err != nil {
		return err
	}
	defer ws.remove()
	dir := filepath.Join(ws.tmp, "project")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	// The build prints the flood and no kernel: ukdev says the image is
	// missing and keeps watching, with no VM to measure beside it.
	script := fmt.Sprintf("yes \"$(head -c %d /dev/zero | tr '\\0' x)\" | head -c %d\n", o.lineLen-1, o.total)
	config := "flavor = \"elf\"\nbuild.command = \"sh flood.sh\"\nkernel.image = \"kernel.elf\"\n"
	for name, data := range map[string]string{"flood.sh": script, "ukdev.toml": config} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
	}
	env := ws.env()

	var results []floodResult
	for _, mode := range []string{"headless", "dashboard"} {
		var r floodResult
		var err error
		if mode == "headless" {
			r, err = floodHeadless(ws.ukdev, dir, env, o.verbose)
		} else {
			r, err = floodDashboard(ws.ukdev, dir, env, o.verbose)
		}
		if err != nil {
			return err
		}
		results = append(results, r)
	}

	fmt.Fprintf(w, "\nbuild flood: %s of build output in lines of %s, ukdev's resident memory once idle after the build\n",
		panel.FormatBytes(float64(o.total)), panel.FormatBytes(float64(o.lineLen)))
	fmt.Fprintf(w, "  %-34s %10s %10s %9s\n", "mode", "RSS MB", "peak MB", "time s")
	for _, r := range results {
		fmt.Fprintf(w, "  %-34s %10.1f %10.1f %9.1f\n", r.mode, mb(r.rssKB), mb(r.peakKB), r.elapsed.Seconds())
	}
	for _, r := range results {
		addTarget(w, fmt.Sprintf("RSS ≤ %d MB once idle after the build flood, %s", floodTargetMB, r.mode),
			fmt.Sprintf("%.1f MB", mb(r.rssKB)), mb(r.rssKB) <= floodTargetMB)
	}
	return nil
}

// floodHeadless runs `ukdev dev --json`, reads its events as fast as it
// can until the build is done, and measures ukdev once it is idle.
func floodHeadless(ukdev, dir string, env []string, verbose bool) (floodResult, error) {
	r := floodResult{mode: "headless (dev --json, read at once)"}
	cmd := exec.Command(ukdev, "dev", "--json")
	cmd.Dir, cmd.Env = dir, env
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return r, fmt.Errorf("bench: start ukdev: %w", err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return r, fmt.Errorf("bench: start ukdev: %w", err)
	}
	defer stopFlood(cmd)
	done := make(chan error, 1)
	// The lines are matched on their "type", not decoded: a flood has
	// millions of them.
	buildOutput := []byte(`"type":"` + string(devloop.TypeBuildOutput) + `"`)
	buildDone := []byte(`"type":"` + string(devloop.TypeBuildDone) + `"`)
	go func() {
		br := bufio.NewReaderSize(stdout, 1<<20)
		signalled := false
		for {
			line, err := br.ReadSlice('\n')
			if errors.Is(err, bufio.ErrBufferFull) {
				continue // the rest of a long build line
			}
			if err != nil {
				if !signalled {
					done <- fmt.Errorf("bench: ukdev ended before its build did\n%s", stderr.String())
				}
				return
			}
			head := line[:min(len(line), 200)]
			if verbose && !bytes.Contains(head, buildOutput) {
				os.Stderr.Write(line)
			}
			if !signalled && bytes.Contains(head, buildDone) {
				signalled = true
				done <- nil
			}
		}
	}()
	select {
	case err := <-done:
		if err != nil {
			return r, err
		}
	case <-time.After(floodTimeout):
		return r, fmt.Errorf("bench: no build.done within %s", floodTimeout)
	}
	return measureIdle(r, cmd.Process.Pid, start)
}

// floodDashboard runs `ukdev dev` on a 140×45 pty with colour, discards
// what it draws, waits for the build to end (no child process left) and
// measures ukdev once it is idle, that is once the dashboard has taken in
// every line.
func floodDashboard(ukdev, dir string, env []string, verbose bool) (floodResult, error) {
	r := floodResult{mode: "dashboard (140×45 pty)"}
	cmd := exec.Command(ukdev, "dev")
	cmd.Dir = dir
	cmd.Env = append(env, "TERM=xterm-256color", "NO_COLOR=")
	start := time.Now()
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 45, Cols: 140})
	if err != nil {
		return r, fmt.Errorf("bench: start ukdev on a pty: %w", err)
	}
	defer ptmx.Close()
	defer stopFlood(cmd)
	go func() {
		dst := io.Discard
		if verbose {
			dst = os.Stderr
		}
		_, _ = io.Copy(dst, ptmx)
	}()
	pid := cmd.Process.Pid
	deadline := time.Now().Add(floodTimeout)
	seen := false
	for {
		// ukdev keeps the next build's supervisor waiting as a child: a
		// build runs while one of its children has children of its own.
		kids := grandchildren(pid)
		seen = seen || kids > 0
		if seen && kids == 0 {
			break
		}
		if !seen && time.Since(start) > waitTimeout {
			return r, fmt.Errorf("bench: the dashboard started no build within %s", waitTimeout)
		}
		if time.Now().After(deadline) {
			return r, fmt.Errorf("bench: the build did not end within %s", floodTimeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return measureIdle(r, pid, start)
}

// measureIdle waits until pid has been idle for a second and reads its
// resident memory and peak.
func measureIdle(r floodResult, pid int, start time.Time) (floodResult, error) {
	deadline := time.Now().Add(floodTimeout)
	last, err := procfs.Stat(pid)
	if err != nil {
		return r, fmt.Errorf("bench: %w", err)
	}
	for {
		time.Sleep(time.Second)
		now, err := procfs.Stat(pid)
		if err != nil {
			return r, fmt.Errorf("bench: %w", err)
		}
		if now.CPUTicks-last.CPUTicks <= idleTicks {
			break
		}
		last = now
		if time.Now().After(deadline) {
			return r, fmt.Errorf("bench: ukdev still busy %s after the flood began", floodTimeout)
		}
	}
	r.elapsed = time.Since(start)
	if r.rssKB, r.peakKB, err = procfs.Memory(pid); err != nil {
		return r, fmt.Errorf("bench: %w", err)
	}
	return r, nil
}

// stopFlood ends ukdev with SIGTERM, then SIGKILL, and reaps it.
func stopFlood(cmd *exec.Cmd) {
	if cmd.ProcessState != nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(stopTimeout):
		_ = cmd.Process.Kill()
		<-done
	}
}

// grandchildren counts the children of pid's children.
func grandchildren(pid int) int {
	n := 0
	for _, kid := range procfs.Children(pid) {
		n += len(procfs.Children(kid))
	}
	return n
}

// mb converts KiB to MB (10^6 bytes), the unit of the target.
func mb(kib int64) float64 { return float64(kib) * 1024 / 1e6 }
