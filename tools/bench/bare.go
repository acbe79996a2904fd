package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// qemuArgv reads the command line of process pid, a QEMU that ukdev runs.
func qemuArgv(pid int) ([]string, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return nil, fmt.Errorf("bench: argv of QEMU pid %d: %w", pid, err)
	}
	data = bytes.TrimSuffix(data, []byte{0})
	if len(data) == 0 {
		return nil, fmt.Errorf("bench: argv of QEMU pid %d: empty (it has exited)", pid)
	}
	return strings.Split(string(data), "\x00"), nil
}

// bareArgv turns the argv ukdev ran QEMU with into a bare boot's: the
// same options, not paused (-S left out), without the monitor ukdev drives
// (-qmp, or a -mon in control mode and its chardev), with every file it
// names copied into dir, since ukdev removes a boot's image once the boot
// is over.
func bareArgv(argv []string, dir string) ([]string, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("bench: bare argv: empty argv")
	}
	monitors := map[string]bool{} // chardev ids of control monitors
	for i := 1; i+1 < len(argv); i++ {
		if argv[i] == "-mon" {
			opts := optionMap(argv[i+1])
			if opts["mode"] == "control" || opts["mode"] == "" {
				monitors[opts["chardev"]] = true
			}
		}
	}
	copied := map[string]string{}
	out := []string{argv[0]}
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		switch {
		case a == "-S":
			continue
		case (a == "-qmp" || a == "-qmp-pretty" || a == "-mon") && i+1 < len(argv):
			i++
			continue
		case a == "-chardev" && i+1 < len(argv) && monitors[optionMap(argv[i+1])["id"]]:
			i++
			continue
		}
		var err error
		if a, err = copyNamedFiles(a, dir, copied); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// optionMap parses a QEMU option value ("socket,id=qmp,path=/x") into its
// key=value pairs; a leading bare word is keyed "".
func optionMap(v string) map[string]string {
	m := map[string]string{}
	for _, part := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(part, "=")
		if !ok {
			k, val = "", part
		}
		m[k] = val
	}
	return m
}

// copyNamedFiles copies every existing regular file an option names (the
// whole argument, or a key=value part of it) into dir once, and returns
// the option naming the copies.
func copyNamedFiles(arg, dir string, copied map[string]string) (string, error) {
	parts := strings.Split(arg, ",")
	for i, part := range parts {
		k, v, hasKey := strings.Cut(part, "=")
		if !hasKey {
			k, v = "", part
		}
		if !filepath.IsAbs(v) {
			continue
		}
		st, err := os.Stat(v)
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		dst, ok := copied[v]
		if !ok {
			dst = filepath.Join(dir, fmt.Sprintf("%d-%s", len(copied), filepath.Base(v)))
			if err := copyFile(v, dst, 0o644); err != nil {
				return "", err
			}
			copied[v] = dst
		}
		if hasKey {
			parts[i] = k + "=" + dst
		} else {
			parts[i] = dst
		}
	}
	return strings.Join(parts, ","), nil
}
