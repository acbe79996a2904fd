package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/internal/procfs"
)

// linuxTarget is issue 13's goal for the Linux flavor.
const linuxTarget = "Linux flavor: QEMU start → program's first line ≤ 1.5 s under TCG"

// linuxOptions configure the Linux flavor part.
type linuxOptions struct {
	ukdev   string
	example string // a Linux-flavor project, copied
	boots   int    // reloads measured
	verbose bool
}

// linuxProbe is a file the benchmark adds to its copy of the example: at
// the program's start (its init, before main) it logs a record to the
// kernel's log at info level (not printed under quiet), reads back the
// kernel's stamp on it, and prints that stamp on its standard output, the
// console, at once. So the program's start is on the kernel's clock, and
// the line's arrival says when that clock started. The program's own
// first line is still the banner main prints, and that is what the target
// times.
const linuxProbe = `package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
)

func init() {
	syscall.Mknod("/dev/kmsg", syscall.S_IFCHR|0o600, 1<<8|11)
	f, err := os.OpenFile("/dev/kmsg", os.O_RDWR, 0)
	if err != nil {
		return
	}
	defer f.Close()
	f.Seek(0, io.SeekEnd)
	f.WriteString("<6>ukbench: program start\n")
	buf := make([]byte, 8192)
	for range 100 {
		n, err := f.Read(buf)
		if err != nil {
			return
		}
		// "prefix,seq,usec,flags;text"
		head, text, _ := strings.Cut(string(buf[:n]), ";")
		if fields := strings.Split(head, ","); len(fields) >= 3 && strings.HasPrefix(text, "ukbench: program start") {
			usec, _ := strconv.ParseUint(fields[2], 10, 64)
			fmt.Printf("ukbench: program start at %d.%06d\n", usec/1e6, usec%1e6)
			return
		}
	}
}
`

// stampedLine reads a kernel console line's timestamp, and probeLine
// the stamp the probe prints.
var (
	stampedLine = regexp.MustCompile(`^\[\s*([0-9]+\.[0-9]+)\]`)
	probeLine   = regexp.MustCompile(`^ukbench: program start at ([0-9]+\.[0-9]+)$`)
)

// linuxBoot is one measured boot, every figure in ms from QEMU's spawn.
type linuxBoot struct {
	machine string
	cont    float64 // ukdev resumes the paused guest (vm.start): QMP, the old VM's stop, port hand-over
	kernel  float64 // the kernel's clock at 0 (firmware, bzImage decompression, early setup)
	program float64 // the program starts (/init, before main), on the kernel's clock
	banner  float64 // the program's first line of its own (the banner)
	// cpu is QEMU's CPU time (user + system) when the banner arrived:
	// under TCG the boot is the vCPU's work, so this is what the boot
	// costs whatever else the host runs, and about its wall time on an
	// idle host (less the guest's idle waits). -1 when unread.
	cpu float64
}

// runLinux benchmarks the Linux flavor: boots reloads of a copy of
// opts.example under `ukdev dev --json`, each timed from QEMU's spawn
// (the reload's BootMS before its first console line) to the program's
// banner, split by the kernel's and the guest's clocks.
func runLinux(w io.Writer, opts linuxOptions) error {
	if opts.boots < 1 {
		return fmt.Errorf("bench: -linux-boots must be at least 1, got %d", opts.boots)
	}
	ws, err := newWorkspace(opts.ukdev, "ukbench-linux")
	if err != nil {
		return err
	}
	defer ws.remove()
	dir := filepath.Join(ws.tmp, "project")
	if err := copyLinuxProject(opts.example, dir); err != nil {
		return err
	}
	boots, err := benchLinux(ws, dir, opts)
	leftover := ws.killLeftovers()
	if err != nil {
		return err
	}
	reportLinux(w, opts.example, boots)
	if len(leftover) > 0 {
		return fmt.Errorf("bench: ukdev left QEMU processes behind after SIGTERM (killed): %v", leftover)
	}
	return nil
}

