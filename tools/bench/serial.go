package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/internal/procfs"
	"github.com/ukdev/ukdev/project"
	"github.com/ukdev/ukdev/tui/panel"
	"github.com/ukdev/ukdev/vm"
	"github.com/ukdev/ukdev/vm/qemu"
)

const (
	// serialRSSGrowthMB is the most ukdev's resident memory may grow over
	// a serial flood, start to end, in MB (10^6 bytes).
	serialRSSGrowthMB = 20
	// serialKeyTargetMS is the longest the dashboard may take to show the
	// effect of a key during a serial flood.
	serialKeyTargetMS = 100
	// serialKeyEvery is how often a key is sent to the dashboard during a
	// flood.
	serialKeyEvery = 500 * time.Millisecond
	// serialKeyTimeout bounds the wait for one key's effect; a key that
	// times out counts as that long.
	serialKeyTimeout = 5 * time.Second
	// helpMarker is text the dashboard's help overlay shows and the
	// screen without it does not: ? opens the overlay and ? closes it.
	helpMarker = "previous panel"
)

// The example's flood command (examples/hello/main.c): its bytes are
// every byte after the end of the floodStart line up to the floodEnd line,
// in lines of floodLineLen bytes: an 8-digit line number from 0, then
// floodLineRest.
const (
	floodCommand  = "flood"
	floodStart    = "flood: writing for "
	floodLineLen  = 64
	floodLineRest = " abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0\r\n"
)

// floodEnd matches the flood's last line: the bytes the guest wrote and
// the time it took, by its own clock.
var floodEnd = regexp.MustCompile(`\r\nflood: wrote (\d+) bytes in (\d+)\.(\d) s\r\n`)

// serialOptions says how long the guest floods its console.
type serialOptions struct {
	ukdev, example string
	seconds        int
	verbose        bool
}

// floodCount is what a boot's log file holds of one flood.
type floodCount struct {
	reported     int64         // bytes the guest says it wrote
	guestTime    time.Duration // how long it wrote, by its clock
	logged       int64         // bytes between the start and end lines
	badLines     int           // lines that are not the next line of the flood
	damagedBytes int64         // bytes in those lines
}

// lost is how many bytes the guest wrote that the log file lacks (0 when
// it holds as many or more).
func (c floodCount) lost() int64 { return max(0, c.reported-c.logged) }

// errNoFlood says a log holds no complete flood (yet).
var errNoFlood = errors.New("no complete flood in the log")

// countFlood finds the first complete flood in a boot's log and checks
// it line by line.
func countFlood(log []byte) (floodCount, error) {
	var c floodCount
	i := bytes.Index(log, []byte("\r\n"+floodStart))
	if i < 0 {
		return c, errNoFlood
	}
	j := bytes.Index(log[i+2:], []byte("\r\n"))
	if j < 0 {
		return c, errNoFlood
	}
	// rest starts with the start line's \r\n, which the end line's
	// pattern begins with when the flood is empty.
	rest := log[i+2+j:]
	m := floodEnd.FindSubmatchIndex(rest)
	if m == nil {
		return c, errNoFlood
	}
	body := rest[2 : m[0]+2]
	var err error
	if c.reported, err = strconv.ParseInt(string(rest[m[2]:m[3]]), 10, 64); err != nil {
		return c, fmt.Errorf("bench: flood byte count: %w", err)
	}
	secs, _ := strconv.Atoi(string(rest[m[4]:m[5]]))
	tenths, _ := strconv.Atoi(string(rest[m[6]:m[7]]))
	c.guestTime = time.Duration(secs)*time.Second + time.Duration(tenths)*100*time.Millisecond
	c.logged = int64(len(body))
	next := 0
	for len(body) > 0 {
		n := bytes.Index(body, []byte("\r\n"))
		line := body
		if n >= 0 {
			line = body[:n+2]
		}
		body = body[len(line):]
		want := fmt.Sprintf("%08d", next%100000000) + floodLineRest
		if string(line) != want {
			c.badLines++
			c.damagedBytes += int64(len(line))
			// Resynchronise on the number the line carries, if any.
			if len(line) >= 8 {
				if v, err := strconv.Atoi(string(line[:8])); err == nil {
					next = v
				}
			}
		}
		next++
	}
	return c, nil
}

