package flavor

import (
	"net/url"
	"os"

	"github.com/ukdev/ukdev/project"
)

// RemoteVM reports whether cfg's VMs run on another machine than ukdev:
// the libvirt backend at a URI that names a host (vm.libvirt_uri, else
// LIBVIRT_DEFAULT_URI; qemu+ssh://host/system), even one that is this
// machine under another name. What ukdev measures or serves on its own
// machine (its TSC's rate, a port on its loopback) must not be given to
// such a guest. The QEMU backend and a local libvirt daemon
// (qemu:///system) run the VMs here.
func RemoteVM(cfg *project.Config) bool {
	if cfg.VM.Backend != project.BackendLibvirt {
		return false
	}
	uri := cfg.VM.LibvirtURI
	if uri == "" {
		uri = os.Getenv("LIBVIRT_DEFAULT_URI")
	}
	u, err := url.Parse(uri)
	// An unparsable URI is refused when the backend dials it; until then,
	// assume the worst.
	return err != nil || u.Host != ""
}

// GuestNetwork reports whether cfg's guest is on a network of the VM
// host (vm.libvirt_network) rather than QEMU's user network, whose fixed
// addresses (guest 10.0.2.15, host 10.0.2.2) it then does not have.
func GuestNetwork(cfg *project.Config) bool {
	return cfg.VM.Backend == project.BackendLibvirt && cfg.VM.LibvirtNetwork != ""
}
