package qemu

import (
	"bytes"
	"fmt"
	"os"
	"strconv"

	"github.com/ukdev/ukdev/vm"
)

// ProcStats reads /proc/<pid>/stat and /proc/<pid>/status. An error wraps
// fs.ErrNotExist when the process is gone.
func ProcStats(pid int) (vm.HostStats, error) {
	dir := "/proc/" + strconv.Itoa(pid)
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return vm.HostStats{}, fmt.Errorf("qemu: process stats: %w", err)
	}
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return vm.HostStats{}, fmt.Errorf("qemu: process stats: %w", err)
	}
	s, err := parseProcStat(stat)
	if err != nil {
		return vm.HostStats{}, fmt.Errorf("qemu: process stats of %d: %w", pid, err)
	}
	if err := parseProcStatus(status, &s); err != nil {
		return vm.HostStats{}, fmt.Errorf("qemu: process stats of %d: %w", pid, err)
	}
	return s, nil
}

// parseProcStat reads the fields of /proc/<pid>/stat ProcStats needs. The
// command name (field 2) is in parentheses and may hold spaces and
// parentheses itself, so fields are counted after its last ')'.
func parseProcStat(b []byte) (vm.HostStats, error) {
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return vm.HostStats{}, fmt.Errorf("stat: no command name in %.40q", b)
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil {
		return vm.HostStats{}, fmt.Errorf("stat: pid: %w", err)
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
		return vm.HostStats{}, fmt.Errorf("stat: %d fields, want at least %d", len(rest)+2, fStartTime)
	}
	field := func(n int) (uint64, error) {
		v, err := strconv.ParseUint(string(rest[n-3]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("stat: field %d: %w", n, err)
		}
		return v, nil
	}
	s := vm.HostStats{PID: pid, State: string(rest[fState-3])}
	if s.UserTicks, err = field(fUTime); err != nil {
		return vm.HostStats{}, err
	}
	if s.SystemTicks, err = field(fSTime); err != nil {
		return vm.HostStats{}, err
	}
	threads, err := field(fThreads)
	if err != nil {
		return vm.HostStats{}, err
	}
	s.Threads = int(threads)
	if s.StartTicks, err = field(fStartTime); err != nil {
		return vm.HostStats{}, err
	}
	return s, nil
}

// parseProcStatus reads VmRSS, VmHWM and Threads from /proc/<pid>/status.
// A zombie has no Vm lines: its RSS is zero.
func parseProcStatus(b []byte, s *vm.HostStats) error {
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