// rssSampler reads a process's resident memory every second until
// stopped.
type rssSampler struct {
	pid  int
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	kb   []int64
	// The CPU ticks of the first and last samples, and when they were read.
	first, lastAt         time.Time
	firstTicks, lastTicks int64
}

func sampleRSS(pid int) *rssSampler {
	s := &rssSampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	s.sample()
	go func() {
		defer close(s.done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return s
}

func (s *rssSampler) sample() {
	now := time.Now()
	st, serr := procfs.Stat(s.pid)
	rss, _, err := procfs.Memory(s.pid)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		s.kb = append(s.kb, rss)
	}
	if serr == nil {
		if s.first.IsZero() {
			s.first, s.firstTicks = now, st.CPUTicks
		}
		s.lastAt, s.lastTicks = now, st.CPUTicks
	}
}

// cpu is the process's CPU over the samples, in percent of one core.
func (s *rssSampler) cpu() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	secs := s.lastAt.Sub(s.first).Seconds()
	if secs <= 0 {
		return 0
	}
	return float64(s.lastTicks-s.firstTicks) / secs // 100 ticks a second: ticks/s is percent
}

// end takes a last sample, stops the sampler and returns every sample, in
// KiB, one a second.
func (s *rssSampler) end() []int64 {
	close(s.stop)
	<-s.done
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.kb
}

// serialResult is one mode's flood.
type serialResult struct {
	mode  string
	count floodCount
	// wall is the flood's start line → end line as ukdev took them in
	// (headless: the events' times; dashboard: seen in the log file).
	wall                         time.Duration
	rssStart, rssMax, rssEnd     int64     // KiB
	rss                          []int64   // KiB, one a second
	cpuPct                       float64   // ukdev's CPU over the flood, percent of one core
	dropped                      int       // console lines not shown (vm.dropped), headless
	keys                         []float64 // key → effect on screen, ms, dashboard
	pollMS                       float64   // mean time of one screen capture, ms, dashboard
	keyTimeouts                  int
	floodStartedAt, floodEndedAt time.Time // dashboard: the start and end lines seen in the log
	accel, machine               string    // headless: as ukdev booted the VM
}

