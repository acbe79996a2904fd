// Command bench is ukdev's speed benchmark, run by `make bench`. It edits
// a temporary copy of an example project N times under `ukdev dev --json`,
// collects each reload's timing, boots the same image N times under a bare
// QEMU with the same command line, and prints both side by side. Then it
// times the Nanos image writer on the Go program of examples/nanos-http
// and, when a Nanos kernel is installed, the Nanos reload (beside `ops
// run` when ops is installed). Last it measures ukdev's resident memory
// after a build that prints 2.5 GiB in 64 KiB lines, headless and with the
// dashboard on a pty, beside the target, and ukdev's CPU beside an idle
// VM with the metrics panel sampling and without, and with the memory
// panel refreshing 20 watches and hidden. Then it makes the example's guest
// flood its serial console for 30 s, headless and with the dashboard in
// tmux, and counts the bytes in the boot's log against what the guest
// wrote, ukdev's memory over the flood, and how long a key takes to show
// on the dashboard meanwhile; and it measures ukdev's own CPU beside an
// idle VM, headless and with the dashboard. Last it prints every target
// with its figure. It prints numbers and asserts
// nothing about speed: it fails only when the benchmark itself cannot run
// (or ukdev leaves a QEMU behind).
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/internal/procfs"
)

const (
	// waitTimeout bounds every wait for an event or a boot: generous,
	// because a build and a TCG boot share two cores with everything else.
	waitTimeout = 60 * time.Second
	// stopTimeout bounds ukdev's shutdown after SIGTERM.
	stopTimeout = 10 * time.Second
	// overheadTargetMS is the target for ukdev's median overhead per reload.
	overheadTargetMS = 20
	// debounceTargetMS is the target for the median debounce of a save.
	debounceTargetMS = 15
	// bootRatioTarget is the target for ukdev's QEMU start → first line
	// over a bare QEMU's, medians.
	bootRatioTarget = 1.05
	// beyondBareTargetMS is the target for save → first line without the
	// build, beyond a bare QEMU boot, medians.
	beyondBareTargetMS = 30
)

