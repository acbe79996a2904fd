// Package procfs reads Linux's process table under /proc: which processes
// run, with what command line, in which state and group, and how much CPU
// time and memory one uses. The end-to-end tests use it to prove that
// nothing was left behind, the benchmarks to measure ukdev.
package procfs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Proc is one process, as /proc/PID/stat and /proc/PID/cmdline describe
// it.
type Proc struct {
	PID int
	// Args is the command line; it is empty for a kernel thread and a
	// zombie.
	Args []string
	// Comm is the command name, as the kernel keeps it (15 bytes at most).
	Comm string
	// State is the state letter: 'R' running, 'S' sleeping, 'Z' zombie...
	State      byte
	PPID, PGID int
	// CPUTicks is the user and system CPU time, in clock ticks.
	CPUTicks int64
}

// Live reports whether the process still runs: not a zombie waiting for
// its parent, not dead.
func (p Proc) Live() bool { return p.State != 'Z' && p.State != 'X' }

// IsQEMU reports whether the process runs a qemu-system binary.
func (p Proc) IsQEMU() bool { return len(p.Args) > 0 && strings.Contains(p.Args[0], "qemu-system") }

// CommandLine is Args joined with spaces.
func (p Proc) CommandLine() string { return strings.Join(p.Args, " ") }

// String is the pid and the command line, for messages.
func (p Proc) String() string { return fmt.Sprintf("%d: %s", p.PID, p.CommandLine()) }

// PIDs lists the processes of the machine.
func PIDs() ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("procfs: %w", err)
	}
	var pids []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// Stat reads pid's /proc/PID/stat, leaving Args empty.
func Stat(pid int) (Proc, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Proc{}, fmt.Errorf("procfs: %w", err)
	}
	return parseStat(pid, data)
}

// parseStat decodes a /proc/PID/stat line. The command name is in
// parentheses and may hold spaces or ')': the fields are counted from the
// last ')'.
func parseStat(pid int, data []byte) (Proc, error) {
	open, end := bytes.IndexByte(data, '('), bytes.LastIndexByte(data, ')')
	if open < 0 || end < open {
		return Proc{}, fmt.Errorf("procfs: /proc/%d/stat: no command name", pid)
	}
	// State is field 3, ppid 4, pgrp 5, utime 14 and stime 15.
	f := strings.Fields(string(data[end+1:]))
	if len(f) < 13 || len(f[0]) != 1 {
		return Proc{}, fmt.Errorf("procfs: /proc/%d/stat: too few fields", pid)
	}
	p := Proc{PID: pid, Comm: string(data[open+1 : end]), State: f[0][0]}
	var errs [4]error
	var utime, stime int64
	p.PPID, errs[0] = strconv.Atoi(f[1])
	p.PGID, errs[1] = strconv.Atoi(f[2])
	utime, errs[2] = strconv.ParseInt(f[11], 10, 64)
	stime, errs[3] = strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(errs[:]...); err != nil {
		return Proc{}, fmt.Errorf("procfs: /proc/%d/stat: %w", pid, err)
	}
	p.CPUTicks = utime + stime
	return p, nil
}

// Read reads pid's stat and command line.
func Read(pid int) (Proc, error) {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return Proc{}, fmt.Errorf("procfs: %w", err)
	}
	p, err := Stat(pid)
	if err != nil {
		return Proc{}, err
	}
	p.Args = splitArgs(cmdline)
	return p, nil
}

// splitArgs splits a NUL-separated command line.
func splitArgs(cmdline []byte) []string {
	s := strings.TrimRight(string(cmdline), "\x00")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\x00")
}

// Matching lists the live processes, other than this one, whose command
// line holds marker. A process that ends while it reads is left out.
func Matching(marker string) []Proc {
	pids, _ := PIDs()
	var found []Proc
	for _, pid := range pids {
		if pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || !bytes.Contains(cmdline, []byte(marker)) {
			continue
		}
		p, err := Stat(pid)
		if err != nil || !p.Live() {
			continue
		}
		p.Args = splitArgs(cmdline)
		found = append(found, p)
	}
	return found
}

// Children lists pid's child processes, over all its threads.
func Children(pid int) []int {
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	var kids []int
	for _, t := range tasks {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, t.Name()))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(data)) {
			if kid, err := strconv.Atoi(f); err == nil {
				kids = append(kids, kid)
			}
		}
	}
	return kids
}

// Memory returns the resident memory (VmRSS) of pid and its peak (VmHWM),
// in KiB.
func Memory(pid int) (rss, peak int64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("procfs: %w", err)
	}
	return parseMemory(pid, data)
}

func parseMemory(pid int, data []byte) (rss, peak int64, err error) {
	for l := range strings.Lines(string(data)) {
		k, v, ok := strings.Cut(l, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("procfs: /proc/%d/status %s: %w", pid, k, err)
		}
		if k == "VmRSS" {
			rss = n
		} else {
			peak = n
		}
	}
	return rss, peak, nil
}
