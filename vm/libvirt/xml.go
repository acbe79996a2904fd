package libvirt

import (
	"encoding/xml"
	"fmt"
	"strconv"

	"github.com/ukdev/ukdev/vm"
)

// Namespace is the XML namespace of the metadata element ukdev puts in
// the domains it creates; listing domains by it finds ukdev's and only
// those.
const Namespace = "https://github.com/ukdev/ukdev/vm/libvirt"

// NamePrefix begins the name of every domain ukdev creates.
const NamePrefix = "ukdev-"

// The console devices of a domain, by libvirt alias.
const (
	// consoleDevice is the guest's serial console (COM1).
	consoleDevice = "serial0"
	// exitDevice is the isa-debugcon that stands in for isa-debug-exit:
	// the byte the guest writes to port debugExitPort arrives there.
	exitDevice = "serial1"
	// netdevID is the id libvirt gives the first interface's network
	// backend, the one port forwards are added to.
	netdevID = "hostnet0"
	// debugExitPort is the I/O port of QEMU's isa-debug-exit in vm/qemu,
	// where guests write their exit code.
	debugExitPort = 0x501
)

// Owner is what the metadata tag of a domain records about the ukdev
// that created it.
type Owner struct {
	// Host is the hostname of the machine ukdev ran on.
	Host string `xml:"host,attr"`
	// PID is ukdev's process id there.
	PID int `xml:"pid,attr"`
	// Project is the project's root directory.
	Project string `xml:"project,attr,omitempty"`
}

// domainParams is everything domainXML turns into a domain: the spec and
// where its files are on the libvirt host.
type domainParams struct {
	Name string
	Spec vm.Spec
	// Kernel, Initrd, Disk and BootDisk are paths on the libvirt host
	// (pool volumes), standing for the spec's files.
	Kernel, Initrd, Disk, BootDisk string
	// Emulator is the QEMU binary on the host; empty lets libvirt choose.
	Emulator string
	Owner    Owner
	// Network is the libvirt network the guest's NIC joins (with
	// Spec.Network); empty: QEMU's user-mode network.
	Network string
}

type domainXMLDoc struct {
	XMLName  xml.Name    `xml:"domain"`
	Type     string      `xml:"type,attr"`
	QEMUNS   string      `xml:"xmlns:qemu,attr,omitempty"`
	Name     string      `xml:"name"`
	Metadata metadataXML `xml:"metadata"`
	Memory   memoryXML   `xml:"memory"`
	VCPU     int         `xml:"vcpu"`
	OS       osXML       `xml:"os"`
	CPU      cpuXML      `xml:"cpu"`
	OnPower  string      `xml:"on_poweroff"`
	OnReboot string      `xml:"on_reboot"`
	OnCrash  string      `xml:"on_crash"`
	Devices  devicesXML  `xml:"devices"`
	Command  *commandXML `xml:"qemu:commandline,omitempty"`
}

type metadataXML struct {
	Machine struct {
		XMLName xml.Name `xml:"ukdev:machine"`
		NS      string   `xml:"xmlns:ukdev,attr"`
		Owner
	}
}

type memoryXML struct {
	Unit  string `xml:"unit,attr"`
	Value int    `xml:",chardata"`
}

type osXML struct {
	Type struct {
		Arch    string `xml:"arch,attr"`
		Machine string `xml:"machine,attr"`
		Value   string `xml:",chardata"`
	} `xml:"type"`
	Kernel  string `xml:"kernel,omitempty"`
	Initrd  string `xml:"initrd,omitempty"`
	Cmdline string `xml:"cmdline,omitempty"`
}

type cpuXML struct {
	Mode string `xml:"mode,attr"`
}

type devicesXML struct {
	Emulator   string          `xml:"emulator,omitempty"`
	Controller []controllerXML `xml:"controller"`
	Disks      []diskXML       `xml:"disk"`
	Interfaces []interfaceXML  `xml:"interface"`
	Serials    []serialXML     `xml:"serial"`
	Panic      *panicXML       `xml:"panic"`
	RNG        *rngXML         `xml:"rng"`
	Balloon    balloonXML      `xml:"memballoon"`
}

type controllerXML struct {
	Type  string `xml:"type,attr"`
	Model string `xml:"model,attr"`
}

