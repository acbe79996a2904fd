package vm

import "github.com/ukdev/ukdev/image"

// Defaults a backend applies when a Spec leaves a field zero.
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
)

// PortForward forwards a host port to a guest port through the machine's
// user-mode network.
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

// HostAddrOrDefault returns HostAddr, or DefaultHostAddr when it is empty.
func (pf PortForward) HostAddrOrDefault() string {
	if pf.HostAddr == "" {
		return DefaultHostAddr
	}
	return pf.HostAddr
}

// Spec is everything a machine is started with for one boot.
type Spec struct {
	// QEMU is the QEMU binary; empty means DefaultQEMU.
	QEMU string
	// Image is the kernel, initrd and command line to boot, and the exit
	// devices the image uses.
	Image image.Image
	// Accel is the resolved accelerator, "kvm" or "tcg"; empty means
	// "tcg", which works everywhere.
	Accel string
	// Machine is the resolved machine type, "microvm", "pc" or "q35";
	// empty means Image.Machine, and "pc" when that is empty too.
	Machine string
	// MemoryMiB is the guest memory size; zero means DefaultMemoryMiB.
	MemoryMiB int
	// CPUs is the number of vCPUs; zero means DefaultCPUs.
	CPUs int
	// QMPSocket is the path of the unix socket the machine is controlled
	// through. It must be shorter than 108 bytes and should be private to
	// one boot.
	QMPSocket string
	// BootDisk is a raw disk the machine's firmware boots from, attached
	// as the first virtio disk (Image then names no Kernel). The guest's
	// writes to it are discarded when the machine exits, so the file is
	// the same after the boot (a disk about to be uploaded stays the one
	// that was tested).
	BootDisk string
	// Network adds a user-mode network with a virtio NIC suited to the
	// machine. Port forwards are not part of the description: they are
	// added after start (Machine.AddPortForward), so the machine of a hot
	// reboot can start while the old one still holds the ports.
	Network bool
	// StartPaused starts the guest paused, until Machine.Resume.
	StartPaused bool
	// GDB opens QEMU's gdb stub from the machine's start: "unix:<path>"
	// (a socket only the user can reach when path is in a private
	// directory; shorter than 108 bytes) or "tcp:127.0.0.1:<port>". With
	// StartPaused the guest waits at its first instruction until a
	// debugger (or Machine.Resume) lets it run. Empty: no stub
	// (Machine.GDBServer opens one later).
	GDB string
	// ExtraArgs are appended last to the machine's command line, verbatim.
	ExtraArgs []string
}

// MachineType returns the machine type the spec resolves to.
func (s Spec) MachineType() string {
	switch {
	case s.Machine != "":
		return s.Machine
	case s.Image.Machine != "":
		return s.Image.Machine
	default:
		return "pc"
	}
}
