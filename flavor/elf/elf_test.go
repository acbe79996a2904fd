package elf

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ukdev/ukdev/flavor"
	"github.com/ukdev/ukdev/guestexit"
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/image/imagetest"
)

var _ flavor.Kernel = Kernel{}

func TestPrepare(t *testing.T) {
	le := binary.LittleEndian
	tests := []struct {
		name        string
		kernel      []byte // nil means the kernel file is missing
		initrd      bool   // also pass an initrd that exists
		want        image.Protocols
		wantMachine string
		notBootable bool // a *FormatError wrapping ErrNotBootable
		missing     bool // errors.Is ErrMissingArtifact
	}{
		{name: "multiboot only", kernel: imagetest.Raw(64, imagetest.Placed{Off: 0, Data: imagetest.MultibootHeader(0, true)}), want: image.Multiboot, wantMachine: "pc"},
		{name: "multiboot ELF", kernel: imagetest.ELF{Class: elf.ELFCLASS32, Load: imagetest.MultibootHeader(0, true)}.Bytes(), want: image.Multiboot, wantMachine: "pc"},
		{name: "PVH ELF64", kernel: imagetest.ELF{Class: elf.ELFCLASS64, SegNotes: imagetest.PVHNote(le)}.Bytes(), want: image.PVH, wantMachine: "microvm"},
		{name: "PVH ELF32 with an initrd", kernel: imagetest.ELF{Class: elf.ELFCLASS32, SegNotes: imagetest.PVHNote(le)}.Bytes(), initrd: true, want: image.PVH, wantMachine: "microvm"},
		{name: "PVH and multiboot", kernel: imagetest.ELF{Class: elf.ELFCLASS64, SegNotes: imagetest.PVHNote(le), Load: imagetest.MultibootHeader(0, true)}.Bytes(), want: image.PVH | image.Multiboot, wantMachine: "microvm"},
		{name: "multiboot and multiboot2", kernel: imagetest.Raw(64, imagetest.Placed{Off: 0, Data: imagetest.Multiboot2Header(true)}, imagetest.Placed{Off: 32, Data: imagetest.MultibootHeader(0, true)}), want: image.Multiboot | image.Multiboot2, wantMachine: "pc"},
		{name: "Linux bzImage", kernel: imagetest.Raw(1024, imagetest.Placed{Off: 0x202, Data: []byte("HdrS")}), want: image.LinuxBoot, wantMachine: "q35"},
		{name: "multiboot2 only", kernel: imagetest.Raw(64, imagetest.Placed{Off: 0, Data: imagetest.Multiboot2Header(true)}), notBootable: true},
		{name: "PVH note only in a section", kernel: imagetest.ELF{Class: elf.ELFCLASS64, SectNotes: imagetest.PVHNote(le)}.Bytes(), notBootable: true},
		{name: "not a kernel", kernel: []byte("hello"), notBootable: true},
		{name: "empty kernel", kernel: []byte{}, notBootable: true},
		{name: "missing kernel", missing: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			a := image.Artifacts{Kernel: filepath.Join(dir, "kernel.elf"), Cmdline: "-- hello"}
			if tt.kernel != nil {
				if err := os.WriteFile(a.Kernel, tt.kernel, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tt.initrd {
				a.Initrd = filepath.Join(dir, "initrd")
				if err := os.WriteFile(a.Initrd, []byte("initrd"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			s := &image.Store{Dir: filepath.Join(dir, "images"), Keep: 2}

			img, err := Kernel{}.Prepare(t.Context(), s, 3, a)
			if errors.Is(err, image.ErrMissingArtifact) != tt.missing {
				t.Errorf("errors.Is(%v, ErrMissingArtifact) = %v, want %v", err, !tt.missing, tt.missing)
			}
			if errors.Is(err, image.ErrNotBootable) != tt.notBootable {
				t.Errorf("errors.Is(%v, ErrNotBootable) = %v, want %v", err, !tt.notBootable, tt.notBootable)
			}
			if tt.notBootable || tt.missing {
				if err == nil {
					t.Fatalf("Prepare = %+v, want an error", img)
				}
				var fe *image.FormatError
				if errors.As(err, &fe) != tt.notBootable {
					t.Errorf("errors.As(%v, *FormatError) = %v, want %v", err, !tt.notBootable, tt.notBootable)
				}
				if _, err := os.Stat(s.Dir); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("an unbootable build was copied into the store (stat: %v)", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Prepare: %v", err)
			}
			if img.Protocols != tt.want || img.Machine != tt.wantMachine {
				t.Errorf("Prepare = %v on %q, want %v on %q", img.Protocols, img.Machine, tt.want, tt.wantMachine)
			}
			if !img.DebugExit || !img.PVPanic {
				t.Errorf("Prepare: DebugExit %v, PVPanic %v, want both true", img.DebugExit, img.PVPanic)
			}
			if img.Build != 3 || img.Cmdline != a.Cmdline || img.Symbols != img.Kernel {
				t.Errorf("Prepare = build %d cmdline %q symbols %q, want 3, %q and the kernel copy", img.Build, img.Cmdline, img.Symbols, a.Cmdline)
			}
			imagetest.AssertCopy(t, s.Dir, img.Kernel, a.Kernel)
			if tt.initrd {
				imagetest.AssertCopy(t, s.Dir, img.Initrd, a.Initrd)
			}
		})
	}
}

func TestPrepareNoKernelConfigured(t *testing.T) {
	s := &image.Store{Dir: t.TempDir(), Keep: 1}
	img, err := Kernel{}.Prepare(t.Context(), s, 1, image.Artifacts{})
	if err == nil {
		t.Fatalf("Prepare = %+v, want an error", img)
	}
	if errors.Is(err, image.ErrNotBootable) || errors.Is(err, image.ErrMissingArtifact) {
		t.Errorf("Prepare error %v, want a configuration error", err)
	}
}

func TestPrepareSparesInUse(t *testing.T) {
	kernel := imagetest.WriteTemp(t, "kernel.elf", imagetest.Raw(64, imagetest.Placed{Off: 0, Data: imagetest.MultibootHeader(0, true)}))
	s := &image.Store{Dir: t.TempDir(), Keep: 1}
	for build := 1; build <= 4; build++ {
		if _, err := (Kernel{}).Prepare(t.Context(), s, build, image.Artifacts{Kernel: kernel}, 1); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := imagetest.StoredBuilds(t, s.Dir), []int{1, 4}; !slices.Equal(got, want) {
		t.Errorf("builds in the store = %v, want %v", got, want)
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		o    image.Outcome
		want guestexit.Exit
	}{
		{name: "panic", o: image.Outcome{Kind: image.GuestPanicked, Status: -1},
			want: guestexit.Exit{Reason: guestexit.ReasonPanic, Detail: "guest reported a panic; VM paused for inspection"}},
		{name: "panic with detail", o: image.Outcome{Kind: image.GuestPanicked, Status: -1, Detail: "pvpanic"},
			want: guestexit.Exit{Reason: guestexit.ReasonPanic, Detail: "pvpanic"}},
		{name: "reset", o: image.Outcome{Kind: image.GuestReset, Status: -1},
			want: guestexit.Exit{Reason: guestexit.ReasonCrash, Detail: "triple fault or guest reset; VM paused for inspection"}},
		{name: "reset with detail", o: image.Outcome{Kind: image.GuestReset, Status: -1, Detail: "guest-reset"},
			want: guestexit.Exit{Reason: guestexit.ReasonCrash, Detail: "triple fault or guest reset; VM paused for inspection"}},
		{name: "internal error", o: image.Outcome{Kind: image.InternalError, Status: -1},
			want: guestexit.Exit{Reason: guestexit.ReasonCrash, Detail: "accelerator internal error; VM paused for inspection"}},
		{name: "internal error with detail", o: image.Outcome{Kind: image.InternalError, Status: -1, Detail: "KVM internal error. Suberror: 1"},
			want: guestexit.Exit{Reason: guestexit.ReasonCrash, Detail: "KVM internal error. Suberror: 1"}},
		{name: "shutdown", o: image.Outcome{Kind: image.GuestShutdown, Status: -1},
			want: guestexit.Exit{Reason: guestexit.ReasonExit, Code: 0, HasCode: true, Detail: "guest powered off"}},
		{name: "shutdown with detail", o: image.Outcome{Kind: image.GuestShutdown, Status: -1, Detail: "guest-shutdown"},
			want: guestexit.Exit{Reason: guestexit.ReasonExit, Code: 0, HasCode: true, Detail: "guest-shutdown"}},
		{name: "stopped by host", o: image.Outcome{Kind: image.StoppedByHost, Status: -1},
			want: guestexit.Exit{Reason: guestexit.ReasonKilled, Detail: "stopped by ukdev"}},
		{name: "stopped by host with detail", o: image.Outcome{Kind: image.StoppedByHost, Status: -1, Detail: "rebuild"},
			want: guestexit.Exit{Reason: guestexit.ReasonKilled, Detail: "rebuild"}},
		{name: "start failed", o: image.Outcome{Kind: image.StartFailed, Status: -1},
			want: guestexit.Exit{Reason: guestexit.ReasonQEMUError, Detail: "QEMU did not start"}},
		{name: "start failed with detail", o: image.Outcome{Kind: image.StartFailed, Status: -1, Detail: "could not load kernel"},
			want: guestexit.Exit{Reason: guestexit.ReasonQEMUError, Detail: "could not load kernel"}},

		// isa-debug-exit: QEMU exits with (code<<1)|1.
		{name: "status 1, silent: guest exit 0", o: image.Outcome{Kind: image.QEMUExited, Status: 1},
			want: guestexit.Exit{Reason: guestexit.ReasonExit, Code: 0, HasCode: true}},
		{name: "status 7: guest exit 3", o: image.Outcome{Kind: image.QEMUExited, Status: 7},
			want: guestexit.Exit{Reason: guestexit.ReasonExit, Code: 3, HasCode: true}},
		{name: "status 3 with stderr: guest exit 1", o: image.Outcome{Kind: image.QEMUExited, Status: 3, Detail: "some warning"},
			want: guestexit.Exit{Reason: guestexit.ReasonExit, Code: 1, HasCode: true}},
		{name: "status 255: guest exit 127", o: image.Outcome{Kind: image.QEMUExited, Status: 255},
			want: guestexit.Exit{Reason: guestexit.ReasonExit, Code: 127, HasCode: true}},
		{name: "status 1 with stderr: QEMU error", o: image.Outcome{Kind: image.QEMUExited, Status: 1, Detail: "qemu-system-x86_64: Error loading uncompressed kernel without PVH ELF Note"},
			want: guestexit.Exit{Reason: guestexit.ReasonQEMUError, Detail: "qemu-system-x86_64: Error loading uncompressed kernel without PVH ELF Note"}},
		{name: "status 0: QEMU quit", o: image.Outcome{Kind: image.QEMUExited, Status: 0},
			want: guestexit.Exit{Reason: guestexit.ReasonKilled, Detail: "QEMU quit"}},
		{name: "status 2: QEMU error", o: image.Outcome{Kind: image.QEMUExited, Status: 2},
			want: guestexit.Exit{Reason: guestexit.ReasonQEMUError, Detail: "QEMU exited with status 2"}},
		{name: "status 2 with stderr", o: image.Outcome{Kind: image.QEMUExited, Status: 2, Detail: "Assertion failed"},
			want: guestexit.Exit{Reason: guestexit.ReasonQEMUError, Detail: "Assertion failed"}},
		{name: "killed by a signal", o: image.Outcome{Kind: image.QEMUExited, Status: -1, Signal: "killed"},
			want: guestexit.Exit{Reason: guestexit.ReasonKilled, Detail: "QEMU killed by killed"}},
		{name: "bus error", o: image.Outcome{Kind: image.QEMUExited, Status: -1, Signal: "bus error", Detail: "ignored"},
			want: guestexit.Exit{Reason: guestexit.ReasonKilled, Detail: "QEMU killed by bus error"}},

		{name: "zero outcome", o: image.Outcome{},
			want: guestexit.Exit{Reason: guestexit.ReasonQEMUError, Detail: "unknown outcome"}},
		{name: "unknown kind", o: image.Outcome{Kind: image.OutcomeKind(99), Status: 1},
			want: guestexit.Exit{Reason: guestexit.ReasonQEMUError, Detail: "unknown outcome"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (Kernel{}).Decode(tt.o); got != tt.want {
				t.Errorf("Decode(%+v) = %+v, want %+v", tt.o, got, tt.want)
			}
		})
	}
}
