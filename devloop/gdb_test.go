package devloop

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ukdev/ukdev/flavor"
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/project"
)

// debugKernel is a fakeKernel that tells gdb what to load: target, with
// File set to the image's symbols.
type debugKernel struct {
	*fakeKernel
	target flavor.DebugTarget
}

func (k *debugKernel) DebugTarget(_ *project.Config, img image.Image) (flavor.DebugTarget, error) {
	t := k.target
	t.File = img.Kernel
	return t, nil
}

func TestGDBArgs(t *testing.T) {
	tests := []struct {
		name   string
		target flavor.DebugTarget
		addr   string
		want   []string
	}{
		{
			name:   "a kernel at its link addresses, on a unix socket",
			target: flavor.DebugTarget{File: "/run/u/images/build-000001/kernel", Arch: "i386:x86-64"},
			addr:   "/run/u/gdb-1.sock",
			want: []string{"gdb", "-q", "-ex", "set architecture i386:x86-64", "/run/u/images/build-000001/kernel",
				"-ex", "target remote /run/u/gdb-1.sock"},
		},
		{
			name:   "a PIE at an offset, commands, a loopback port",
			target: flavor.DebugTarget{File: "/tmp/my dir/prog", Arch: "i386:x86-64", Offset: 0x400000, Commands: []string{"set pagination off"}},
			addr:   "127.0.0.1:1234",
			want: []string{"gdb", "-q", "-ex", "set architecture i386:x86-64", "-ex", `symbol-file -o 0x400000 "/tmp/my dir/prog"`,
				"-ex", "set pagination off", "-ex", "target remote 127.0.0.1:1234"},
		},
		{
			name: "no file, no architecture",
			addr: "/s",
			want: []string{"gdb", "-q", "-ex", "target remote /s"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := gdbArgs(tt.target, tt.addr); !slices.Equal(got, tt.want) {
				t.Errorf("gdbArgs =\n %q\nwant\n %q", got, tt.want)
			}
		})
	}
}

func TestShellJoin(t *testing.T) {
	tests := []struct {
		words []string
		want  string
	}{
		{[]string{"gdb", "-q", "/run/user/1000/ukdev/x-1/gdb-1.sock"}, "gdb -q /run/user/1000/ukdev/x-1/gdb-1.sock"},
		{[]string{"-ex", "set architecture i386:x86-64"}, "-ex 'set architecture i386:x86-64'"},
		{[]string{"it's", "$HOME", "a;b", ""}, `'it'\''s' '$HOME' 'a;b' ''`},
	}
	for _, tt := range tests {
		if got := ShellJoin(tt.words); got != tt.want {
			t.Errorf("ShellJoin(%q) = %s, want %s", tt.words, got, tt.want)
		}
	}
}

// TestLoopGDBWaitsForDebugger: with Options.GDB a boot starts with its
// stub open and its guest paused, says how to attach, and is left to the
// debugger; the pause key still starts it.
func TestLoopGDBWaitsForDebugger(t *testing.T) {
	h := newHarness(t, harnessOptions{gdb: true, debug: &flavor.DebugTarget{Arch: "i386:x86-64", Note: "a note"}})
	h.run()
	h.bld.next(t).finish(0)
	m := h.be.next(t)
	sock := filepath.Join(h.l.runDir, "gdb-1.sock")
	if m.spec.GDB != "unix:"+sock || !m.spec.StartPaused {
		t.Errorf("spec GDB %q, paused %v; want unix:%s, paused", m.spec.GDB, m.spec.StartPaused, sock)
	}
	e := h.wait(TypeVMGDB, isBoot(1))
	wantArgs := []string{"gdb", "-q", "-ex", "set architecture i386:x86-64", m.spec.Image.Kernel, "-ex", "target remote " + sock}
	if e.Address != sock || !slices.Equal(e.Args, wantArgs) || e.Command != ShellJoin(wantArgs) || e.Detail != "a note" || e.Build != 1 {
		t.Errorf("vm.gdb %+v\nwant address %s, args %q", e, sock, wantArgs)
	}
	if !strings.Contains(e.Message, ShellJoin(wantArgs)) || !strings.HasSuffix(e.Message, "(note: a note)") {
		t.Errorf("vm.gdb message %q does not give the command line", e.Message)
	}
	waitFor(t, "the live VM", func() bool { info, ok := h.l.Current(); return ok && info.PID == m.pid })
	if slices.Contains(m.callList(), "resume") {
		t.Fatalf("the guest was resumed: %q", m.callList())
	}
	// The stub is open already: OpenGDB gives the same session.
	s, err := h.l.OpenGDB(t.Context(), false)
	if err != nil || s.Address != sock || !slices.Equal(s.Args, wantArgs) {
		t.Errorf("OpenGDB = %+v, %v", s, err)
	}
	if slices.ContainsFunc(m.callList(), func(c string) bool { return strings.HasPrefix(c, "gdbserver") }) {
		t.Errorf("OpenGDB reopened the stub: %q", m.callList())
	}
	h.l.TogglePause()
	waitFor(t, "the guest resumed", func() bool { return slices.Contains(m.callList(), "resume") })
	m.print(t, "hello\r\n")
	if e := h.wait(TypeVMConsole, isBoot(1)); e.Line != "hello" {
		t.Errorf("console %q", e.Line)
	}
	if h.sawType(TypeReload) {
		t.Error("a boot that waited for gdb reported a save → running time")
	}
}

