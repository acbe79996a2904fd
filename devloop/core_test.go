package devloop

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ukdev/ukdev/flavor"
	"github.com/ukdev/ukdev/image"
)

func TestGDBCoreArgs(t *testing.T) {
	tests := []struct {
		name   string
		target flavor.DebugTarget
		core   string
		want   []string
	}{
		{
			name:   "a kernel at its link addresses",
			target: flavor.DebugTarget{File: "/s/images/build-000001/kernel", Arch: "i386:x86-64"},
			core:   "/s/boots/boot-000001.core",
			want:   []string{"gdb", "-q", "/s/images/build-000001/kernel", "-ex", "core-file /s/boots/boot-000001.core"},
		},
		{
			name:   "a program at an offset, in a directory with a space",
			target: flavor.DebugTarget{File: "/s/prog", Arch: "i386:x86-64", Offset: 0x1000, Commands: []string{"set pagination off"}},
			core:   "/my state/boot-000002.core",
			want: []string{"gdb", "-q", "-ex", "symbol-file -o 0x1000 /s/prog",
				"-ex", "set pagination off", "-ex", `core-file "/my state/boot-000002.core"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := gdbCoreArgs(tt.target, tt.core); !slices.Equal(got, tt.want) {
				t.Errorf("gdbCoreArgs =\n %q\nwant\n %q", got, tt.want)
			}
		})
	}
}

// DumpCore writes the live VM's core beside its boot's log, also once the
// guest has crashed and the VM is frozen, and says how gdb opens it.
func TestLoopDumpCore(t *testing.T) {
	h := newHarness(t, harnessOptions{debug: &flavor.DebugTarget{Arch: "i386:x86-64"}})
	h.run()
	if _, err := h.l.DumpCore(t.Context()); !errors.Is(err, ErrNoVM) {
		t.Errorf("DumpCore without a VM = %v, want ErrNoVM", err)
	}
	m := h.boot()
	m.crash(image.Outcome{Kind: image.GuestPanicked, Detail: "panic"})
	h.wait(TypeVMExit, isBoot(1))

	// The fake flavor's image is the kernel file itself; a missing one
	// leaves gdb on its path.
	c, err := h.l.DumpCore(t.Context())
	if err != nil || !slices.Contains(c.GDB, m.spec.Image.Kernel) {
		t.Fatalf("DumpCore without the kernel file = %q, %v", c.GDB, err)
	}
	if err := os.WriteFile(m.spec.Image.Kernel, []byte("\x7fELF kernel"), 0o444); err != nil {
		t.Fatal(err)
	}
	c, err = h.l.DumpCore(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(h.l.Store().Dir(), "boot-000001.core")
	if c.Path != want {
		t.Errorf("core at %s, want %s beside the boot's log", c.Path, want)
	}
	if _, err := os.Stat(c.Path); err != nil {
		t.Errorf("no core: %v", err)
	}
	debug := filepath.Join(h.l.Store().Dir(), "boot-000001.debug")
	wantGDB := []string{"gdb", "-q", debug, "-ex", "core-file " + want}
	if !slices.Equal(c.GDB, wantGDB) || c.CommandLine() != ShellJoin(wantGDB) {
		t.Errorf("gdb command %q, want %q", c.GDB, wantGDB)
	}
	// The debug file is the build's, kept beside the core.
	kernel, err := os.ReadFile(m.spec.Image.Kernel)
	if err != nil {
		t.Fatal(err)
	}
	if kept, err := os.ReadFile(debug); err != nil || string(kept) != string(kernel) {
		t.Errorf("the debug file beside the core: %v", err)
	}
	// Again: both are replaced.
	if _, err := h.l.DumpCore(t.Context()); err != nil {
		t.Errorf("a second DumpCore: %v", err)
	}

	m.mu.Lock()
	m.coreErr = errors.New("dump refused")
	m.mu.Unlock()
	if _, err := h.l.DumpCore(t.Context()); err == nil {
		t.Error("DumpCore succeeded though the machine refused the dump")
	}
}

// A flavor that names no debug file still gets its core, opened by gdb
// without symbols.
func TestLoopDumpCoreWithoutDebugger(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.run()
	h.boot()
	c, err := h.l.DumpCore(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"gdb", "-q", "-ex", "core-file " + c.Path}; !slices.Equal(c.GDB, want) {
		t.Errorf("gdb command %q, want %q", c.GDB, want)
	}
}

// TestUnsupported checks how a backend's errors.ErrUnsupported is
// explained: where the VM runs and how to run it here, still
// errors.ErrUnsupported underneath; other errors are left alone.
func TestUnsupported(t *testing.T) {
	other := errors.New("disk full")
	tests := []struct {
		name, host string
		err        error
		want       string
	}{
		{name: "libvirt host", host: "qemu+ssh://big/system", err: fmt.Errorf("libvirt: dump core: %w", errors.ErrUnsupported),
			want: "a core dump is not available for a VM on the libvirt host qemu+ssh://big/system (run it here with --on local): libvirt: dump core: unsupported operation"},
		{name: "here", err: errors.ErrUnsupported,
			want: "a core dump is not available with this VM backend: unsupported operation"},
		{name: "another error", host: "qemu:///system", err: other, want: "disk full"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &Loop{opts: Options{Host: tt.host}}
			err := l.unsupported(tt.err, "a core dump")
			if err.Error() != tt.want || !errors.Is(err, tt.err) {
				t.Errorf("unsupported = %q, want %q wrapping %v", err, tt.want, tt.err)
			}
		})
	}
}