// copyLinuxProject copies the example without its built program, gives it
// a go.mod (outside this repository it is a module by itself) and the
// probe, and forwards a free host port instead of the example's 8080.
func copyLinuxProject(src, dst string) error {
	if err := copyProject(src, dst); err != nil {
		return err
	}
	os.Remove(filepath.Join(dst, "app"))
	if err := os.WriteFile(filepath.Join(dst, "go.mod"), []byte("module golinux\n\ngo 1.24\n"), 0o644); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dst, "ukbench_probe.go"), []byte(linuxProbe), 0o644); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	return replaceLine(filepath.Join(dst, "ukdev.toml"), "ports = ", fmt.Sprintf(`ports = ["%d:8080"]`, port))
}

// benchLinux runs `ukdev dev --json` in dir and times opts.boots reloads,
// each made by an edit of the banner.
func benchLinux(ws *workspace, dir string, opts linuxOptions) ([]linuxBoot, error) {
	s, err := startSession(ws.ukdev, dir, ws.env("NO_COLOR=1"), opts.verbose)
	if err != nil {
		return nil, err
	}
	defer s.kill()
	// Boot 1 has no reload timing: it only has to come up.
	if _, err := s.waitFor("boot 1's banner", func(e event) bool {
		return e.Type == devloop.TypeVMConsole && e.Boot == 1 && e.Line != nil && strings.TrimSpace(*e.Line) == "hello from linux"
	}); err != nil {
		return nil, err
	}
	mainGo := filepath.Join(dir, "main.go")
	var boots []linuxBoot
	prev := 1
	for i := 1; i <= opts.boots; i++ {
		banner := fmt.Sprintf("bench boot %d", i)
		if err := setGoBanner(mainGo, banner); err != nil {
			return nil, err
		}
		lines := map[string]time.Time{} // console lines of the new boot, first seen
		var order []string
		boot := 0
		cpu := -1.0
		e, err := s.waitFor(fmt.Sprintf("boot %d's banner %q", i, banner), func(e event) bool {
			if e.Type != devloop.TypeVMConsole || e.Boot <= prev || e.Line == nil {
				return false
			}
			if boot != e.Boot {
				boot, lines, order = e.Boot, map[string]time.Time{}, nil
			}
			line := strings.TrimSpace(*e.Line)
			if _, ok := lines[line]; !ok {
				lines[line] = eventMeta(e).TS
				order = append(order, line)
			}
			if line != banner {
				return false
			}
			if start, ok := s.starts[e.Boot]; ok {
				if p, err := procfs.Stat(eventMeta(start).PID); err == nil {
					cpu = float64(p.CPUTicks) * 10 // 100 ticks a second
				}
			}
			return true
		})
		if err != nil {
			return nil, err
		}
		prev = e.Boot
		if _, ok := s.reloads[prev]; !ok {
			if _, err := s.waitFor(fmt.Sprintf("boot %d's reload.done", prev), func(e event) bool { return e.Type == devloop.TypeReload && e.Boot == prev }); err != nil {
				return nil, err
			}
		}
		t, ok := s.reloads[prev]
		if !ok {
			return nil, fmt.Errorf("bench: boot %d's reload.done has no timing\n%s", prev, s.transcript())
		}
		b, err := splitLinuxBoot(t, order, lines, eventMeta(s.starts[prev]).TS)
		if err != nil {
			return nil, fmt.Errorf("bench: boot %d: %w\n%s", prev, err, s.transcript())
		}
		b.machine, b.cpu = s.starts[prev].Machine, cpu
		if opts.verbose {
			fmt.Fprintf(os.Stderr, "linux boot %d: %+v\n", prev, b)
		}
		boots = append(boots, b)
	}
	return boots, s.stop()
}

