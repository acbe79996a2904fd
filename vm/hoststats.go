package vm

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// userHZ is the unit of the CPU times in /proc/<pid>/stat. Linux reports
// them in USER_HZ, which is 100 on every architecture QEMU runs on,
// whatever the kernel's own tick rate.
const userHZ = 100

// Stats is a host-side snapshot of a process (QEMU) from /proc.
type Stats struct {
	PID int
	// StartTicks is the process start time in clock ticks after boot: two
	// snapshots with different StartTicks are different processes (the pid
	// was reused).
	StartTicks uint64
	// UserTicks and SystemTicks are the CPU time spent, in USER_HZ ticks.
	UserTicks, SystemTicks uint64
	// RSSBytes is the resident set size (VmRSS).
	RSSBytes uint64
	// PeakRSSBytes is the peak resident set size (VmHWM).
	PeakRSSBytes uint64
	Threads      int
	// State is the one-letter process state ("R", "S", "Z"...).
	State string
}

// CPUTime is the CPU time the process has used, user and system.
func (s Stats) CPUTime() time.Duration {
	return time.Duration(s.UserTicks+s.SystemTicks) * time.Second / userHZ
}

// ProcStats reads /proc/<pid>/stat and /proc/<pid>/status. An error wraps
// fs.ErrNotExist when the process is gone.
func ProcStats(pid int) (Stats, error) {
	dir := "/proc/" + strconv.Itoa(pid)
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return Stats{}, fmt.Errorf("vm: process stats: %w", err)
	}
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return Stats{}, fmt.Errorf("vm: process stats: %w", err)
	}
	s, err := parseProcStat(stat)
	if err != nil {
		return Stats{}, fmt.Errorf("vm: process stats of %d: %w", pid, err)
	}
	if err := parseProcStatus(status, &s); err != nil {
		return Stats{}, fmt.Errorf("vm: process stats of %d: %w", pid, err)
	}
	return s, nil
}

// parseProcStat reads the fields of /proc/<pid>/stat ProcStats needs. The
// command name (field 2) is in parentheses and may hold spaces and
// parentheses itself, so fields are counted after its last ')'.
func parseProcStat(b []byte) (Stats, error) {
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return Stats{}, fmt.Errorf("stat: no command name in %.40q", b)
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil {
		return Stats{}, fmt.Errorf("stat: pid: %w", err)
	}
	// rest[0] is field 3 (state).
	rest := bytes.Fields(b[end+1:])
	const (
		fState     = 3
		fUTime     = 14
		fSTime     = 15
		fThreads   = 20
		fStartTime = 22
	)
	if len(rest) < fStartTime-2 {
		return Stats{}, fmt.Errorf("stat: %d fields, want at least %d", len(rest)+2, fStartTime)
	}
	field := func(n int) (uint64, error) {
		v, err := strconv.ParseUint(string(rest[n-3]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("stat: field %d: %w", n, err)
		}
		return v, nil
	}
	s := Stats{PID: pid, State: string(rest[fState-3])}
	if s.UserTicks, err = field(fUTime); err != nil {
		return Stats{}, err
	}
	if s.SystemTicks, err = field(fSTime); err != nil {
		return Stats{}, err
	}
	threads, err := field(fThreads)
	if err != nil {
		return Stats{}, err
	}
	s.Threads = int(threads)
	if s.StartTicks, err = field(fStartTime); err != nil {
		return Stats{}, err
	}
	return s, nil
}

// parseProcStatus reads VmRSS, VmHWM and Threads from /proc/<pid>/status.
// A zombie has no Vm lines: its RSS is zero.
func parseProcStatus(b []byte, s *Stats) error {
	for line := range bytes.Lines(b) {
		key, val, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		fields := bytes.Fields(val)
		if len(fields) == 0 {
			continue
		}
		switch string(key) {
		case "VmRSS", "VmHWM":
			kib, err := strconv.ParseUint(string(fields[0]), 10, 64)
			if err != nil {
				return fmt.Errorf("status: %s: %w", key, err)
			}
			if string(key) == "VmRSS" {
				s.RSSBytes = kib << 10
			} else {
				s.PeakRSSBytes = kib << 10
			}
		case "Threads":
			n, err := strconv.Atoi(string(fields[0]))
			if err != nil {
				return fmt.Errorf("status: Threads: %w", err)
			}
			s.Threads = n
		}
	}
	return nil
}

// CPUPercent is the CPU the process used between two snapshots taken
// elapsed apart, in percent of one host CPU (a busy multi-threaded QEMU
// can exceed 100). It is 0 when the snapshots are of different processes,
// elapsed is not positive, or the counters went backwards.
func CPUPercent(prev, cur Stats, elapsed time.Duration) float64 {
	if elapsed <= 0 || prev.PID != cur.PID || prev.StartTicks != cur.StartTicks {
		return 0
	}
	used := cur.CPUTime() - prev.CPUTime()
	if used < 0 {
		return 0
	}
	return 100 * used.Seconds() / elapsed.Seconds()
}