// runSerial boots the example under `ukdev dev --json` and under the
// dashboard in tmux, makes the guest flood its console for o.seconds each
// time, and prints what the boot's log file holds against what the guest
// wrote, ukdev's resident memory over the flood and, for the dashboard,
// how long a key takes to show on screen during the flood.
func runSerial(w io.Writer, o serialOptions) error {
	if o.seconds < 1 || o.seconds > 3600 {
		return fmt.Errorf("bench: -serial-seconds must be from 1 to 3600, got %d", o.seconds)
	}
	ws, dir, err := serialWorkspace(o, "ukserial")
	if err != nil {
		return err
	}
	defer ws.remove()
	headless, err := serialHeadless(o, ws, dir)
	if err != nil {
		return err
	}
	bare, err := serialBare(o, ws, dir, headless.accel, headless.machine)
	if err != nil {
		return err
	}
	var dashboard serialResult
	tmux, lookErr := exec.LookPath("tmux")
	if lookErr == nil {
		if dashboard, err = serialDashboard(o, tmux); err != nil {
			return err
		}
	}

	fmt.Fprintf(w, "\nserial flood: %s's guest writes its console as fast as it can for %d s\n", o.example, o.seconds)
	fmt.Fprintf(w, "  %-30s %12s %12s %8s %10s %10s %10s %10s %10s %8s\n",
		"mode", "guest wrote", "logged", "lost", "QEMU KB/s", "log KB/s", "RSS start", "RSS max", "RSS end", "ukdev %")
	results := []serialResult{bare, headless}
	if lookErr == nil {
		results = append(results, dashboard)
	}
	for _, r := range results {
		if r.rss == nil { // bare QEMU: no ukdev
			fmt.Fprintf(w, "  %-30s %12d %12d %8d %10.1f\n", r.mode,
				r.count.reported, r.count.logged, r.count.lost(), perSecondKB(r.count.reported, r.count.guestTime))
			continue
		}
		fmt.Fprintf(w, "  %-30s %12d %12d %8d %10.1f %10.1f %9.1fM %9.1fM %9.1fM %8.1f\n", r.mode,
			r.count.reported, r.count.logged, r.count.lost(),
			perSecondKB(r.count.reported, r.count.guestTime), perSecondKB(r.count.logged, r.wall),
			mb(r.rssStart), mb(r.rssMax), mb(r.rssEnd), r.cpuPct)
		if r.count.badLines > 0 {
			fmt.Fprintf(w, "  %-28s %d lines damaged or out of order (%s)\n", "", r.count.badLines, panel.FormatBytes(float64(r.count.damagedBytes)))
		}
	}
	for _, r := range results[1:] {
		var b strings.Builder
		for i := 0; i < len(r.rss); i += 5 {
			fmt.Fprintf(&b, " %.1f", mb(r.rss[i]))
		}
		fmt.Fprintf(w, "  %s: RSS every 5 s, MB:%s\n", r.mode, b.String())
	}
	if headless.dropped > 0 {
		fmt.Fprintf(w, "  headless: %d console lines not shown as events (the reader lagged; they are in the log)\n", headless.dropped)
	}
	for _, r := range results[1:] {
		addTarget(w, fmt.Sprintf("serial flood, %s: every byte the guest wrote is in the boot's log file", r.mode),
			fmt.Sprintf("%d of %d bytes lost, %d lines damaged", r.count.lost(), r.count.reported, r.count.badLines),
			r.count.lost() == 0 && r.count.badLines == 0 && r.count.logged == r.count.reported)
		growth := mb(r.rssEnd) - mb(r.rssStart)
		addTarget(w, fmt.Sprintf("serial flood, %s: ukdev's RSS flat (end ≤ start + %d MB)", r.mode, serialRSSGrowthMB),
			fmt.Sprintf("%+.1f MB: %.1f → %.1f MB, max %.1f MB", growth, mb(r.rssStart), mb(r.rssEnd), mb(r.rssMax)),
			growth <= serialRSSGrowthMB)
	}
	name := fmt.Sprintf("serial flood: the dashboard shows a key's effect within %d ms (max over the flood)", serialKeyTargetMS)
	if lookErr != nil {
		skipTarget(w, name, "tmux is not installed")
		return nil
	}
	fmt.Fprintf(w, "  dashboard keys during the flood: %d sent every %s, ? toggling the help overlay, screen polled every %.1f ms\n",
		len(dashboard.keys), serialKeyEvery, dashboard.pollMS)
	fmt.Fprintf(w, "  %-28s %9s %9s %9s\n", "key → effect on screen", "median ms", "p90 ms", "max ms")
	fmt.Fprintf(w, "  %-28s %9.1f %9.1f %9.1f\n", "", median(dashboard.keys), p90(dashboard.keys), slices.Max(dashboard.keys))
	most := slices.Max(dashboard.keys)
	figure := fmt.Sprintf("max %.1f ms, p90 %.1f ms, median %.1f ms over %d keys", most, p90(dashboard.keys), median(dashboard.keys), len(dashboard.keys))
	if dashboard.keyTimeouts > 0 {
		figure += fmt.Sprintf(", %d not shown within %s", dashboard.keyTimeouts, serialKeyTimeout)
	}
	addTarget(w, name, figure, most <= serialKeyTargetMS)
	return nil
}

// perSecondKB is n bytes over d in KB/s (10^3 bytes).
func perSecondKB(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds() / 1e3
}

// setRSS records the RSS samples, in KiB, one a second.
func (r *serialResult) setRSS(kb []int64) {
	r.rss = kb
	if len(kb) > 0 {
		r.rssStart, r.rssMax, r.rssEnd = kb[0], slices.Max(kb), kb[len(kb)-1]
	}
}

// serialWorkspace makes a workspace holding a copy of the example.
func serialWorkspace(o serialOptions, prefix string) (*workspace, string, error) {
	ws, err := newWorkspace(o.ukdev, prefix)
	if err != nil {
		return nil, "", err
	}
	dir := filepath.Join(ws.tmp, "project")
	if err := copyProject(o.example, dir); err != nil {
		ws.remove()
		return nil, "", err
	}
	return ws, dir, nil
}