type diskXML struct {
	Type   string `xml:"type,attr"`
	Device string `xml:"device,attr"`
	Driver struct {
		Name string `xml:"name,attr"`
		Type string `xml:"type,attr"`
	} `xml:"driver"`
	Source struct {
		File string `xml:"file,attr"`
	} `xml:"source"`
	Target struct {
		Dev string `xml:"dev,attr"`
		Bus string `xml:"bus,attr"`
	} `xml:"target"`
	Boot *struct {
		Order int `xml:"order,attr"`
	} `xml:"boot"`
	Transient *struct{}   `xml:"transient"`
	Address   *addressXML `xml:"address"`
}

// addressXML places a device on a bus: virtio-mmio on microvm, which has
// no PCI bus for libvirt's default placement of virtio devices.
type addressXML struct {
	Type string `xml:"type,attr"`
}

type interfaceXML struct {
	Type   string `xml:"type,attr"`
	Source *struct {
		Network string `xml:"network,attr"`
	} `xml:"source"`
	Model struct {
		Type string `xml:"type,attr"`
	} `xml:"model"`
	Address *addressXML `xml:"address"`
}

type serialXML struct {
	Type   string `xml:"type,attr"`
	Target struct {
		Type  string `xml:"type,attr"`
		Port  int    `xml:"port,attr"`
		Model *struct {
			Name string `xml:"name,attr"`
		} `xml:"model"`
	} `xml:"target"`
	Address *struct {
		Type   string `xml:"type,attr"`
		IOBase string `xml:"iobase,attr"`
	} `xml:"address"`
}

type panicXML struct {
	Model string `xml:"model,attr"`
}

type rngXML struct {
	Model   string `xml:"model,attr"`
	Backend struct {
		Model string `xml:"model,attr"`
		Value string `xml:",chardata"`
	} `xml:"backend"`
	Address *addressXML `xml:"address"`
}

type balloonXML struct {
	Model   string      `xml:"model,attr"`
	Address *addressXML `xml:"address"`
}

type commandXML struct {
	Args []argXML `xml:"qemu:arg"`
}

type argXML struct {
	Value string `xml:"value,attr"`
}