func main() {
	ukdev := flag.String("ukdev", "bin/ukdev", "path of the ukdev binary")
	example := flag.String("example", "examples/hello", "example project to edit (copied, never changed)")
	edits := flag.Int("edits", 20, "number of edits, and of bare QEMU boots")
	verbose := flag.Bool("v", false, "print every ukdev event")
	elfPart := flag.Bool("elf", true, "benchmark reloads of -example against bare QEMU")
	nanosPart := flag.Bool("nanos", true, "benchmark the Nanos flavor: image writes, and reloads when a Nanos kernel is installed")
	nanosExample := flag.String("nanos-example", "examples/nanos-http", "Nanos example project (copied, never changed)")
	nanosKernel := flag.String("nanos-kernel", os.Getenv("UKDEV_NANOS_KERNEL"), "Nanos kernel.img to boot (default: $UKDEV_NANOS_KERNEL, else ops' kernel cache)")
	writes := flag.Int("writes", 20, "number of Nanos image writes")
	floodPart := flag.Bool("flood", true, "measure ukdev's memory after a build that floods it with long lines, headless and with the dashboard")
	floodBytes := flag.Int64("flood-bytes", 5<<29, "bytes of build output in the flood (default 2.5 GiB)")
	floodLine := flag.Int("flood-line", 64<<10, "bytes per line of the flood, newline included")
	samplingPart := flag.Bool("sampling", true, "measure ukdev's CPU beside an idle VM of -example, its metrics panel sampling and not")
	samplingSeconds := flag.Int("sampling-seconds", 20, "seconds of each sampling measurement")
	serialPart := flag.Bool("serial", true, "flood the console of -example's guest through QEMU, headless and with the dashboard in tmux: bytes logged, ukdev's memory, key latency")
	serialSeconds := flag.Int("serial-seconds", 30, "seconds the guest floods its console in each serial measurement")
	watchesPart := flag.Bool("watches", true, "measure ukdev's CPU beside an idle VM of -example, the memory panel maximised with 20 watches and hidden")
	idlePart := flag.Bool("idle", true, "measure ukdev's own CPU beside an idle VM of -example, headless and with the dashboard")
	idleSeconds := flag.Int("idle-seconds", 60, "seconds of each idle measurement")
	linuxPart := flag.Bool("linux", true, "benchmark the Linux flavor's boot: QEMU start → the program's first line, split by the kernel's clock")
	linuxExample := flag.String("linux-example", "examples/go-http-linux", "Linux-flavor example project (copied, never changed)")
	linuxBoots := flag.Int("linux-boots", 5, "number of Linux-flavor reloads timed")
	libvirtPart := flag.Bool("libvirt", true, "time reloads of -example through libvirt (each of -libvirt-uris) beside the local QEMU backend")
	libvirtURIs := flag.String("libvirt-uris", "qemu:///system", "comma-separated libvirt URIs the libvirt part runs -example on")
	libvirtEdits := flag.Int("libvirt-edits", 10, "edits timed per backend in the libvirt part")
	libvirtSSH := flag.Bool("libvirt-ssh", true, "also time the libvirt part through qemu+ssh://127.0.0.1, an sshd the benchmark starts on the loopback (a remote host's path: the same daemon reached over ssh)")
	flag.Parse()
	if *elfPart {
		if err := run(*ukdev, *example, *edits, *verbose); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	if *nanosPart {
		opts := nanosOptions{ukdev: *ukdev, example: *nanosExample, kernel: *nanosKernel, writes: *writes, edits: *edits, verbose: *verbose}
		if err := runNanos(os.Stdout, opts); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	if *floodPart {
		opts := floodOptions{ukdev: *ukdev, total: *floodBytes, lineLen: *floodLine, verbose: *verbose}
		if err := runFlood(os.Stdout, opts); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	if *samplingPart {
		opts := samplingOptions{ukdev: *ukdev, example: *example, seconds: *samplingSeconds, verbose: *verbose}
		if err := runSampling(os.Stdout, opts); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	if *watchesPart {
		opts := samplingOptions{ukdev: *ukdev, example: *example, seconds: *samplingSeconds, verbose: *verbose}
		if err := runWatches(os.Stdout, opts); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	if *serialPart {
		opts := serialOptions{ukdev: *ukdev, example: *example, seconds: *serialSeconds, verbose: *verbose}
		if err := runSerial(os.Stdout, opts); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	if *idlePart {
		opts := idleOptions{ukdev: *ukdev, example: *example, seconds: *idleSeconds, verbose: *verbose}
		if err := runIdle(os.Stdout, opts); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	if *linuxPart {
		opts := linuxOptions{ukdev: *ukdev, example: *linuxExample, boots: *linuxBoots, verbose: *verbose}
		if err := runLinux(os.Stdout, opts); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	if *libvirtPart {
		opts := libvirtOptions{ukdev: *ukdev, example: *example, edits: *libvirtEdits, verbose: *verbose, uris: splitList(*libvirtURIs), ssh: *libvirtSSH}
		if err := runLibvirt(os.Stdout, opts); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	printTargets(os.Stdout)
}

func run(ukdev, example string, edits int, verbose bool) error {
	if edits < 1 {
		return fmt.Errorf("bench: -edits must be at least 1, got %d", edits)
	}
	ws, err := newWorkspace(ukdev, "ukbench")
	if err != nil {
		return err
	}
	defer ws.remove()

	dir := filepath.Join(ws.tmp, "project")
	if err := copyProject(example, dir); err != nil {
		return err
	}
	mainC := filepath.Join(dir, "main.c")
	bareDir := filepath.Join(ws.tmp, "bare")
	res, err := benchUkdev(ws.ukdev, dir, ws.env("NO_COLOR=1"), edits, verbose, bareDir, func(banner string) error { return setBanner(mainC, banner) })
	leftover := ws.killLeftovers()
	if err != nil {
		return err
	}
	report(os.Stdout, example, res, res.bare)
	if len(leftover) > 0 {
		return fmt.Errorf("bench: ukdev left QEMU processes behind after SIGTERM (killed): %v", leftover)
	}
	return nil
}

// ukdevResult is what the edits measured.
type ukdevResult struct {
	accel, machine string
	timings        []devloop.Timing
	// saveToBanner is each edit's time from the file write to the new
	// banner's console event, in ms, on the benchmark's own clock.
	saveToBanner []float64
	// bare is, for each edit, the spawn → banner time in ms of a bare
	// QEMU booting the same image with the same argv (see bareArgv), run
	// right after the edit so that both see the same machine.
	bare []float64
}

// benchUkdev runs `ukdev dev --json` in dir, waits for the first boot,
// makes n edits of the banner with setBanner, each waited for until the
// new boot prints it and followed by a bare QEMU boot of the same argv
// (its files copied under bareDir) timed to the same banner, then stops
// ukdev with SIGTERM.
func benchUkdev(ukdev, dir string, env []string, n int, verbose bool, bareDir string, setBanner func(banner string) error) (ukdevResult, error) {
	var res ukdevResult
	s, err := startSession(ukdev, dir, env, verbose)
	if err != nil {
		return res, err
	}
	defer s.kill()

	// A boot's first console lines may come before its vm.start event.
	if _, err := s.waitFor("boot 1's first console line", func(e event) bool { return e.Type == devloop.TypeVMConsole && e.Boot == 1 }); err != nil {
		return res, err
	}
	start, ok := s.starts[1]
	if !ok {
		if start, err = s.waitFor("boot 1's vm.start", func(e event) bool { return e.Type == devloop.TypeVMStart && e.Boot == 1 }); err != nil {
			return res, err
		}
	}
	res.accel, res.machine = start.Accel, start.Machine

	boot := 1
	for i := 1; i <= n; i++ {
		banner := fmt.Sprintf("bench edit %d", i)
		saved := time.Now()
		if err := setBanner(banner); err != nil {
			return res, err
		}
		// A save normally makes exactly one new boot; matching the banner
		// rather than the boot number keeps a spurious extra build from
		// being timed as the edit.
		e, err := s.waitFor(fmt.Sprintf("edit %d's banner %q", i, banner), func(e event) bool {
			return e.Type == devloop.TypeVMConsole && e.Boot > boot && e.Line != nil && strings.TrimSpace(*e.Line) == banner
		})
		if err != nil {
			return res, err
		}
		res.saveToBanner = append(res.saveToBanner, ms(time.Since(saved)))
		boot = e.Boot
		if _, ok := s.reloads[boot]; !ok {
			if _, err := s.waitFor(fmt.Sprintf("boot %d's reload.done", boot), func(e event) bool { return e.Type == devloop.TypeReload && e.Boot == boot }); err != nil {
				return res, err
			}
		}
		t, ok := s.reloads[boot]
		if !ok {
			return res, fmt.Errorf("bench: edit %d: boot %d's reload.done has no timing\n%s", i, boot, s.transcript())
		}
		res.timings = append(res.timings, t)
		d, err := s.bareBoot(boot, filepath.Join(bareDir, strconv.Itoa(i)), banner)
		if err != nil {
			return res, fmt.Errorf("bench: edit %d: bare QEMU: %w", i, err)
		}
		res.bare = append(res.bare, d)
	}
	return res, s.stop()
}

// bareBoot boots the image of ukdev's boot under a bare QEMU with the same
// argv, its files copied into dir (removed after), and returns spawn → the
// banner line in ms.
func (s *session) bareBoot(boot int, dir, banner string) (float64, error) {
	start, ok := s.starts[boot]
	if !ok || start.PID == 0 {
		return 0, fmt.Errorf("boot %d's vm.start has no QEMU pid\n%s", boot, s.transcript())
	}
	argv, err := qemuArgv(start.PID)
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	if argv, err = bareArgv(argv, dir); err != nil {
		return 0, err
	}
	d, err := timeToLine(exec.Command(argv[0], argv[1:]...), func(line string) bool { return line == banner })
	if err != nil {
		return 0, err
	}
	return ms(d), nil
}

// event is the part of ukdev's JSON events the benchmark reads.
type event struct {
	Type    devloop.EventType `json:"type"`
	Boot    int               `json:"boot"`
	Line    *string           `json:"line"`
	Accel   string            `json:"accel"`
	Machine string            `json:"machine"`
	PID     int               `json:"pid"`
	Timing  *devloop.Timing   `json:"timing"`
	raw     string
	notJSON bool // the line did not parse
}

// session is a running `ukdev dev --json`.
type session struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser // kept open: EOF on stdin is not a way to stop ukdev
	events  chan event
	stderr  *lockedBuffer
	verbose bool
	starts  map[int]event          // vm.start events by boot
	reloads map[int]devloop.Timing // reload.done timings by boot
	recent  []string               // the last events, for error reports
}

// startSession starts `ukdev dev --json` in dir, with extra arguments
// after those.
func startSession(ukdev, dir string, env []string, verbose bool, extra ...string) (*session, error) {
	cmd := exec.Command(ukdev, append([]string{"dev", "--json"}, extra...)...)
	cmd.Dir = dir
	cmd.Env = env
	s := &session{cmd: cmd, events: make(chan event, 4096), stderr: &lockedBuffer{}, verbose: verbose,
		starts: map[int]event{}, reloads: map[int]devloop.Timing{}}
	cmd.Stderr = s.stderr
	var err error
	if s.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("bench: start ukdev: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("bench: start ukdev: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start ukdev: %w", err)
	}
	go func() {
		defer close(s.events)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var e event
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				e = event{notJSON: true}
			}
			e.raw = sc.Text()
			s.events <- e
		}
	}()
	return s, nil
}

// waitFor reads events until one matches, for at most waitTimeout.
func (s *session) waitFor(what string, match func(event) bool) (event, error) {
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		select {
		case e, ok := <-s.events:
			if !ok {
				return event{}, fmt.Errorf("bench: ukdev ended while waiting for %s\n%s", what, s.transcript())
			}
			s.record(e)
			if e.notJSON {
				return event{}, fmt.Errorf("bench: ukdev printed a line that is not JSON: %q", e.raw)
			}
			if match(e) {
				return e, nil
			}
		case <-deadline.C:
			return event{}, fmt.Errorf("bench: timed out after %s waiting for %s\n%s", waitTimeout, what, s.transcript())
		}
	}
}

func (s *session) record(e event) {
	if s.verbose {
		fmt.Fprintln(os.Stderr, e.raw)
	}
	if len(s.recent) == 40 {
		s.recent = s.recent[1:]
	}
	s.recent = append(s.recent, e.raw)
	switch {
	case e.Type == devloop.TypeVMStart:
		s.starts[e.Boot] = e
	case e.Type == devloop.TypeReload && e.Timing != nil:
		s.reloads[e.Boot] = *e.Timing
	}
}

func (s *session) transcript() string {
	var b strings.Builder
	b.WriteString("last events:\n")
	for _, r := range s.recent {
		b.WriteString("  " + r + "\n")
	}
	if err := s.stderr.String(); err != "" {
		b.WriteString("ukdev stderr:\n" + err)
	}
	return b.String()
}

// stop sends SIGTERM and waits for ukdev to exit, reading (and, with -v,
// printing) its last events.
func (s *session) stop() error {
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("bench: stop ukdev: %w", err)
	}
	deadline := time.NewTimer(stopTimeout)
	defer deadline.Stop()
	for {
		select {
		case e, ok := <-s.events:
			if ok {
				s.record(e)
				continue
			}
			if err := s.cmd.Wait(); err != nil {
				return fmt.Errorf("bench: ukdev exited badly after SIGTERM: %w\n%s", err, s.transcript())
			}
			return nil
		case <-deadline.C:
			return fmt.Errorf("bench: ukdev still running %s after SIGTERM\n%s", stopTimeout, s.transcript())
		}
	}
}

// kill ends ukdev if it is still running; it is a no-op after stop.
func (s *session) kill() {
	if s.cmd.ProcessState == nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
}

// lockedBuffer collects a process's stderr, which exec writes from its own
// goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// timeToLine starts cmd in its own process group, times spawn → the first
// stdout line that want accepts, then kills the group and reaps it.
func timeToLine(cmd *exec.Cmd, want func(line string) bool) (time.Duration, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	spawn := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	found := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if want(strings.TrimSpace(sc.Text())) {
				found <- nil
				return
			}
		}
		found <- fmt.Errorf("%s ended without the line waited for", cmd.Path)
	}()
	var d time.Duration
	timeout := time.NewTimer(waitTimeout)
	defer timeout.Stop()
	select {
	case err = <-found:
		d = time.Since(spawn)
	case <-timeout.C:
		err = fmt.Errorf("no such line within %s", waitTimeout)
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Wait()
	if err != nil {
		return 0, fmt.Errorf("%w (stderr: %q)", err, strings.TrimSpace(stderr.String()))
	}
	return d, nil
}

// report prints the table.
func report(w io.Writer, example string, res ukdevResult, bare []float64) {
	n := len(res.timings)
	phase := res.phase
	qemuPlusOverhead := phase(func(t devloop.Timing) float64 { return t.QEMUMS + t.OverheadMS })
	overhead := phase(func(t devloop.Timing) float64 { return t.OverheadMS })
	debounce := phase(func(t devloop.Timing) float64 { return t.DebounceMS })
	boot := phase(func(t devloop.Timing) float64 { return t.BootMS })
	withoutBuild := phase(func(t devloop.Timing) float64 { return t.TotalMS - t.BuildMS })
	rows := []row{
		{"debounce", debounce},
		{"build", phase(func(t devloop.Timing) float64 { return t.BuildMS })},
		{"image copy", phase(func(t devloop.Timing) float64 { return t.ImageMS })},
		{"qemu (its own time)", phase(func(t devloop.Timing) float64 { return t.QEMUMS })},
		{"qemu start → first line", boot},
		{"ukdev overhead", overhead},
		{"total (save → first line)", phase(func(t devloop.Timing) float64 { return t.TotalMS })},
		{"total − build", withoutBuild},
		{"qemu + overhead", qemuPlusOverhead},
	}

	fmt.Fprintf(w, "\nukdev reload: %d edits of %s (%s, %s)\n", n, example, res.accel, res.machine)
	printTable(w, rows...)
	fmt.Fprintf(w, "\nbare QEMU: %d boots of the same images, same argv, not paused, each right after its edit\n", len(bare))
	printRow(w, "spawn → first line", bare)

	fmt.Fprintf(w, "\nratio (qemu + overhead) / bare QEMU, medians: %.2fx\n", median(qemuPlusOverhead)/median(bare))
	addTarget(w, fmt.Sprintf("ukdev overhead ≤ %d ms median", overheadTargetMS),
		fmt.Sprintf("%.1f ms", median(overhead)), median(overhead) <= overheadTargetMS)
	addTarget(w, fmt.Sprintf("debounce ≤ %d ms median", debounceTargetMS),
		fmt.Sprintf("%.1f ms", median(debounce)), median(debounce) <= debounceTargetMS)
	ratio := median(boot) / median(bare)
	addTarget(w, fmt.Sprintf("QEMU start → first line under ukdev / bare QEMU ≤ %.2f, medians", bootRatioTarget),
		fmt.Sprintf("%.2fx: %.1f ms against %.1f ms", ratio, median(boot), median(bare)), ratio <= bootRatioTarget)
	beyond := median(withoutBuild) - median(bare)
	addTarget(w, fmt.Sprintf("save → first line − build ≤ bare QEMU boot + %d ms, medians", beyondBareTargetMS),
		fmt.Sprintf("%+.1f ms: %.1f ms against %.1f ms", beyond, median(withoutBuild), median(bare)), beyond <= beyondBareTargetMS)
}

// phase returns one phase of every reload's timing, as f picks it.
func (r ukdevResult) phase(f func(devloop.Timing) float64) []float64 {
	var v []float64
	for _, t := range r.timings {
		v = append(v, f(t))
	}
	return v
}

// row is a line of a table of times: its name and the times, in ms.
type row struct {
	name string
	v    []float64
}

// printTable prints a header and a printRow line for each of rows.
func printTable(w io.Writer, rows ...row) {
	fmt.Fprintf(w, "  %-28s %9s %9s\n", "phase", "median ms", "p90 ms")
	for _, r := range rows {
		printRow(w, r.name, r.v)
	}
}

// printRow prints the median and p90 of the times v, in ms, under name.
func printRow(w io.Writer, name string, v []float64) {
	fmt.Fprintf(w, "  %-28s %9.1f %9.1f\n", name, median(v), p90(v))
}

// median returns the middle of v (the mean of the two middles when even).
func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// p90 returns the 90th percentile of v by the nearest-rank method.
func p90(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if len(s) == 0 {
		return 0
	}
	rank := (9*len(s) + 9) / 10 // ceil(0.9 n)
	return s[rank-1]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// copyProject copies the project at src to dst, leaving out the build
// outputs in its top-level build directory.
func copyProject(src, dst string) error {
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		switch {
		case d.IsDir() && rel == "build":
			return filepath.SkipDir
		case d.IsDir():
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			return copyFile(path, filepath.Join(dst, rel), info.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bench: copy %s: %w", src, err)
	}
	return nil
}

func copyFile(src, dst string, perm fs.FileMode) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("bench: copy: %w", err)
	}
	if err := os.WriteFile(dst, data, perm); err != nil {
		return fmt.Errorf("bench: copy: %w", err)
	}
	return nil
}

// setBanner rewrites the `#define BANNER "..."` line of the C file at path.
func setBanner(path, banner string) error {
	return replaceLine(path, "#define BANNER ", "#define BANNER "+strconv.Quote(banner))
}

// replaceLine rewrites every line of the file at path that starts with
// prefix to line; the file must have one.
func replaceLine(path, prefix, line string) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("bench: set banner: %w", err)
	}
	lines := strings.Split(string(src), "\n")
	found := false
	for i, l := range lines {
		if strings.HasPrefix(l, prefix) {
			lines[i] = line
			found = true
		}
	}
	if !found {
		return fmt.Errorf("bench: set banner: %s has no %q line", path, prefix)
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		return fmt.Errorf("bench: set banner: %w", err)
	}
	return nil
}

// workspace is one benchmark run's private directories: a temporary one
// for the project and ukdev's state, and a runtime dir for ukdev's
// sockets.
type workspace struct {
	ukdev string // the ukdev binary, an absolute path
	tmp   string
	// runtime holds QMP sockets, whose paths must stay short, and marks
	// every QEMU of the run in the process table.
	runtime string
}

// newWorkspace makes the directories of a run of the ukdev binary, the
// temporary one named after prefix; the caller removes them.
func newWorkspace(ukdev, prefix string) (*workspace, error) {
	abs, err := filepath.Abs(ukdev)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	ws := &workspace{ukdev: abs}
	if ws.tmp, err = os.MkdirTemp("", prefix); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if ws.runtime, err = os.MkdirTemp("", "ukrt"); err == nil {
		err = os.Chmod(ws.runtime, 0o700)
	}
	if err != nil {
		ws.remove()
		return nil, fmt.Errorf("bench: %w", err)
	}
	return ws, nil
}

// env is this process's environment with ukdev's state and runtime dirs
// in the workspace, and extra.
func (ws *workspace) env(extra ...string) []string {
	return append(os.Environ(), append([]string{"XDG_STATE_HOME=" + filepath.Join(ws.tmp, "state"), "XDG_RUNTIME_DIR=" + ws.runtime}, extra...)...)
}

// killLeftovers kills the QEMU processes of the workspace, which are
// leaks once ukdev has exited, and returns their pids.
func (ws *workspace) killLeftovers() []int {
	var pids []int
	for _, p := range procfs.Matching(ws.runtime) {
		if p.IsQEMU() {
			_ = syscall.Kill(p.PID, syscall.SIGKILL)
			pids = append(pids, p.PID)
		}
	}
	return pids
}

func (ws *workspace) remove() {
	if ws.runtime != "" {
		os.RemoveAll(ws.runtime)
	}
	os.RemoveAll(ws.tmp)
}