// bootLog returns the path of the only boot log under the workspace's
// state dir.
func bootLog(ws *workspace) (string, error) {
	logs, err := filepath.Glob(filepath.Join(ws.tmp, "state", "ukdev", "*", "boots", "boot-*.log"))
	if err != nil || len(logs) != 1 {
		return "", fmt.Errorf("bench: want one boot log under %s, found %v (%v)", ws.tmp, logs, err)
	}
	return logs[0], nil
}

// waitLogFlood polls the boot log until it holds a complete flood (ukdev
// flushes it within 100 ms).
func waitLogFlood(path string, within time.Duration) (floodCount, error) {
	deadline := time.Now().Add(within)
	for {
		data, err := os.ReadFile(path)
		if err != nil {
			return floodCount{}, fmt.Errorf("bench: %w", err)
		}
		c, err := countFlood(data)
		if !errors.Is(err, errNoFlood) {
			return c, err
		}
		if time.Now().After(deadline) {
			return c, fmt.Errorf("bench: %s holds no complete flood after %s", path, within)
		}
		time.Sleep(50 * time.Millisecond) // the file offers nothing to wait on
	}
}

// serialHeadless runs `ukdev dev --json`, types the flood command on its
// standard input once the guest is up, reads its events as fast as it can
// and counts the flood in the boot's log file.
func serialHeadless(o serialOptions, ws *workspace, dir string) (serialResult, error) {
	r := serialResult{mode: "headless (dev --json)"}
	cmd := exec.Command(ws.ukdev, "dev", "--json")
	cmd.Dir, cmd.Env = dir, ws.env("NO_COLOR=1")
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return r, fmt.Errorf("bench: start ukdev: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return r, fmt.Errorf("bench: start ukdev: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return r, fmt.Errorf("bench: start ukdev: %w", err)
	}
	defer func() {
		stopFlood(cmd)
		ws.killLeftovers()
	}()

	type mark struct {
		what           string
		at             time.Time
		accel, machine string
	}
	marks := make(chan mark, 4)
	var dropped atomic.Int64
	go func() {
		br := bufio.NewReaderSize(stdout, 1<<20)
		console := []byte(`"type":"` + string(devloop.TypeVMConsole) + `"`)
		droppedType := []byte(`"type":"` + string(devloop.TypeVMDropped) + `"`)
		vmStart := []byte(`"type":"` + string(devloop.TypeVMStart) + `"`)
		for {
			line, err := br.ReadSlice('\n')
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if err != nil {
				close(marks)
				return
			}
			// Only the few lines that matter are decoded: a flood makes
			// hundreds of thousands.
			var what string
			switch {
			case bytes.Contains(line, droppedType):
				var e struct{ Count int }
				if json.Unmarshal(line, &e) == nil {
					dropped.Add(int64(e.Count))
				}
				continue
			case bytes.Contains(line, vmStart):
				var e struct{ Accel, Machine string }
				_ = json.Unmarshal(line, &e)
				marks <- mark{what: "vm.start", accel: e.Accel, machine: e.Machine}
				continue
			case !bytes.Contains(line, console):
				if o.verbose {
					os.Stderr.Write(line)
				}
				continue
			case bytes.Contains(line, []byte("type 'help' for commands")):
				what = "ready"
			case bytes.Contains(line, []byte(`"line":"`+floodStart)):
				what = "start"
			case bytes.Contains(line, []byte(`"line":"flood: wrote `)):
				what = "end"
			default:
				continue
			}
			var e struct {
				TS time.Time `json:"ts"`
			}
			_ = json.Unmarshal(line, &e)
			marks <- mark{what: what, at: e.TS}
		}
	}()
	wait := func(what string, within time.Duration) (time.Time, error) {
		timeout := time.After(within)
		for {
			select {
			case m, ok := <-marks:
				if !ok {
					return time.Time{}, fmt.Errorf("bench: ukdev ended while waiting for the guest's %s line\n%s", what, stderr.String())
				}
				if m.what == "vm.start" {
					r.accel, r.machine = m.accel, m.machine
				}
				if m.what == what {
					return m.at, nil
				}
			case <-timeout:
				return time.Time{}, fmt.Errorf("bench: no %s line from the guest within %s\n%s", what, within, stderr.String())
			}
		}
	}
	if _, err := wait("ready", waitTimeout); err != nil {
		return r, err
	}
	rss := sampleRSS(cmd.Process.Pid)
	if _, err := fmt.Fprintf(stdin, "%s %d\n", floodCommand, o.seconds); err != nil {
		rss.end()
		return r, fmt.Errorf("bench: type into ukdev: %w", err)
	}
	start, err := wait("start", waitTimeout)
	var end time.Time
	if err == nil {
		end, err = wait("end", time.Duration(o.seconds)*time.Second+waitTimeout)
	}
	if err != nil {
		rss.end()
		return r, err
	}
	r.wall = end.Sub(start)
	path, err := bootLog(ws)
	if err == nil {
		r.count, err = waitLogFlood(path, waitTimeout)
	}
	r.setRSS(rss.end())
	r.cpuPct = rss.cpu()
	r.dropped = int(dropped.Load())
	return r, err
}