// domainXML returns the XML of the transient domain libvirt starts for p.
// It is a pure function of p. The machine matches vm/qemu's command line
// where libvirt can say it:
//   - TCG runs <cpu mode='maximum'/> (-cpu max), KVM host-passthrough;
//   - Spec.Network is a virtio NIC on QEMU's user-mode network, or on
//     the libvirt network p.Network names;
//   - the serial console is a pty serial, serial0;
//   - isa-debug-exit is replaced by an isa-debugcon at its port on a
//     second pty serial, serial1: the guest's exit code arrives there as
//     a byte, where QEMU's exit status would be lost to libvirt;
//   - a guest reset or power-off destroys the domain and a panic keeps it
//     (libvirt's QEMU driver has no "preserve" for the first two);
//   - no USB controller and no balloon unless the image asks for one
//     (microvm has no PCI bus for them), and on microvm the virtio
//     devices (disks, NIC, RNG, balloon) on virtio-mmio;
//   - microvm's legacy devices, its ACPI tables (where a Linux guest finds
//     the virtio-mmio devices; libvirt's -no-acpi would hide them, and
//     the later option wins) and Image.MachineOptions, which the domain
//     XML cannot express, go on a second -machine option that QEMU merges
//     with libvirt's.
func domainXML(p domainParams) (string, error) {
	s := p.Spec
	memory := s.MemoryMiB
	if memory <= 0 {
		memory = vm.DefaultMemoryMiB
	}
	cpus := s.CPUs
	if cpus <= 0 {
		cpus = vm.DefaultCPUs
	}
	machine := s.MachineType()
	// virtio devices sit on PCI unless told otherwise; microvm has none.
	var virtioAddress *addressXML
	if machine == "microvm" {
		virtioAddress = &addressXML{Type: "virtio-mmio"}
	}

	d := domainXMLDoc{
		Type:     "qemu",
		Name:     p.Name,
		Memory:   memoryXML{Unit: "MiB", Value: memory},
		VCPU:     cpus,
		CPU:      cpuXML{Mode: "maximum"},
		OnPower:  "destroy",
		OnReboot: "destroy",
		OnCrash:  "preserve",
	}
	switch s.Accel {
	case "", "tcg":
	case "kvm":
		d.Type, d.CPU.Mode = "kvm", "host-passthrough"
	default:
		return "", fmt.Errorf("libvirt: domain: accelerator %q is neither kvm nor tcg", s.Accel)
	}
	d.Metadata.Machine.NS = Namespace
	d.Metadata.Machine.Owner = p.Owner
	d.OS.Type.Arch, d.OS.Type.Machine, d.OS.Type.Value = "x86_64", machine, "hvm"
	d.OS.Kernel, d.OS.Initrd, d.OS.Cmdline = p.Kernel, p.Initrd, s.Image.Cmdline

	dev := &d.Devices
	dev.Emulator = p.Emulator
	dev.Controller = []controllerXML{{Type: "usb", Model: "none"}}
	dev.Balloon.Model = "none"
	if s.Image.Balloon {
		dev.Balloon.Model, dev.Balloon.Address = "virtio", virtioAddress
	}
	disk := func(path, target string, boot bool) {
		dk := diskXML{Type: "file", Device: "disk"}
		dk.Driver.Name, dk.Driver.Type = "qemu", "raw"
		dk.Source.File = path
		dk.Target.Dev, dk.Target.Bus = target, "virtio"
		if boot {
			dk.Boot = &struct {
				Order int `xml:"order,attr"`
			}{Order: 1}
		}
		// The guest's writes go to an overlay libvirt discards: the
		// volume stays the image that was built, for the next boot.
		dk.Transient = &struct{}{}
		dk.Address = virtioAddress
		dev.Disks = append(dev.Disks, dk)
	}
	if p.BootDisk != "" {
		disk(p.BootDisk, "vda", true)
	}
	if p.Disk != "" {
		target := "vda"
		if p.BootDisk != "" {
			target = "vdb"
		}
		disk(p.Disk, target, false)
	}
	if s.Network {
		in := interfaceXML{Type: "user"}
		if p.Network != "" {
			in.Type = "network"
			in.Source = &struct {
				Network string `xml:"network,attr"`
			}{Network: p.Network}
		}
		in.Model.Type, in.Address = "virtio", virtioAddress
		dev.Interfaces = append(dev.Interfaces, in)
	}
	con := serialXML{Type: "pty"}
	con.Target.Type, con.Target.Port = "isa-serial", 0
	dev.Serials = append(dev.Serials, con)
	if s.Image.DebugExit {
		ex := serialXML{Type: "pty"}
		ex.Target.Type, ex.Target.Port = "isa-debug", 1
		ex.Target.Model = &struct {
			Name string `xml:"name,attr"`
		}{Name: "isa-debugcon"}
		ex.Address = &struct {
			Type   string `xml:"type,attr"`
			IOBase string `xml:"iobase,attr"`
		}{Type: "isa", IOBase: "0x" + strconv.FormatInt(debugExitPort, 16)}
		dev.Serials = append(dev.Serials, ex)
	}
	if s.Image.PVPanic {
		dev.Panic = &panicXML{Model: "isa"}
	}
	if s.Image.RNG {
		dev.RNG = &rngXML{Model: "virtio"}
		dev.RNG.Backend.Model, dev.RNG.Backend.Value = "random", "/dev/urandom"
		dev.RNG.Address = virtioAddress
	}

	var extra []string
	opts := s.Image.MachineOptions
	if machine == "microvm" {
		legacy := "pic=on,pit=on,isa-serial=on,acpi=on"
		if opts != "" {
			legacy += "," + opts
		}
		opts = legacy
		if p.Disk != "" || p.BootDisk != "" {
			extra = append(extra, "-global", "virtio-mmio.force-legacy=false")
		}
	}
	if opts != "" {
		extra = append([]string{"-machine", opts}, extra...)
	}
	extra = append(extra, s.ExtraArgs...)
	if len(extra) > 0 {
		d.QEMUNS = "http://libvirt.org/schemas/domain/qemu/1.0"
		d.Command = &commandXML{}
		for _, a := range extra {
			d.Command.Args = append(d.Command.Args, argXML{Value: a})
		}
	}
	out, err := xml.MarshalIndent(d, "", "  ")
	if err != nil {
		return "", fmt.Errorf("libvirt: domain: encode XML: %w", err)
	}
	return string(out), nil
}