func TestLoopOpenGDB(t *testing.T) {
	h := newHarness(t, harnessOptions{debug: &flavor.DebugTarget{Arch: "i386:x86-64", Offset: 0x400000}})
	h.run()
	if _, err := h.l.OpenGDB(t.Context(), false); !errors.Is(err, ErrNoVM) {
		t.Errorf("OpenGDB without a VM = %v, want ErrNoVM", err)
	}
	m := h.boot()
	if m.spec.GDB != "" {
		t.Errorf("spec.GDB = %q without Options.GDB", m.spec.GDB)
	}
	sock := filepath.Join(h.l.runDir, "gdb-1.sock")
	s, err := h.l.OpenGDB(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	wantArgs := []string{"gdb", "-q", "-ex", "set architecture i386:x86-64", "-ex", "symbol-file -o 0x400000 " + m.spec.Image.Kernel,
		"-ex", "target remote " + sock}
	if s.Address != sock || !slices.Equal(s.Args, wantArgs) {
		t.Errorf("OpenGDB = %+v\nwant %s, %q", s, sock, wantArgs)
	}
	if e := h.wait(TypeVMGDB, isBoot(1)); e.Address != sock || e.Command != s.CommandLine() {
		t.Errorf("vm.gdb %+v", e)
	}
	// Again: the same stub, not reopened (a debugger may be attached).
	if again, err := h.l.OpenGDB(t.Context(), false); err != nil || again.Address != sock {
		t.Errorf("OpenGDB again = %+v, %v", again, err)
	}
	// A loopback port replaces the socket.
	tcp, err := h.l.OpenGDB(t.Context(), true)
	if err != nil || !strings.HasPrefix(tcp.Address, "127.0.0.1:") || tcp.Args[len(tcp.Args)-1] != "target remote "+tcp.Address {
		t.Errorf("OpenGDB(tcp) = %+v, %v", tcp, err)
	}
	var stubs []string
	for _, c := range m.callList() {
		if strings.HasPrefix(c, "gdbserver ") {
			stubs = append(stubs, c)
		}
	}
	if want := []string{"gdbserver unix:" + sock, "gdbserver tcp:" + tcp.Address}; !slices.Equal(stubs, want) {
		t.Errorf("stubs opened %q, want %q", stubs, want)
	}

	// QEMU refusing the stub is an error.
	m.mu.Lock()
	m.gdbErr = errors.New("refused")
	m.mu.Unlock()
	if _, err := h.l.OpenGDB(t.Context(), false); err == nil {
		t.Error("OpenGDB succeeded though QEMU refused the stub")
	}
	// Refusing closed the old (tcp) stub too: the next call opens one
	// again.
	m.mu.Lock()
	m.gdbErr = nil
	m.mu.Unlock()
	if _, err := h.l.OpenGDB(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	if calls := m.callList(); !strings.HasPrefix(calls[len(calls)-1], "gdbserver tcp:127.0.0.1:") {
		t.Errorf("no stub opened after a refused one: %q", calls)
	}
}

func TestLoopOpenGDBFlavorWithoutDebugger(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.run()
	h.boot()
	if _, err := h.l.OpenGDB(t.Context(), false); !errors.Is(err, ErrNoDebugger) {
		t.Errorf("OpenGDB = %v, want ErrNoDebugger", err)
	}
}
