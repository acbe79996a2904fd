package flavor

import (
	"testing"

	"github.com/ukdev/ukdev/project"
)

// TestRemoteVM checks which configs run their VMs on another machine.
func TestRemoteVM(t *testing.T) {
	tests := []struct {
		name       string
		vm         project.VM
		defaultURI string // LIBVIRT_DEFAULT_URI
		want       bool
	}{
		{name: "qemu", vm: project.VM{Backend: project.BackendQEMU, LibvirtURI: "qemu+ssh://h/system"}},
		{name: "local libvirt", vm: project.VM{Backend: project.BackendLibvirt, LibvirtURI: "qemu:///system"}},
		{name: "libvirt over ssh", vm: project.VM{Backend: project.BackendLibvirt, LibvirtURI: "qemu+ssh://user@h/system"}, want: true},
		{name: "loopback over ssh is still another host", vm: project.VM{Backend: project.BackendLibvirt, LibvirtURI: "qemu+ssh://127.0.0.1/system"}, want: true},
		{name: "default URI names a host", vm: project.VM{Backend: project.BackendLibvirt}, defaultURI: "qemu+tcp://h/system", want: true},
		{name: "no URI at all: qemu:///system", vm: project.VM{Backend: project.BackendLibvirt}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("LIBVIRT_DEFAULT_URI", tt.defaultURI)
			if got := RemoteVM(&project.Config{VM: tt.vm}); got != tt.want {
				t.Errorf("RemoteVM = %v, want %v", got, tt.want)
			}
		})
	}
}
