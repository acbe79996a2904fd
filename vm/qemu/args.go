// Package qemu is the QEMU backend of package vm: it builds QEMU's command
// line (a pure function of a vm.Spec), starts QEMU on a pseudo-terminal
// that carries the guest's serial console, controls it over QMP, reports
// how each boot ended as a raw image.Outcome, reads guest memory,
// registers and the balloon's statistics, and probes which accelerator
// works on the host. QMP's JSON stays inside this package.
package qemu

import (
	"strconv"
	"strings"

	"github.com/ukdev/ukdev/vm"
)

// NetdevID is the id of the user-mode network backend Args adds when
// Spec.Network is set; port forwards are added to it.
const NetdevID = "net0"

// qemuBinary returns the QEMU binary s names.
func qemuBinary(s vm.Spec) string {
	if s.QEMU == "" {
		return vm.DefaultQEMU
	}
	return s.QEMU
}

// Args returns QEMU's arguments (without the binary) for s. It is a pure
// function: the same Spec always gives the same command line.
//
// The VM never reboots on its own: a guest reset, shutdown or panic leaves
// it paused for inspection (-action reboot=shutdown,shutdown=pause,
// panic=pause). The serial console is QEMU's stdio with signals off, so a
// ^C typed to the guest reaches the guest instead of killing QEMU.
func Args(s vm.Spec) []string {
	memory := s.MemoryMiB
	if memory <= 0 {
		memory = vm.DefaultMemoryMiB
	}
	cpus := s.CPUs
	if cpus <= 0 {
		cpus = vm.DefaultCPUs
	}
	machine := s.MachineType()

	args := []string{
		"-nodefaults", "-no-user-config", "-display", "none",
		"-machine", machineOption(machine, s.Image.MachineOptions),
	}
	args = append(args, accelArgs(s.Accel)...)
	args = append(args,
		"-m", strconv.Itoa(memory),
		"-smp", strconv.Itoa(cpus),
		"-chardev", "stdio,id=con0,signal=off",
		"-serial", "chardev:con0",
		"-qmp", "unix:"+escapeOption(s.QMPSocket)+",server=on,wait=off",
		"-action", "reboot=shutdown,shutdown=pause,panic=pause",
	)
	if s.Image.DebugExit {
		args = append(args, "-device", "isa-debug-exit,iobase=0x501,iosize=2")
	}
	if s.Image.PVPanic {
		args = append(args, "-device", "pvpanic")
	}
	if s.Network {
		args = append(args,
			"-netdev", "user,id="+NetdevID,
			"-device", nicDevice(machine)+",netdev="+NetdevID,
		)
	}
	if s.Image.Disk != "" {
		if machine == "microvm" {
			// Modern virtio-mmio: what virtio drivers of current guests speak.
			args = append(args, "-global", "virtio-mmio.force-legacy=false")
		}
		args = append(args,
			"-drive", "file="+escapeOption(s.Image.Disk)+",format=raw,if=none,id=hd0",
			"-device", virtioDevice("blk", machine)+",drive=hd0",
		)
	}
	if s.BootDisk != "" {
		args = append(args,
			"-drive", "file="+escapeOption(s.BootDisk)+",format=raw,if=none,id=boot0,snapshot=on",
			"-device", virtioDevice("blk", machine)+",drive=boot0,bootindex=0",
		)
	}
	if s.Image.Balloon {
		args = append(args, "-device", virtioDevice("balloon", machine)+",id=balloon0")
	}
	if s.Image.RNG {
		args = append(args, "-device", virtioDevice("rng", machine))
	}
	if s.Image.Kernel != "" {
		args = append(args, "-kernel", s.Image.Kernel)
	}
	if s.Image.Initrd != "" {
		args = append(args, "-initrd", s.Image.Initrd)
	}
	if s.Image.Cmdline != "" {
		args = append(args, "-append", s.Image.Cmdline)
	}
	if s.GDB != "" {
		args = append(args, "-gdb", gdbDevice(s.GDB))
	}
	if s.StartPaused {
		args = append(args, "-S")
	}
	return append(args, s.ExtraArgs...)
}

// gdbDevice returns the character device QEMU's gdb stub listens on for a
// vm.Spec.GDB address: a unix socket server that does not wait for its
// client (QEMU adds those options itself only to tcp devices), or the
// tcp address as it is.
func gdbDevice(addr string) string {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		return "unix:" + escapeOption(path) + ",server=on,wait=off"
	}
	return addr
}

// machineOption returns the -machine value for a machine type. microvm
// gets its legacy devices spelled out: the 8259 PIC and 8254 PIT (timer
// interrupts for small kernels), the ISA serial port behind COM1 (IRQ 4),
// and with them the ISA bus isa-debug-exit and pvpanic sit on. QEMU 7.2
// enables them by default under TCG, but "auto" depends on the
// accelerator, so they are asked for explicitly.
func machineOption(machine, extra string) string {
	opt := machine
	if machine == "microvm" {
		opt = "microvm,pic=on,pit=on,isa-serial=on"
	}
	if extra != "" {
		opt += "," + extra
	}
	return opt
}

// accelArgs returns the accelerator and CPU model arguments: the host CPU
// under KVM, and under TCG the emulated CPU with every feature QEMU
// implements.
func accelArgs(accel string) []string {
	switch accel {
	case "kvm":
		return []string{"-accel", "kvm", "-cpu", "host"}
	case "", "tcg":
		return []string{"-accel", "tcg", "-cpu", "max"}
	default:
		return []string{"-accel", accel, "-cpu", "max"}
	}
}

// nicDevice returns the virtio NIC model for a machine: microvm has only
// virtio-mmio transports, pc and q35 have PCI.
func nicDevice(machine string) string { return virtioDevice("net", machine) }

// virtioDevice returns the virtio device model of a kind ("net", "blk",
// "balloon", "rng") for a machine: microvm has only virtio-mmio transports
// (virtio-X-device), pc and q35 have PCI (virtio-X-pci).
func virtioDevice(kind, machine string) string {
	if machine == "microvm" {
		return "virtio-" + kind + "-device"
	}
	return "virtio-" + kind + "-pci"
}

// escapeOption escapes a value embedded in a QEMU option string, where a
// comma separates options and a doubled comma stands for a literal one.
func escapeOption(v string) string {
	return strings.ReplaceAll(v, ",", ",,")
}
