package qemu

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"io/fs"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/ukdev/ukdev/vm"
)

// fakeProber is a scripted prober: it checks the probe's argv and records
// which steps ran, so a test can assert that an expected boot happened.
type fakeProber struct {
	t        *testing.T
	openErr  error
	kvmPVM   bool
	writeErr error
	run      probeRun
	wantArgv []string // nil: Boot must not be called

	booted, removed bool
}

func (f *fakeProber) OpenKVM() error  { return f.openErr }
func (f *fakeProber) HasKVMPVM() bool { return f.kvmPVM }
func (f *fakeProber) WriteKernel() (string, func(), error) {
	if f.writeErr != nil {
		return "", nil, f.writeErr
	}
	return "/tmp/probe.elf", func() { f.removed = true }, nil
}
func (f *fakeProber) Boot(_ context.Context, argv []string) probeRun {
	f.booted = true
	if f.wantArgv == nil {
		f.t.Errorf("unexpected probe boot: %v", argv)
	} else if !slices.Equal(argv, f.wantArgv) {
		f.t.Errorf("probe argv =\n  %v\nwant\n  %v", argv, f.wantArgv)
	}
	return f.run
}

func TestProbeAccelDecision(t *testing.T) {
	kvmArgv := []string{"qemu-system-x86_64", "-nodefaults", "-no-user-config", "-display", "none",
		"-machine", "microvm", "-accel", "kvm", "-cpu", "host", "-m", "16", "-smp", "1", "-no-reboot",
		"-device", "isa-debug-exit,iobase=0x501,iosize=2", "-kernel", "/tmp/probe.elf"}
	tests := []struct {
		name       string
		prober     fakeProber
		wantName   string
		wantReason string
	}{
		{
			name:       "no /dev/kvm",
			prober:     fakeProber{openErr: fs.ErrNotExist},
			wantName:   "tcg",
			wantReason: "no /dev/kvm — using TCG",
		},
		{
			name:       "/dev/kvm not openable",
			prober:     fakeProber{openErr: fs.ErrPermission},
			wantName:   "tcg",
			wantReason: "/dev/kvm cannot be opened (permission denied) — using TCG",
		},
		{
			name:       "probe kernel cannot be written",
			prober:     fakeProber{writeErr: errors.New("disk full")},
			wantName:   "tcg",
			wantReason: "KVM probe not run (disk full) — using TCG",
		},
		{
			name:       "kvm works",
			prober:     fakeProber{wantArgv: kvmArgv, run: probeRun{Status: probeExitStatus}, kvmPVM: true},
			wantName:   "kvm",
			wantReason: "KVM works (probe kernel booted)",
		},
		{
			name: "kvm-pvm aborts on MSR",
			prober: fakeProber{wantArgv: kvmArgv, kvmPVM: true, run: probeRun{Status: -1, Signal: "SIGABRT",
				Stderr: "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x0\n"}},
			wantName:   "tcg",
			wantReason: "KVM present but unusable (kvm-pvm) — using TCG",
		},
		{
			name: "internal error quoted",
			prober: fakeProber{wantArgv: kvmArgv, run: probeRun{Status: -1, TimedOut: true,
				Stderr: "KVM internal error. Suberror: 1\nemulation failure\n"}},
			wantName:   "tcg",
			wantReason: `KVM present but unusable: "KVM internal error. Suberror: 1" — using TCG`,
		},
		{
			name:       "hang",
			prober:     fakeProber{wantArgv: kvmArgv, run: probeRun{Status: -1, TimedOut: true, Signal: "SIGKILL"}},
			wantName:   "tcg",
			wantReason: "KVM present but unusable: the probe kernel hung — using TCG",
		},
		{
			name:       "unexpected status",
			prober:     fakeProber{wantArgv: kvmArgv, run: probeRun{Status: 1}},
			wantName:   "tcg",
			wantReason: "KVM present but unusable: the probe exited with status 1, not 67 — using TCG",
		},
		{
			name:       "killed",
			prober:     fakeProber{wantArgv: kvmArgv, run: probeRun{Status: -1, Signal: "SIGSEGV"}},
			wantName:   "tcg",
			wantReason: "KVM present but unusable: QEMU was killed by SIGSEGV — using TCG",
		},
		{
			name:       "qemu missing",
			prober:     fakeProber{wantArgv: kvmArgv, kvmPVM: true, run: probeRun{Status: -1, Err: exec.ErrNotFound}},
			wantName:   "tcg",
			wantReason: "KVM probe could not run QEMU (executable file not found in $PATH) — using TCG",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.prober
			p.t = t
			got := probeAccel(context.Background(), "", &p)
			if got.Name != tt.wantName || got.Reason != tt.wantReason {
				t.Errorf("probeAccel() = %+v, want {%s %s}", got, tt.wantName, tt.wantReason)
			}
			if p.wantArgv != nil && !p.booted {
				t.Error("the probe boot never ran")
			}
			if p.booted && !p.removed {
				t.Error("the probe kernel was not removed")
			}
		})
	}
}

