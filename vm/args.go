// Package vm runs one unikernel image under QEMU: it builds QEMU's command
// line (a pure function of a Spec), starts QEMU on a pseudo-terminal that
// carries the guest's serial console, controls it over QMP, reports how
// each boot ended as a raw image.Outcome, and probes which accelerator
// works on the host. It knows nothing about the dashboard and does not
// decode flavor-specific exit statuses; package kernel does that.
package vm

import (
	"strconv"
	"strings"

	"github.com/ukdev/ukdev/image"
)

// Defaults applied by Args when a Spec leaves a field zero.
const (
	// DefaultQEMU is the QEMU binary started when Spec.QEMU is empty.
	DefaultQEMU = "qemu-system-x86_64"
	// DefaultMemoryMiB is the guest memory size when Spec.MemoryMiB is zero.
	DefaultMemoryMiB = 128
	// DefaultCPUs is the number of vCPUs when Spec.CPUs is zero.
	DefaultCPUs = 1
	// DefaultHostAddr is the host address forwarded ports bind when
	// PortForward.HostAddr is empty.
	DefaultHostAddr = "127.0.0.1"
	// NetdevID is the id of the user-mode network backend Args adds when
	// Spec.Network is set; port forwards are added to it.
	NetdevID = "net0"
)

// PortForward forwards a host port to a guest port through QEMU's user-mode
// network.
type PortForward struct {
	// Proto is "tcp" or "udp".
	Proto string
	// HostAddr is the host IP address to bind; empty means DefaultHostAddr.
	HostAddr string
	// HostPort is the host port (1-65535).
	HostPort int
	// GuestPort is the guest port (1-65535).
	GuestPort int
}

// Spec is everything QEMU is started with for one boot.
type Spec struct {
	// QEMU is the QEMU binary; empty means DefaultQEMU.
	QEMU string
	// Image is the kernel, initrd and command line to boot, and the exit
	// devices the image uses.
	Image image.Image
	// Accel is the resolved accelerator, "kvm" or "tcg"; empty means
	// "tcg", which works everywhere.
	Accel string
	// Machine is the resolved QEMU machine, "microvm", "pc" or "q35";
	// empty means Image.Machine, and "pc" when that is empty too.
	Machine string
	// MemoryMiB is the guest memory size; zero means DefaultMemoryMiB.
	MemoryMiB int
	// CPUs is the number of vCPUs; zero means DefaultCPUs.
	CPUs int
	// QMPSocket is the path of the unix socket QEMU serves QMP on. It must
	// be shorter than 108 bytes and should be private to one boot.
	QMPSocket string
	// Network adds a user-mode netdev NetdevID with a virtio NIC suited
	// to the machine. Port forwards are not part of the command line: they
	// are added over QMP after start (Machine.AddPortForward), so the QEMU
	// of a hot reboot can start while the old one still holds the ports.
	Network bool
	// StartPaused starts the VM paused (-S).
	StartPaused bool
	// ExtraArgs are appended last, verbatim.
	ExtraArgs []string
}

// qemuBinary returns the QEMU binary the spec names.
func (s Spec) qemuBinary() string {
	if s.QEMU == "" {
		return DefaultQEMU
	}
	return s.QEMU
}

// machine returns the machine type the spec resolves to.
func (s Spec) machine() string {
	switch {
	case s.Machine != "":
		return s.Machine
	case s.Image.Machine != "":
		return s.Image.Machine
	default:
		return "pc"
	}
}

// Args returns QEMU's arguments (without the binary) for s. It is a pure
// function: the same Spec always gives the same command line.
//
// The VM never reboots on its own: a guest reset, shutdown or panic leaves
// it paused for inspection (-action reboot=shutdown,shutdown=pause,
// panic=pause). The serial console is QEMU's stdio with signals off, so a
// ^C typed to the guest reaches the guest instead of killing QEMU.
func Args(s Spec) []string {
	memory := s.MemoryMiB
	if memory <= 0 {
		memory = DefaultMemoryMiB
	}
	cpus := s.CPUs
	if cpus <= 0 {
		cpus = DefaultCPUs
	}
	machine := s.machine()

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
	if s.StartPaused {
		args = append(args, "-S")
	}
	return append(args, s.ExtraArgs...)
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
