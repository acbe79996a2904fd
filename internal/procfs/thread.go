package procfs

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ThreadCPU returns the user and system CPU time thread tid of process pid
// has used, in clock ticks (USER_HZ), from /proc/PID/task/TID/stat. An
// error wraps fs.ErrNotExist when the thread is gone.
func ThreadCPU(pid, tid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/stat", pid, tid))
	if err != nil {
		return 0, fmt.Errorf("procfs: %w", err)
	}
	p, err := parseStat(tid, data)
	if err != nil {
		return 0, err
	}
	return p.CPUTicks, nil
}

// IO is a process's I/O counters since it started, from /proc/PID/io.
type IO struct {
	// ReadChars and WriteChars count the bytes passed to read and write
	// system calls of every kind: files, sockets (a user-mode network's
	// traffic), pipes, ttys.
	ReadChars, WriteChars int64
	// ReadBytes and WriteBytes count the bytes fetched from and sent to
	// storage.
	ReadBytes, WriteBytes int64
}

// ReadIO reads pid's /proc/PID/io, which only the process's owner (or
// root) may read. An error wraps fs.ErrNotExist when the process is gone.
func ReadIO(pid int) (IO, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return IO{}, fmt.Errorf("procfs: %w", err)
	}
	return parseIO(pid, data)
}

// parseIO decodes /proc/PID/io's "key: value" lines, ignoring keys it
// does not use.
func parseIO(pid int, data []byte) (IO, error) {
	var io IO
	fields := map[string]*int64{"rchar": &io.ReadChars, "wchar": &io.WriteChars,
		"read_bytes": &io.ReadBytes, "write_bytes": &io.WriteBytes}
	seen := 0
	for l := range strings.Lines(string(data)) {
		k, v, ok := strings.Cut(l, ":")
		dst, known := fields[k]
		if !ok || !known {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return IO{}, fmt.Errorf("procfs: /proc/%d/io %s: %w", pid, k, err)
		}
		*dst = n
		seen++
	}
	if seen != len(fields) {
		return IO{}, fmt.Errorf("procfs: /proc/%d/io: %d of %d counters", pid, seen, len(fields))
	}
	return io, nil
}
