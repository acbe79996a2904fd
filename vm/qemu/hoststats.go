package qemu

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"

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

// procFiles reads one process's /proc stat and status through files kept
// open: each read is one pread a file, where ProcStats opens, inspects,
// reads and closes both, every second while the dashboard samples. Once
// the process is gone a read fails (ESRCH) and procFiles falls back on
// ProcStats, whose error wraps fs.ErrNotExist.
type procFiles struct {
	mu           sync.Mutex
	pid          int
	stat, status *os.File
	closed       bool
	buf          []byte
}

// read returns the stats of pid, as ProcStats does.
func (f *procFiles) read(pid int) (vm.HostStats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || pid <= 0 {
		return ProcStats(pid)
	}
	if f.pid != pid || f.stat == nil {
		f.closeFiles()
		dir := "/proc/" + strconv.Itoa(pid)
		stat, err := os.Open(dir + "/stat")
		if err != nil {
			return ProcStats(pid)
		}
		status, err := os.Open(dir + "/status")
		if err != nil {
			stat.Close()
			return ProcStats(pid)
		}
		f.pid, f.stat, f.status = pid, stat, status
	}
	stat, err := f.readAll(f.stat, 0)
	if err != nil {
		f.closeFiles()
		return ProcStats(pid)
	}
	status, err := f.readAll(f.status, len(stat))
	if err != nil {
		f.closeFiles()
		return ProcStats(pid)
	}
	s, err := parseProcStat(status[:len(stat)])
	if err != nil {
		return vm.HostStats{}, fmt.Errorf("qemu: process stats of %d: %w", pid, err)
	}
	if err := parseProcStatus(status[len(stat):], &s); err != nil {
		return vm.HostStats{}, fmt.Errorf("qemu: process stats of %d: %w", pid, err)
	}
	return s, nil
}

// readAll reads file from its start into f.buf after the first keep
// bytes, and returns f.buf up to its end.
func (f *procFiles) readAll(file *os.File, keep int) ([]byte, error) {
	if len(f.buf) < keep+4096 {
		f.buf = append(f.buf[:keep], make([]byte, 4096)...)
	}
	for {
		n, err := file.ReadAt(f.buf[keep:], 0)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if keep+n < len(f.buf) {
			return f.buf[:keep+n], nil
		}
		// Full: the file may be longer than the buffer.
		f.buf = append(f.buf, make([]byte, len(f.buf))...)
	}
}

// close closes the files; later reads open none.
func (f *procFiles) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closeFiles()
	f.closed = true
}

func (f *procFiles) closeFiles() {
	if f.stat != nil {
		f.stat.Close()
		f.status.Close()
	}
	f.stat, f.status, f.pid = nil, nil, 0
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
