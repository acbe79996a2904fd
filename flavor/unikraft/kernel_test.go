package unikraft

import (
	"debug/elf"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ukdev/ukdev/flavor"
	"github.com/ukdev/ukdev/guestexit"
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/image/imagetest"
)

var (
	_ flavor.Kernel           = (*Kernel)(nil)
	_ flavor.ConsoleExplainer = (*Kernel)(nil)
	_ flavor.ConsoleParser    = (*Kernel)(nil)
	_ flavor.ConsoleFilterer  = (*Kernel)(nil)
	_ flavor.ArtifactLocator  = (*Kernel)(nil)
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		o    image.Outcome
		want guestexit.Exit
	}{
		{"crash through isa-debug-exit", image.Outcome{Kind: image.QEMUExited, Status: 85}, guestexit.Exit{Reason: guestexit.ReasonCrash, Detail: "Unikraft crashed (QEMU status 85)"}},
		{"halt through isa-debug-exit", image.Outcome{Kind: image.QEMUExited, Status: 83}, guestexit.Exit{Reason: guestexit.ReasonExit, HasCode: true, Detail: "Unikraft halted"}},
		{"ACPI power-off, paused", image.Outcome{Kind: image.GuestShutdown, Status: -1}, guestexit.Exit{Reason: guestexit.ReasonExit, HasCode: true, Detail: "Unikraft halted (guest powered off)"}},
		{"ACPI power-off, QEMU exits 0", image.Outcome{Kind: image.QEMUExited, Status: 0}, guestexit.Exit{Reason: guestexit.ReasonExit, HasCode: true, Detail: "Unikraft halted (QEMU exited 0)"}},
		{"QEMU terminated by SIGTERM", image.Outcome{Kind: image.QEMUExited, Status: 0, Detail: "qemu-system-x86_64: terminating on signal 15 from pid 7"}, guestexit.Exit{Reason: guestexit.ReasonKilled, Detail: "QEMU quit"}},
		{"pvpanic", image.Outcome{Kind: image.GuestPanicked, Status: -1}, guestexit.Exit{Reason: guestexit.ReasonPanic, Detail: "guest reported a panic; VM paused for inspection"}},
		{"other odd status is a code", image.Outcome{Kind: image.QEMUExited, Status: 7}, guestexit.Exit{Reason: guestexit.ReasonExit, Code: 3, HasCode: true}},
		{"QEMU error", image.Outcome{Kind: image.QEMUExited, Status: 1, Detail: "qemu: could not load kernel"}, guestexit.Exit{Reason: guestexit.ReasonQEMUError, Detail: "qemu: could not load kernel"}},
		{"killed", image.Outcome{Kind: image.QEMUExited, Status: -1, Signal: "killed"}, guestexit.Exit{Reason: guestexit.ReasonKilled, Detail: "QEMU killed by killed"}},
		{"triple fault", image.Outcome{Kind: image.GuestReset, Status: -1}, guestexit.Exit{Reason: guestexit.ReasonCrash, Detail: "triple fault or guest reset; VM paused for inspection"}},
		{"stopped by ukdev", image.Outcome{Kind: image.StoppedByHost, Status: -1}, guestexit.Exit{Reason: guestexit.ReasonKilled, Detail: "stopped by ukdev"}},
	}
	u := &Kernel{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := u.Decode(tt.o); got != tt.want {
				t.Errorf("Decode(%+v) = %+v, want %+v", tt.o, got, tt.want)
			}
		})
	}
}

func TestCmdline(t *testing.T) {
	tests := []struct{ kernel, app, want string }{
		{"", "", ""},
		{"", "-p 8080", "-p 8080"},
		{"netdev.ip=10.0.2.15/24:10.0.2.2", "", "netdev.ip=10.0.2.15/24:10.0.2.2 --"},
		{" vfs.fstab=a ", " /app -v ", "vfs.fstab=a -- /app -v"},
	}
	for _, tt := range tests {
		if got := Cmdline(tt.kernel, tt.app); got != tt.want {
			t.Errorf("Cmdline(%q, %q) = %q, want %q", tt.kernel, tt.app, got, tt.want)
		}
	}
}