// splitLinuxBoot places a boot's console lines (in order, each with the
// time ukdev read it) on the time line from QEMU's spawn, which is the
// first line's time less the reload's BootMS. The kernel's clock starts at
// the earliest of the stamped lines' times less their stamps: the kernel
// keeps what it logs before its serial console is registered and prints
// it then (and later lines may wait for its printer thread), so only
// lines printed at once (the probe's, written by the program itself) give
// the clock's start and the others give later ones. The program starts
// at the probe's stamp on that clock. started is the boot's vm.start,
// which ukdev sends as it resumes the guest; zero when unknown.
func splitLinuxBoot(t devloop.Timing, order []string, at map[string]time.Time, started time.Time) (linuxBoot, error) {
	if len(order) == 0 {
		return linuxBoot{}, fmt.Errorf("no console line")
	}
	spawn := at[order[0]].Add(-time.Duration(t.BootMS * float64(time.Millisecond)))
	b := linuxBoot{cont: -1, kernel: -1, program: -1}
	if !started.IsZero() {
		b.cont = ms(started.Sub(spawn))
	}
	probe := -1.0
	for _, line := range order {
		m := stampedLine.FindStringSubmatch(line)
		if pm := probeLine.FindStringSubmatch(line); pm != nil {
			m = pm
		}
		if m == nil {
			continue
		}
		stamp, _ := strconv.ParseFloat(m[1], 64)
		if zero := ms(at[line].Sub(spawn)) - stamp*1000; b.kernel < 0 || zero < b.kernel {
			b.kernel = zero
		}
		if probeLine.MatchString(line) {
			probe = stamp * 1000
		}
	}
	b.banner = ms(at[order[len(order)-1]].Sub(spawn))
	if b.kernel < 0 || probe < 0 {
		return b, fmt.Errorf("no kernel timestamp or no program start line in %q", order)
	}
	b.program = b.kernel + probe
	return b, nil
}

// eventFields are fields of an event the shared event type leaves out.
type eventFields struct {
	TS  time.Time `json:"ts"` // when ukdev stamped it
	PID int       `json:"pid"`
}

// eventMeta reads e's eventFields; zero values when it has none.
func eventMeta(e event) eventFields {
	var f eventFields
	_ = json.Unmarshal([]byte(e.raw), &f)
	return f
}

// reportLinux prints the breakdown of the boots and the target.
func reportLinux(w io.Writer, example string, boots []linuxBoot) {
	var cont, kernel, toInit, program, total, cpu []float64
	machine := ""
	for _, b := range boots {
		if b.cont >= 0 {
			cont = append(cont, b.cont)
		}
		kernel = append(kernel, b.kernel)
		toInit = append(toInit, b.program-b.kernel)
		program = append(program, b.banner-b.program)
		total = append(total, b.banner)
		machine = b.machine
		if b.cpu >= 0 {
			cpu = append(cpu, b.cpu)
		}
	}
	fmt.Fprintf(w, "\nLinux flavor: %d reloads of %s on %s, from QEMU's spawn (the reload's boot_ms clock)\n", len(boots), example, machine)
	fmt.Fprintln(w, "  kernel clock 0 = the earliest of the stamped console lines' arrivals less their stamps: firmware, bzImage decompression and")
	fmt.Fprintln(w, "  the kernel's setup until its clock starts come before it, and so does early kernel work its clock does not count (on microvm")
	fmt.Fprintln(w, "  it stands still while the kernel patches its own code under TCG, about 1 s, until timer ticks come);")
	fmt.Fprintln(w, "  program start = the kernel's stamp on a record a probe in the program's init (before main) logs and prints")
	fmt.Fprintln(w, "  cont = vm.start, sent as ukdev resumes the guest started paused (after QMP, the old VM's stop and the port hand-over)")
	printTable(w,
		row{"QEMU start → cont", cont},
		row{"QEMU start → kernel clock 0", kernel},
		row{"kernel 0 → program start", toInit},
		row{"program start → 1st line", program},
		row{"QEMU start → 1st line", total},
		row{"QEMU CPU time at 1st line", cpu},
	)
	fmt.Fprintf(w, "  (QEMU's CPU time is the boot's cost under TCG whatever else the host runs; host load now: %s)\n", loadAverage())
	m := median(total)
	addTarget(w, linuxTarget, fmt.Sprintf("%.0f ms median on %s: %.0f to cont, %.0f more before the kernel's clock, %.0f kernel, %.0f program; QEMU CPU %.0f ms", m, machine, median(cont), median(kernel)-median(cont), median(toInit), median(program), median(cpu)), m <= 1500)
}

// loadAverage is the host's 1-minute load average, "?" when unreadable.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(data)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}