// controlClient is a tmux control-mode client (tmux -C): commands go to
// its stdin and their output comes back framed by %begin and %end lines,
// without a process per command, so the screen can be polled every
// fraction of a millisecond.
type controlClient struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func attachControl(tmux, socket, session string) (*controlClient, error) {
	cmd := exec.Command(tmux, "-L", socket, "-f", "/dev/null", "-C", "attach", "-f", "no-output,ignore-size", "-t", session)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("bench: tmux control client: %w", err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("bench: tmux control client: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: tmux control client: %w", err)
	}
	// no-output: the pane's output would come as %output notifications;
	// ignore-size: the client leaves the window's size alone.
	return &controlClient{cmd: cmd, in: in, out: bufio.NewReader(out)}, nil
}

// run sends one command and returns its output lines.
func (c *controlClient) run(command string) ([]string, error) {
	if _, err := io.WriteString(c.in, command+"\n"); err != nil {
		return nil, fmt.Errorf("bench: tmux %s: %w", command, err)
	}
	var lines []string
	in := false
	for {
		line, err := c.out.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("bench: tmux %s: %w", command, err)
		}
		switch {
		case !in && strings.HasPrefix(line, "%begin "):
			in = true
		case in && strings.HasPrefix(line, "%end "):
			return lines, nil
		case in && strings.HasPrefix(line, "%error "):
			return nil, fmt.Errorf("bench: tmux %s: %s", command, strings.Join(lines, ""))
		case in:
			lines = append(lines, line)
		}
	}
}

func (c *controlClient) close() {
	c.in.Close()
	_ = c.cmd.Wait()
}

// screenHas captures the pane and reports whether it shows text.
func (c *controlClient) screenHas(session, text string) (bool, error) {
	lines, err := c.run("capture-pane -p -t " + session)
	if err != nil {
		return false, err
	}
	for _, l := range lines {
		if strings.Contains(l, text) {
			return true, nil
		}
	}
	return false, nil
}

// waitScreen polls the screen, without pause, until it shows text (or
// stops showing it), for at most within; it returns the number of
// captures made.
func (c *controlClient) waitScreen(session, text string, shown bool, within time.Duration) (int, error) {
	deadline := time.Now().Add(within)
	for n := 1; ; n++ {
		has, err := c.screenHas(session, text)
		if err != nil {
			return n, err
		}
		if has == shown {
			return n, nil
		}
		if time.Now().After(deadline) {
			return n, fmt.Errorf("bench: the dashboard did not show %q = %v within %s", text, shown, within)
		}
	}
}

