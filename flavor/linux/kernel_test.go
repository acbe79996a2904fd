package linux

import (
	"bytes"
	"debug/elf"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ukdev/ukdev/flavor/linux/initramfs"
	"github.com/ukdev/ukdev/guestexit"
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/image/imagetest"
)

// fakeBzImage writes a file Inspect takes for a Linux bzImage.
func fakeBzImage(t *testing.T) string {
	t.Helper()
	return imagetest.WriteTemp(t, "vmlinuz", imagetest.Raw(1024, imagetest.Placed{Off: 0x202, Data: []byte("HdrS")}))
}

func TestPrepare(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "motd"), []byte("welcome"), 0o644))
	l, err := New(Options{
		Kernel:  fakeBzImage(t),
		Dir:     dir,
		Cmdline: "loglevel=4",
		TSCKHz:  2694870,
		Files: []initramfs.File{
			{Path: "/etc/motd", Host: "motd"},
			{Path: "/etc/resolv.conf", Data: []byte("nameserver 10.0.2.3\n")},
		},
	})
	must(t, err)
	store := &image.Store{Dir: t.TempDir(), Keep: 2}
	program := imagetest.StaticProgram(t, t.TempDir(), "app")
	img, err := l.Prepare(t.Context(), store, 7, image.Artifacts{Kernel: program, Cmdline: "-- -addr :9090"})
	must(t, err)

	build := store.BuildDir(7)
	checks := []struct {
		name      string
		got, want string
	}{
		{"kernel", img.Kernel, filepath.Join(build, "vmlinuz")},
		{"initrd", img.Initrd, filepath.Join(build, "initrd.cpio")},
		{"symbols", img.Symbols, filepath.Join(build, "kernel")},
		{"cmdline", img.Cmdline, BaseCmdline + " " + NoNestedKVM + " tsc_early_khz=2694870 loglevel=4 -- -addr :9090"},
		{"machine", img.Machine, DefaultMachine},
		{"machine options", img.MachineOptions, MachineOptions},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if img.Build != 7 || !img.Balloon || !img.RNG || img.DebugExit || img.PVPanic || img.Protocols != image.LinuxBoot {
		t.Errorf("image %+v", img)
	}
	for _, p := range []string{img.Kernel, img.Initrd, img.Symbols} {
		fi, err := os.Stat(p)
		must(t, err)
		if fi.Mode().Perm()&0o222 != 0 {
			t.Errorf("%s has mode %v, want read-only", p, fi.Mode())
		}
	}
	cpio, err := os.ReadFile(img.Initrd)
	must(t, err)
	prog, err := os.ReadFile(program)
	must(t, err)
	for _, want := range [][]byte{[]byte("init\x00"), prog, []byte("etc/motd\x00"), []byte("welcome"), []byte("nameserver 10.0.2.3"), []byte("TRAILER!!!\x00")} {
		if !bytes.Contains(cpio, want) {
			t.Errorf("initramfs lacks %.20q", want)
		}
	}
	if !strings.Contains(string(cpio), "000081ed") {
		t.Errorf("no entry with mode 0100755 (/init) in the initramfs")
	}

	// A second build gets its own files; the first stays intact.
	img2, err := l.Prepare(t.Context(), store, 8, image.Artifacts{Kernel: program})
	must(t, err)
	if img2.Initrd == img.Initrd || img2.Cmdline != BaseCmdline+" "+NoNestedKVM+" tsc_early_khz=2694870 loglevel=4" {
		t.Errorf("second image %+v", img2)
	}
	if _, err := os.Stat(img.Initrd); err != nil {
		t.Errorf("first build's initrd gone: %v", err)
	}
}