func TestProbeKernelIsPVHELF(t *testing.T) {
	f, err := elf.NewFile(bytes.NewReader(probeKernel()))
	if err != nil {
		t.Fatalf("probe kernel is not ELF: %v", err)
	}
	if f.Class != elf.ELFCLASS32 || f.Machine != elf.EM_386 || f.Type != elf.ET_EXEC {
		t.Fatalf("class %v machine %v type %v, want ELF32 i386 executable", f.Class, f.Machine, f.Type)
	}
	var entry uint32
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		note := make([]byte, p.Filesz)
		if _, err := p.ReadAt(note, 0); err != nil {
			t.Fatal(err)
		}
		namesz, descsz, typ := binary.LittleEndian.Uint32(note), binary.LittleEndian.Uint32(note[4:]), binary.LittleEndian.Uint32(note[8:])
		if namesz == 4 && descsz == 4 && typ == xenElfNotePhys32Entry && string(note[12:16]) == "Xen\x00" {
			entry = binary.LittleEndian.Uint32(note[16:])
		}
	}
	if entry == 0 || uint64(entry) != f.Entry {
		t.Fatalf("PVH entry note = %#x, ELF entry %#x; want equal and non-zero", entry, f.Entry)
	}
}

// TestProbeKernelBootsUnderTCG proves the probe kernel itself is right:
// under TCG it must exit with the status the KVM probe expects.
func TestProbeKernelBootsUnderTCG(t *testing.T) {
	qemu := requireQEMU(t)
	host := hostProbe{timeout: 30 * time.Second}
	path, remove, err := host.WriteKernel()
	if err != nil {
		t.Fatal(err)
	}
	defer remove()
	run := host.Boot(context.Background(), probeArgv(qemu, path, "tcg"))
	if run.Err != nil || run.TimedOut || run.Status != probeExitStatus {
		t.Fatalf("probe under TCG = %+v, want status %d", run, probeExitStatus)
	}
}

// TestProbeBootTimesOut checks that a hanging probe is killed: without
// isa-debug-exit the probe kernel halts forever.
func TestProbeBootTimesOut(t *testing.T) {
	qemu := requireQEMU(t)
	host := hostProbe{timeout: 300 * time.Millisecond}
	path, remove, err := host.WriteKernel()
	if err != nil {
		t.Fatal(err)
	}
	defer remove()
	argv := []string{qemu, "-nodefaults", "-no-user-config", "-display", "none", "-machine", "microvm",
		"-accel", "tcg", "-m", "16", "-kernel", path}
	run := host.Boot(context.Background(), argv)
	if !run.TimedOut || run.Signal != "SIGKILL" {
		t.Fatalf("hanging probe = %+v, want timed out and killed", run)
	}
}

// requireQEMU returns the QEMU binary or skips the test.
func requireQEMU(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath(vm.DefaultQEMU)
	if err != nil {
		t.Skipf("%s not installed", vm.DefaultQEMU)
	}
	return path
}

// TestProbeAccelOnThisHost runs the real probe: whatever the host, it must
// choose an accelerator and say why (here: TCG, since KVM is unusable).
func TestProbeAccelOnThisHost(t *testing.T) {
	qemu := requireQEMU(t)
	got := ProbeAccel(t.Context(), qemu)
	if (got.Name != "kvm" && got.Name != "tcg") || got.Reason == "" {
		t.Fatalf("ProbeAccel = %+v", got)
	}
	t.Logf("%s: %s", got.Name, got.Reason)
}