func TestBuildCommand(t *testing.T) {
	const ukMake = "UK_ROOT ?= $(PWD)/../unikraft\nLIBS :=\nall:\n\t@$(MAKE) -C $(UK_ROOT) A=$(PWD) L=$(LIBS)\n"
	const plainMake = "all:\n\tcc -o app app.c\n"
	const kraftfile = "spec: v0.6\nunikraft: stable\ntargets:\n- qemu/x86_64\n"
	tests := []struct {
		name      string
		files     fstest.MapFS
		kraftPath bool // the fake LookPath finds kraft
		wantCmd   string
		wantWhy   string // a substring of why
	}{
		{"Kraftfile and kraft", fstest.MapFS{"Kraftfile": {Data: []byte(kraftfile)}}, true, KraftBuildCommand, "Kraftfile found and kraft is installed"},
		{"kraft.yaml and kraft", fstest.MapFS{"kraft.yaml": {Data: []byte(kraftfile)}}, true, KraftBuildCommand, "kraft.yaml found"},
		{"Kraftfile and Makefile, no kraft", fstest.MapFS{"Kraftfile": {Data: []byte(kraftfile)}, "Makefile": {Data: []byte(ukMake)}}, false, "make -j2", "kraft is not installed: building with the Unikraft Makefile"},
		{"Kraftfile and Makefile, kraft", fstest.MapFS{"Kraftfile": {Data: []byte(kraftfile)}, "Makefile": {Data: []byte(ukMake)}}, true, KraftBuildCommand, "kraft is installed"},
		{"Unikraft Makefile only, kraft", fstest.MapFS{"Makefile": {Data: []byte(ukMake)}}, true, "make -j2", "a Unikraft Makefile (UK_ROOT) and no Kraftfile"},
		{"Makefile with A= only", fstest.MapFS{"GNUmakefile": {Data: []byte("all:\n\t$(MAKE) -C ../uk A=$(CURDIR) L=$(LIBS)\n")}}, false, "make -j2", "a Unikraft GNUmakefile"},
		{"Kraftfile, no kraft, no Makefile", fstest.MapFS{"Kraftfile": {Data: []byte(kraftfile)}}, false, KraftBuildCommand, "kraft is not installed (and there is no Unikraft Makefile)"},
		{"plain Makefile", fstest.MapFS{"Makefile": {Data: []byte(plainMake)}}, false, "make -j2", "does not name UK_ROOT"},
		{"nothing", fstest.MapFS{"main.c": {Data: []byte("int main;")}}, true, "", "set build.command"},
		{"Kraftfile is a directory", fstest.MapFS{"Kraftfile/x": {Data: []byte("x")}}, true, "", "no Kraftfile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lookPath := func(name string) (string, error) {
				if name == "kraft" && tt.kraftPath {
					return "/usr/local/bin/kraft", nil
				}
				return "", exec.ErrNotFound
			}
			p := InspectProject(tt.files)
			cmd, why := buildCommand(p, KraftInstalled(lookPath), 2)
			if cmd != tt.wantCmd {
				t.Errorf("command = %q, want %q", cmd, tt.wantCmd)
			}
			if !strings.Contains(why, tt.wantWhy) {
				t.Errorf("why = %q, want it to contain %q", why, tt.wantWhy)
			}
		})
	}

	t.Run("single CPU and a real directory", func(t *testing.T) {
		if cmd, _ := buildCommand(Project{Makefile: "Makefile"}, false, 1); cmd != "make" {
			t.Errorf("command = %q, want make", cmd)
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "Makefile"), []byte(ukMake), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd, why := BuildCommand(dir, false)
		if !strings.HasPrefix(cmd, "make") || !strings.Contains(why, "UK_ROOT") {
			t.Errorf("BuildCommand = %q, %q", cmd, why)
		}
		if ok, why := Detect(dir); !ok || why != "a Unikraft Makefile (UK_ROOT)" {
			t.Errorf("Detect = %v, %q", ok, why)
		}
		if ok, _ := Detect(t.TempDir()); ok {
			t.Error("Detect(empty dir) = true")
		}
	})
}

func TestFindKernel(t *testing.T) {
	old, now := time.Unix(1000, 0), time.Unix(2000, 0)
	tests := []struct {
		name  string
		files fstest.MapFS
		want  string // "" means fs.ErrNotExist
	}{
		{"kraft", fstest.MapFS{".unikraft/build/hello_qemu-x86_64": {}, ".unikraft/build/hello_qemu-x86_64.dbg": {}}, ".unikraft/build/hello_qemu-x86_64"},
		{"make", fstest.MapFS{"build/app-httpreply_qemu-x86_64": {}, "build/app-httpreply_qemu-x86_64.dbg": {}, "build/config": {}}, "build/app-httpreply_qemu-x86_64"},
		{"newest wins", fstest.MapFS{"build/a_qemu-x86_64": {ModTime: old}, ".unikraft/build/b_qemu-x86_64": {ModTime: now}}, ".unikraft/build/b_qemu-x86_64"},
		{"not built", fstest.MapFS{"build/hello_fc-x86_64": {}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := findKernel(tt.files)
			if tt.want == "" {
				if !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("findKernel = %q, %v; want fs.ErrNotExist", got, err)
				}
				return
			}
			if err != nil || got != filepath.FromSlash(tt.want) {
				t.Errorf("findKernel = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestPrepareRefuses(t *testing.T) {
	tests := []struct {
		name    string
		kernel  []byte // nil: missing
		missing bool
	}{
		{name: "the 64-bit .dbg", kernel: imagetest.ELF{Class: elf.ELFCLASS64, Load: imagetest.MultibootHeader(0, true)}.Bytes()},
		{name: "no boot header", kernel: []byte("not a kernel")},
		{name: "missing", missing: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			k := filepath.Join(dir, "app_qemu-x86_64")
			if tt.kernel != nil {
				if err := os.WriteFile(k, tt.kernel, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			u, err := New(Options{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = u.Prepare(t.Context(), &image.Store{Dir: filepath.Join(dir, "store"), Keep: 1}, 1, image.Artifacts{Kernel: k})
			if tt.missing {
				if !errors.Is(err, image.ErrMissingArtifact) {
					t.Errorf("Prepare = %v, want ErrMissingArtifact", err)
				}
				return
			}
			var fe *image.FormatError
			if !errors.As(err, &fe) || !errors.Is(err, image.ErrNotBootable) {
				t.Errorf("Prepare = %v, want a *FormatError wrapping ErrNotBootable", err)
			}
		})
	}
}

func TestNewChecksDebug(t *testing.T) {
	dir := t.TempDir()
	notELF := filepath.Join(dir, "app.dbg")
	if err := os.WriteFile(notELF, []byte("text"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Debug: notELF}); err == nil {
		t.Errorf("New(Debug: %s) = nil error", notELF)
	}
	// A debug file the first build has yet to make is not an error.
	if _, err := New(Options{Debug: filepath.Join(dir, "missing.dbg")}); err != nil {
		t.Errorf("New(Debug: missing) = %v, want nil", err)
	}
}