// serialDashboard runs the dashboard in a detached tmux session of
// 140×45, types the flood command into the console and, while the guest
// floods, presses ? every serialKeyEvery and times how long the help
// overlay takes to appear or go.
func serialDashboard(o serialOptions, tmux string) (serialResult, error) {
	r := serialResult{mode: "dashboard (tmux 140×45)"}
	ws, dir, err := serialWorkspace(o, "ukserialtui")
	if err != nil {
		return r, err
	}
	defer ws.remove()
	socket := fmt.Sprintf("ukbench-serial-%d", os.Getpid())
	const session = "ukdev"
	tmuxCmd := func(args ...string) (string, error) {
		out, err := exec.Command(tmux, append([]string{"-L", socket, "-f", "/dev/null"}, args...)...).CombinedOutput()
		return string(out), err
	}
	start := exec.Command(tmux, "-L", socket, "-f", "/dev/null", "new-session", "-d", "-s", session,
		"-x", "140", "-y", "45", "-c", dir, "exec '"+ws.ukdev+"' dev")
	start.Env = ws.env("TERM=xterm-256color", "NO_COLOR=")
	if out, err := start.CombinedOutput(); err != nil {
		return r, fmt.Errorf("bench: tmux new-session: %w\n%s", err, out)
	}
	defer func() {
		_, _ = tmuxCmd("kill-server")
		ws.killLeftovers()
	}()
	out, err := tmuxCmd("display", "-p", "-t", session, "#{pane_pid}")
	if err != nil {
		return r, fmt.Errorf("bench: tmux display: %w\n%s", err, out)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		return r, fmt.Errorf("bench: tmux pane pid %q: %w", out, err)
	}
	c, err := attachControl(tmux, socket, session)
	if err != nil {
		return r, err
	}
	defer c.close()

	if _, err := c.waitScreen(session, "type 'help' for commands", true, waitTimeout); err != nil {
		return r, err
	}
	// Focus the console, enter input mode, type the command, leave.
	for _, keys := range []string{"1", "i"} {
		if _, err := c.run("send-keys -t " + session + " " + keys); err != nil {
			return r, err
		}
	}
	if _, err := c.waitScreen(session, "leave input mode", true, waitTimeout); err != nil {
		return r, err
	}
	path, err := bootLog(ws)
	if err != nil {
		return r, err
	}
	rss := sampleRSS(pid)
	if _, err := c.run(fmt.Sprintf("send-keys -t %s -l '%s %d'", session, floodCommand, o.seconds)); err == nil {
		_, err = c.run("send-keys -t " + session + " Enter")
	}
	if err == nil {
		_, err = c.run("send-keys -t " + session + " Escape")
	}
	if err == nil {
		_, err = c.waitScreen(session, "? help", true, waitTimeout)
	}
	if err == nil {
		r.floodStartedAt, err = waitLogText(path, floodStart, waitTimeout)
	}
	if err != nil {
		rss.end()
		return r, err
	}

	// Press ? every serialKeyEvery until the flood's end line is logged.
	shown := false
	var polls int
	var polling time.Duration
	next := time.Now()
	for {
		if done, err := logHasEnd(path); err != nil {
			rss.end()
			return r, err
		} else if done {
			break
		}
		time.Sleep(time.Until(next))
		next = time.Now().Add(serialKeyEvery)
		sent := time.Now()
		if _, err := c.run("send-keys -t " + session + " -l ?"); err != nil {
			rss.end()
			return r, err
		}
		shown = !shown
		n, err := c.waitScreen(session, helpMarker, shown, serialKeyTimeout)
		took := time.Since(sent)
		polls += n
		polling += took
		if err != nil {
			r.keyTimeouts++
			// Find out where the overlay is before the next key.
			has, err := c.screenHas(session, helpMarker)
			if err != nil {
				rss.end()
				return r, err
			}
			shown = has
		}
		r.keys = append(r.keys, ms(took))
	}
	r.floodEndedAt = time.Now()
	r.count, err = waitLogFlood(path, waitTimeout)
	r.setRSS(rss.end())
	r.cpuPct = rss.cpu()
	if err != nil {
		return r, err
	}
	if len(r.keys) == 0 {
		return r, fmt.Errorf("bench: the flood ended before a key was sent")
	}
	r.wall = r.floodEndedAt.Sub(r.floodStartedAt)
	r.pollMS = ms(polling) / float64(polls)
	if shown {
		_, _ = c.run("send-keys -t " + session + " -l ?")
	}
	_, _ = c.run("send-keys -t " + session + " q")
	deadline := time.Now().Add(stopTimeout)
	for time.Now().Before(deadline) {
		if _, err := procfs.Stat(pid); err != nil {
			break
		}
		time.Sleep(50 * time.Millisecond) // the pane's process offers nothing to wait on
	}
	return r, nil
}

// waitLogText polls the log file until it holds text and returns when
// it was seen.
func waitLogText(path, text string, within time.Duration) (time.Time, error) {
	deadline := time.Now().Add(within)
	for {
		data, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return time.Time{}, fmt.Errorf("bench: %w", err)
		}
		if bytes.Contains(data, []byte(text)) {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("bench: %s does not hold %q after %s", path, text, within)
		}
		time.Sleep(20 * time.Millisecond) // the file offers nothing to wait on
	}
}