func TestPrepareErrors(t *testing.T) {
	l, err := New(Options{Kernel: fakeBzImage(t)})
	must(t, err)
	dir := t.TempDir()
	notELF := imagetest.ShellScript(t, dir, "script")
	elf32 := imagetest.Program32(t, dir, "elf32")
	tests := []struct {
		name    string
		program string
		is      error
		want    string
	}{
		{"none configured", "", nil, "no program configured"},
		{"missing", filepath.Join(dir, "missing"), image.ErrMissingArtifact, "build output missing"},
		{"not ELF", notELF, image.ErrNotBootable, "not an ELF program"},
		{"32-bit", elf32, image.ErrNotBootable, "x86-64"},
	}
	if f, err := elf.Open("/bin/true"); err == nil {
		interp := ""
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				interp, _ = readInterp(p)
			}
		}
		f.Close()
		if interp != "" {
			tests = append(tests, struct {
				name    string
				program string
				is      error
				want    string
			}{"dynamic", "/bin/true", image.ErrNotBootable, "CGO_ENABLED=0"})
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &image.Store{Dir: t.TempDir()}
			_, err := l.Prepare(t.Context(), store, 1, image.Artifacts{Kernel: tt.program})
			if err == nil || !strings.Contains(err.Error(), tt.want) || (tt.is != nil && !errors.Is(err, tt.is)) {
				t.Fatalf("Prepare(%s) = %v, want %q wrapping %v", tt.program, err, tt.want, tt.is)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	kernel := fakeBzImage(t)
	notLinux := imagetest.WriteTemp(t, "elf", imagetest.ELF{Class: elf.ELFCLASS64, Load: []byte{0xf4}}.Bytes())
	tests := []struct {
		name string
		opts Options
		is   error
		want string
	}{
		{"second init", Options{Kernel: kernel, Files: []initramfs.File{{Path: "init", Data: []byte("x")}}}, ErrConfig, "/init is the program"},
		{"missing host file", Options{Kernel: kernel, Dir: t.TempDir(), Files: []initramfs.File{{Path: "/a", Host: "nope"}}}, ErrConfig, "missing or not a regular file"},
		{"missing kernel", Options{Kernel: filepath.Join(t.TempDir(), "vmlinuz")}, fs.ErrNotExist, "vmlinuz"},
		{"not a bzImage", Options{Kernel: notLinux}, image.ErrNotBootable, "not a Linux bzImage"},
		{"no go command", Options{Go: filepath.Join(t.TempDir(), "go")}, ErrNoGo, "linux.kernel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts)
			if err == nil || !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want %q wrapping %v", err, tt.want, tt.is)
			}
		})
	}
}

// fakeGo writes a go command that prints stdout and exits with code.
func fakeGo(t *testing.T, stdout, stderr string, code int) string {
	t.Helper()
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "out"), []byte(stdout), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "err"), []byte(stderr), 0o644))
	script := "#!/bin/sh\necho \"$@\" > " + dir + "/args\ncat " + dir + "/out\ncat " + dir + "/err >&2\nexit " + string(rune('0'+code)) + "\n"
	p := filepath.Join(dir, "go")
	must(t, os.WriteFile(p, []byte(script), 0o755))
	return p
}

