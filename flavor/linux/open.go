package linux

import (
	"github.com/ukdev/ukdev/flavor"
	"github.com/ukdev/ukdev/flavor/linux/initramfs"
	"github.com/ukdev/ukdev/project"
)

// defaultMemoryMiB leaves a Go program room beside the kernel.
const defaultMemoryMiB = 256

// Open implements flavor.Flavor: the memory default and the files added
// to the initramfs; for a VM on another machine (flavor.RemoteVM) no TSC
// rate measured here, and on a libvirt network (flavor.GuestNetwork) an
// address by DHCP. The first time, it fetches the kernel module through
// the Go module cache (go mod download); Announce says so beforehand.
func (Flavor) Open(cfg *project.Config) (*flavor.Setup, error) {
	c := *cfg
	if !c.VM.MemorySet {
		c.VM.MemoryMiB = defaultMemoryMiB
	}
	var files []initramfs.File
	for _, f := range SettingsOf(&c).Files {
		files = append(files, initramfs.File{Path: f.Guest, Host: f.Host})
	}
	opts := Options{Kernel: SettingsOf(&c).Kernel, KernelVersion: SettingsOf(&c).KernelVersion, Dir: c.Root, Files: files,
		DHCP: flavor.GuestNetwork(&c)}
	if flavor.RemoteVM(&c) {
		// The guest runs on another machine: this one's TSC rate says
		// nothing of its CPU. Without it the image boots on
		// NoTSCMachine, whose HPET the kernel calibrates against.
		opts.TSCKHz = -1
	}
	k, err := New(opts)
	if err != nil {
		return nil, err
	}
	return &flavor.Setup{Config: &c, Kernel: k}, nil
}