// logHasEnd reports whether the log file's last KiB holds the flood's end
// line.
func logHasEnd(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("bench: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("bench: %w", err)
	}
	buf := make([]byte, 1024)
	n, err := f.ReadAt(buf, max(0, info.Size()-int64(len(buf))))
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("bench: %w", err)
	}
	return floodEnd.Match(buf[:n]), nil
}

// serialBare boots the kernel ukdev built in dir under a bare QEMU with
// ukdev's argv (not paused), its console on a raw pty that the bench reads
// at once, and makes it flood: the reference for the QEMU rate.
func serialBare(o serialOptions, ws *workspace, dir, accel, machine string) (serialResult, error) {
	r := serialResult{mode: "bare QEMU (pty, read at once)"}
	cfg, err := project.Load(filepath.Join(dir, project.FileName))
	if err != nil {
		return r, fmt.Errorf("bench: %w", err)
	}
	spec := vm.Spec{
		QEMU:      cfg.VM.QEMU,
		Image:     image.Image{Kernel: cfg.Kernel.Image, DebugExit: true, PVPanic: true},
		Accel:     accel,
		Machine:   machine,
		MemoryMiB: 128,
		CPUs:      1,
		QMPSocket: filepath.Join(ws.runtime, "bare.sock"),
	}
	bin := spec.QEMU
	if bin == "" {
		bin = vm.DefaultQEMU
	}
	master, slave, err := rawPty()
	if err != nil {
		return r, err
	}
	defer master.Close()
	cmd := exec.Command(bin, qemu.Args(spec)...)
	cmd.Stdin, cmd.Stdout = slave, slave
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	slave.Close()
	if err != nil {
		return r, fmt.Errorf("bench: start QEMU: %w", err)
	}
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}()
	var out []byte
	buf := make([]byte, 64<<10)
	readUntil := func(done func() bool, within time.Duration) error {
		_ = master.SetReadDeadline(time.Now().Add(within))
		for !done() {
			n, err := master.Read(buf)
			out = append(out, buf[:n]...)
			if err != nil {
				return fmt.Errorf("bench: bare QEMU console: %w (stderr: %q)", err, stderr.String())
			}
		}
		return nil
	}
	if err := readUntil(func() bool { return bytes.Contains(out, []byte("type 'help' for commands")) }, waitTimeout); err != nil {
		return r, err
	}
	if _, err := fmt.Fprintf(master, "%s %d\r", floodCommand, o.seconds); err != nil {
		return r, fmt.Errorf("bench: type into bare QEMU: %w", err)
	}
	checked := 0
	err = readUntil(func() bool {
		// Only the new bytes (and a line's worth before them) are searched.
		found := floodEnd.Match(out[max(0, checked-128):])
		checked = len(out)
		return found
	}, time.Duration(o.seconds)*time.Second+waitTimeout)
	if err != nil {
		return r, err
	}
	r.count, err = countFlood(out)
	return r, err
}

// rawPty opens a pty in raw mode as ukdev's vm/qemu does: QEMU's stdio
// chardev turns OPOST back on, so ONLCR and friends go too (else every
// \n would reach the reader as \r\n). The master is non-blocking, so
// read deadlines hold.
func rawPty() (master, slave *os.File, err error) {
	blocking, slave, err := pty.Open()
	if err != nil {
		return nil, nil, fmt.Errorf("bench: pty: %w", err)
	}
	defer blocking.Close()
	fail := func(err error) (*os.File, *os.File, error) {
		slave.Close()
		return nil, nil, fmt.Errorf("bench: pty: %w", err)
	}
	t, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if err != nil {
		return fail(err)
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST | unix.ONLCR | unix.OCRNL | unix.ONOCR | unix.ONLRET
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(int(slave.Fd()), unix.TCSETS, t); err != nil {
		return fail(err)
	}
	fd, err := unix.Dup(int(blocking.Fd()))
	if err != nil {
		return fail(err)
	}
	unix.CloseOnExec(fd)
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return fail(err)
	}
	return os.NewFile(uintptr(fd), blocking.Name()), slave, nil
}