func TestResolveKernel(t *testing.T) {
	mod := t.TempDir()
	must(t, os.WriteFile(filepath.Join(mod, "vmlinuz"), []byte("k"), 0o444))
	empty := t.TempDir()
	tests := []struct {
		name    string
		goCmd   string
		version string
		want    string
		is      error
		errText string
	}{
		{name: "found", goCmd: fakeGo(t, `{"Path":"m","Dir":"`+mod+`"}`, "", 0), want: filepath.Join(mod, "vmlinuz")},
		{name: "module error", goCmd: fakeGo(t, `{"Path":"m","Error":"unknown revision v9"}`, "", 1), errText: "unknown revision v9"},
		{name: "go fails", goCmd: fakeGo(t, "", "dial tcp: no route to host", 1), errText: "no route to host"},
		{name: "garbage", goCmd: fakeGo(t, "not json", "", 0), errText: "unreadable answer"},
		{name: "no dir", goCmd: fakeGo(t, `{"Path":"m"}`, "", 0), errText: "no module directory"},
		{name: "no vmlinuz", goCmd: fakeGo(t, `{"Path":"m","Dir":"`+empty+`"}`, "", 0), errText: "has no vmlinuz"},
		{name: "bad version", goCmd: fakeGo(t, "", "", 0), version: "v1 x", errText: "not a module version"},
		{name: "no go", goCmd: filepath.Join(empty, "go"), is: ErrNoGo, errText: "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveKernel(tt.goCmd, tt.version)
			if tt.errText == "" {
				must(t, err)
				if got != tt.want {
					t.Errorf("kernel %q, want %q", got, tt.want)
				}
				args, _ := os.ReadFile(filepath.Join(filepath.Dir(tt.goCmd), "args"))
				if want := "mod download -json " + KernelModule + "@" + DefaultKernelVersion + "\n"; string(args) != want {
					t.Errorf("go called with %q, want %q", args, want)
				}
				return
			}
			var le *KernelError
			if !errors.As(err, &le) || !strings.Contains(err.Error(), tt.errText) || (tt.is != nil && !errors.Is(err, tt.is)) {
				t.Fatalf("ResolveKernel = %q, %v; want a *KernelError containing %q", got, err, tt.errText)
			}
			if !strings.Contains(err.Error(), "linux.kernel") {
				t.Errorf("error %q does not say how to avoid the download", err)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		o    image.Outcome
		want guestexit.Reason
		code int
	}{
		{image.Outcome{Kind: image.GuestReset, Detail: "guest-reset"}, guestexit.ReasonCrash, -1},
		{image.Outcome{Kind: image.GuestShutdown}, guestexit.ReasonExit, 0},
		{image.Outcome{Kind: image.GuestPanicked}, guestexit.ReasonPanic, -1},
		{image.Outcome{Kind: image.QEMUExited, Status: 0}, guestexit.ReasonKilled, -1},
		{image.Outcome{Kind: image.QEMUExited, Status: 7}, guestexit.ReasonQEMUError, -1},
		{image.Outcome{Kind: image.QEMUExited, Status: -1, Signal: "killed"}, guestexit.ReasonKilled, -1},
		{image.Outcome{Kind: image.StoppedByHost}, guestexit.ReasonKilled, -1},
		{image.Outcome{Kind: image.StartFailed, Detail: "no such file"}, guestexit.ReasonQEMUError, -1},
	}
	var l Kernel
	for _, tt := range tests {
		e := l.Decode(tt.o)
		if e.Reason != tt.want || (tt.code >= 0) != e.HasCode || (e.HasCode && e.Code != tt.code) {
			t.Errorf("Decode(%+v) = %v, want %s code %d", tt.o, e, tt.want, tt.code)
		}
	}
}

func linuxTranscript(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	must(t, err)
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

func TestExplain(t *testing.T) {
	crashed := guestexit.Exit{Reason: guestexit.ReasonCrash, Detail: "guest reset"}
	killSig := []string{"[    1.8] Kernel panic - not syncing: Attempted to kill init! exitcode=0x0000008b"}
	tests := []struct {
		name       string
		in         guestexit.Exit
		console    []string
		want       guestexit.Exit
		crash      bool
		message    string
		frames     []string
		lastLine   string
		kernelOffs uint64
	}{
		{name: "init exits 3", in: crashed, console: linuxTranscript(t, "linux-exit3.txt"),
			want: guestexit.Exit{Reason: guestexit.ReasonExit, Code: 3, HasCode: true, Detail: "/init exited with status 3"}},
		{name: "init exits 0", in: crashed, console: []string{"Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000000"},
			want: guestexit.Exit{Reason: guestexit.ReasonExit, Code: 0, HasCode: true, Detail: "/init exited"}},
		{name: "Go panic", in: crashed, console: linuxTranscript(t, "linux-gopanic.txt"),
			want:  guestexit.Exit{Reason: guestexit.ReasonExit, Code: 2, HasCode: true, Detail: "Go panic: assignment to entry in nil map in main.main+0x245 (/tmp/linexp/crasher/main.go:20)"},
			crash: true, message: "panic: assignment to entry in nil map", frames: []string{"main.main+0x245 (/tmp/linexp/crasher/main.go:20)"}},
		{name: "init killed by a signal", in: crashed, console: killSig,
			want: guestexit.Exit{Reason: guestexit.ReasonCrash, Detail: "/init killed by SIGSEGV (core dumped)"}, crash: true,
			message: "Attempted to kill init! exitcode=0x0000008b", lastLine: killSig[0][10:]},
		{name: "oops", in: crashed, console: linuxTranscript(t, "linux-oops.txt"),
			want: guestexit.Exit{Reason: guestexit.ReasonCrash, Detail: "kernel panic: Fatal exception"}, crash: true, message: "Fatal exception",
			frames:   []string{"sysrq_handle_crash+0x16", "__handle_sysrq+0x9a", "write_sysrq_trigger+0x5e", "vfs_write+0xf6", "ksys_write+0x6f", "do_syscall_64+0x82", "entry_SYSCALL_64_after_hwframe+0x76", "0x4805ee"},
			lastLine: "---[ end Kernel panic - not syncing: Fatal exception ]---", kernelOffs: 0x2a800000},
		{name: "no panic on the console", in: crashed, console: []string{"hello", "[ 1.0] reboot: Restarting system"}, want: crashed},
		{name: "stopped by the host", in: guestexit.Exit{Reason: guestexit.ReasonKilled}, console: linuxTranscript(t, "linux-exit3.txt"), want: guestexit.Exit{Reason: guestexit.ReasonKilled}},
	}
	var l Kernel
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, c := l.Explain(tt.in, tt.console, image.Image{})
			if got != tt.want {
				t.Errorf("exit %+v, want %+v", got, tt.want)
			}
			if (c != nil) != tt.crash {
				t.Fatalf("crash %+v, want one: %v", c, tt.crash)
			}
			if c == nil {
				return
			}
			if c.Message != tt.message {
				t.Errorf("message %q, want %q", c.Message, tt.message)
			}
			if tt.frames != nil {
				var fs []string
				for _, f := range c.Frames {
					fs = append(fs, f.String())
				}
				if strings.Join(fs, "|") != strings.Join(tt.frames, "|") {
					t.Errorf("frames\n got %q\nwant %q", fs, tt.frames)
				}
			}
			if tt.lastLine != "" && c.Lines[len(c.Lines)-1] != tt.lastLine {
				t.Errorf("last line %q, want %q", c.Lines[len(c.Lines)-1], tt.lastLine)
			}
			if c.KernelOffset != tt.kernelOffs {
				t.Errorf("kernel offset %#x, want %#x", c.KernelOffset, tt.kernelOffs)
			}
		})
	}
}

