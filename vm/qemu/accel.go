package qemu

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ukdev/ukdev/nofollow"
	"github.com/ukdev/ukdev/vm"
)

// probeTimeout bounds one probe boot. The probe kernel needs a few
// milliseconds of guest time; QEMU's own start-up is the bulk of it.
const probeTimeout = 3 * time.Second

// ProbeAccel picks the accelerator for qemu (empty means DefaultQEMU). KVM
// is chosen only when it demonstrably works: /dev/kvm must open, and a
// tiny probe kernel booted under -accel kvm -cpu host must enable SSE, run
// an SSE instruction and exit through isa-debug-exit with the expected
// status within a few seconds. Anything else (no /dev/kvm, QEMU aborting
// with "failed to set MSR", "KVM internal error", a hang, a wrong status)
// means TCG, with the reason. It never fails: TCG always works.
func ProbeAccel(ctx context.Context, qemu string) vm.Accel {
	return probeAccel(ctx, qemu, hostProbe{timeout: probeTimeout})
}

// probeRun is the result of one probe boot.
type probeRun struct {
	// Status is QEMU's exit status; -1 when it was killed or never ran.
	Status int
	// Signal names the signal that killed QEMU, if one did.
	Signal string
	// Stderr is the end of QEMU's standard error.
	Stderr string
	// TimedOut says QEMU was killed because the probe took too long.
	TimedOut bool
	// Err is set when QEMU could not be run at all.
	Err error
}

// prober is what ProbeAccel needs from the host, behind one seam so that
// its decision can be tested with a scripted fake.
type prober interface {
	// OpenKVM opens and closes /dev/kvm.
	OpenKVM() error
	// HasKVMPVM reports whether the kvm-pvm module is loaded.
	HasKVMPVM() bool
	// WriteKernel writes the probe kernel to a private file and returns
	// its path and a function that removes it.
	WriteKernel() (path string, remove func(), err error)
	// Boot runs argv (binary first) and waits for it to end.
	Boot(ctx context.Context, argv []string) probeRun
}

// probeArgv returns the probe boot's command line: microvm without
// firmware detours, no devices but isa-debug-exit, and no reboot loop if
// the probe kernel faults.
func probeArgv(qemu, kernelPath, accel string) []string {
	argv := []string{qemu,
		"-nodefaults", "-no-user-config", "-display", "none",
		"-machine", "microvm",
	}
	argv = append(argv, accelArgs(accel)...)
	return append(argv,
		"-m", "16", "-smp", "1", "-no-reboot",
		"-device", "isa-debug-exit,iobase=0x501,iosize=2",
		"-kernel", kernelPath,
	)
}

func probeAccel(ctx context.Context, qemu string, host prober) vm.Accel {
	if qemu == "" {
		qemu = vm.DefaultQEMU
	}
	tcg := func(why string) vm.Accel { return vm.Accel{Name: "tcg", Reason: why + " — using TCG"} }
	if err := host.OpenKVM(); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return tcg("no /dev/kvm")
		}
		return tcg(fmt.Sprintf("/dev/kvm cannot be opened (%v)", err))
	}
	path, remove, err := host.WriteKernel()
	if err != nil {
		return tcg(fmt.Sprintf("KVM probe not run (%v)", err))
	}
	defer remove()

	run := host.Boot(ctx, probeArgv(qemu, path, "kvm"))
	switch {
	case run.Err != nil:
		return tcg(fmt.Sprintf("KVM probe could not run QEMU (%v)", run.Err))
	case !run.TimedOut && run.Status == probeExitStatus:
		return vm.Accel{Name: "kvm", Reason: "KVM works (probe kernel booted)"}
	case ctx.Err() != nil:
		return tcg("KVM probe cancelled")
	case host.HasKVMPVM():
		return tcg("KVM present but unusable (kvm-pvm)")
	case firstLine(run.Stderr) != "":
		return tcg(fmt.Sprintf("KVM present but unusable: %q", firstLine(run.Stderr)))
	case run.TimedOut:
		return tcg("KVM present but unusable: the probe kernel hung")
	case run.Signal != "":
		return tcg("KVM present but unusable: QEMU was killed by " + run.Signal)
	default:
		return tcg("KVM present but unusable: the probe exited with status " +
			strconv.Itoa(run.Status) + ", not " + strconv.Itoa(probeExitStatus))
	}
}

// hostProbe is the real prober.
type hostProbe struct {
	timeout time.Duration
}

func (hostProbe) OpenKVM() error {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return err
	}
	return f.Close()
}

func (hostProbe) HasKVMPVM() bool {
	_, err := os.Stat("/sys/module/kvm_pvm")
	return err == nil
}

func (hostProbe) WriteKernel() (string, func(), error) {
	dir, err := os.MkdirTemp("", "ukdev-probe-")
	if err != nil {
		return "", nil, fmt.Errorf("qemu: write probe kernel: %w", err)
	}
	remove := func() { _ = os.RemoveAll(dir) }
	path := filepath.Join(dir, "probe.elf")
	if err := nofollow.WriteFile(path, probeKernel(), 0o444); err != nil {
		remove()
		return "", nil, fmt.Errorf("qemu: write probe kernel: %w", err)
	}
	return path, remove, nil
}

// Boot runs the probe in its own process group, killed as a whole when
// the probe takes longer than its timeout or ctx ends.
func (h hostProbe) Boot(ctx context.Context, argv []string) probeRun {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	stderr := newTailBuffer(stderrTail, "", nil)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return probeRun{Status: -1, Err: err}
	}
	_ = cmd.Wait() // the outcome is read from ProcessState
	run := probeRun{Status: -1, Stderr: stderr.String(), TimedOut: ctx.Err() != nil}
	if st := cmd.ProcessState; st != nil {
		if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			run.Signal = unix.SignalName(ws.Signal())
		} else {
			run.Status = st.ExitCode()
		}
	}
	return run
}
