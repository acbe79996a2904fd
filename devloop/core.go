package devloop

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/ukdev/ukdev/flavor"
)

// CoreDump is a core file of a boot's guest and how to open it.
type CoreDump struct {
	// Path is the core file, beside the boot's console log.
	Path string
	// GDB is the gdb command line that opens the core with the flavor's
	// debug file, "gdb" first, runnable as it is; more arguments
	// (-batch, -ex ...) may be appended.
	GDB []string
}

// CommandLine returns GDB as one shell command line.
func (c CoreDump) CommandLine() string { return ShellJoin(c.GDB) }

// DumpCore writes a core file of the live VM (frozen after a crash, or
// running: it is paused while the dump is written) beside its boot's
// console log, boot-NNNNNN.core in the boots directory, replacing an
// earlier core of the same boot, with a copy of the flavor's debug file
// beside it (boot-NNNNNN.debug: the build's own copy goes with the build
// or with ukdev). The core holds guest memory, so it is
// readable by the user only. It returns the file and the gdb command line
// that opens it with the flavor's debug file and load offset as for
// OpenGDB; a flavor without a debug file gets gdb without symbols. It is safe to call from any goroutine; it blocks until
// the file is written.
func (l *Loop) DumpCore(ctx context.Context) (CoreDump, error) {
	l.gdb.mu.Lock()
	s := l.gdb.live
	l.gdb.mu.Unlock()
	if s == nil || s.m != l.live() {
		return CoreDump{}, ErrNoVM
	}
	path := l.corePath(s.boot)
	if err := s.m.DumpCore(ctx, path); err != nil {
		return CoreDump{}, fmt.Errorf("devloop: dump core of boot #%d: %w", s.boot, l.unsupported(err, "a core dump"))
	}
	target, err := l.debugTarget(s.img)
	if err != nil {
		l.log.Info("core without symbols", "boot", s.boot, "err", err)
		target = flavor.DebugTarget{Arch: flavor.ArchX86_64}
	}
	if target.File != "" {
		// The flavor's file is a private copy that goes with the build
		// (or with ukdev): the core keeps its own.
		keep := strings.TrimSuffix(path, ".core") + ".debug"
		if err := os.Remove(keep); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return CoreDump{}, fmt.Errorf("devloop: dump core of boot #%d: %w", s.boot, err)
		}
		if err := copyFile(target.File, keep); err != nil {
			l.log.Info("core: keeping the debug file", "boot", s.boot, "err", err)
		} else {
			target.File = keep
		}
	}
	return CoreDump{Path: path, GDB: gdbCoreArgs(target, path)}, nil
}

// corePath is boot n's core file: its console log's name with .core.
func (l *Loop) corePath(n int) string {
	return strings.TrimSuffix(l.store.Path(n), ".log") + ".core"
}

// gdbCoreArgs is the gdb command line that opens the core file at path
// with target's symbols. The architecture is left to the core: QEMU
// writes an x86-64 core for a vCPU in long mode and an i386 one
// otherwise, with registers of that size, and gdb reads an i386 core's
// registers wrongly once told i386:x86-64 (which the stub needs, since
// it always sends 64-bit registers).
func gdbCoreArgs(t flavor.DebugTarget, path string) []string {
	t.Arch = ""
	return append(gdbLoadArgs(t), "-ex", "core-file "+gdbQuote(path))
}

// unsupported explains err when it says the backend cannot do what
// (errors.ErrUnsupported): the VM runs on a host whose backend lacks it.
// Other errors are returned as they are; errors.Is still finds
// ErrUnsupported.
func (l *Loop) unsupported(err error, what string) error {
	if !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	if l.opts.Host == "" {
		return fmt.Errorf("%s is not available with this VM backend: %w", what, err)
	}
	return fmt.Errorf("%s is not available for a VM on the libvirt host %s (run it here with --on local): %w", what, l.opts.Host, err)
}