func TestParseConsoleReport(t *testing.T) {
	p, ok := ParseConsole(linuxTranscript(t, "linux-exit3.txt"))
	if !ok || !p.InitExited || p.InitStatus != 0x300 {
		t.Fatalf("parse = %+v, %v", p, ok)
	}
	c := p.Crash
	if c.Lines[0] != "Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000300" {
		t.Errorf("first line %q", c.Lines[0])
	}
	if len(c.Frames) < 3 || c.Frames[0].Func != "vpanic" || c.Frames[0].Offset != 0x303 || !c.Frames[0].Kernel {
		t.Errorf("frames %+v", c.Frames)
	}
	for _, f := range c.Frames {
		if strings.HasPrefix(f.Func, "__pfx_") || f.Func == "futex_wait" {
			t.Errorf("unreliable frame %+v kept", f)
		}
	}
	if c.RIP != 0x480da3 || c.Registers["rax"] != 0xfffffffffffffe00 || c.KernelOffset != 0x2a800000 {
		t.Errorf("rip %#x rax %#x offset %#x", c.RIP, c.Registers["rax"], c.KernelOffset)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestDiskCmdline(t *testing.T) {
	tests := []struct {
		in   string
		drop []string
		want string
	}{
		{in: BaseCmdline, want: "console=ttyS0 panic=-1 quiet ip=dhcp"},
		{in: BaseCmdline + " tsc_early_khz=2694870 loglevel=7", drop: []string{"tsc_early_khz=2694870"}, want: "console=ttyS0 panic=-1 quiet ip=dhcp loglevel=7"},
		{in: BaseCmdline + " tsc_early_khz=1000000", drop: []string{"tsc_early_khz=2694870"}, want: "console=ttyS0 panic=-1 quiet ip=dhcp tsc_early_khz=1000000"},
		{in: BaseCmdline, drop: []string{""}, want: "console=ttyS0 panic=-1 quiet ip=dhcp"},
		{in: BaseCmdline + " loglevel=7 -- -addr :8080", want: "console=ttyS0 panic=-1 quiet ip=dhcp loglevel=7 -- -addr :8080"},
		{in: BaseCmdline + " ip=192.168.1.5::192.168.1.1:255.255.255.0::eth0:off", want: "console=ttyS0 panic=-1 quiet ip=dhcp ip=192.168.1.5::192.168.1.1:255.255.255.0::eth0:off"},
		{in: "console=ttyS0", want: "console=ttyS0"},
	}
	for _, tt := range tests {
		if got := DiskCmdline(tt.in, tt.drop...); got != tt.want {
			t.Errorf("DiskCmdline(%q, %q) = %q, want %q", tt.in, tt.drop, got, tt.want)
		}
	}
}
