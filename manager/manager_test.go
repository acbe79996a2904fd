package manager

import (
	"testing"

	"github.com/ukdev/ukdev/project"
)

func TestHostURI(t *testing.T) {
	t.Setenv("LIBVIRT_DEFAULT_URI", "")
	tests := []struct {
		name    string
		backend string
		uri     string
		want    string
	}{
		{"qemu backend: no host", project.BackendQEMU, "", ""},
		{"qemu backend ignores a stray URI", project.BackendQEMU, "qemu+ssh://h/system", ""},
		{"libvirt default", project.BackendLibvirt, "", "qemu:///system"},
		{"as written", project.BackendLibvirt, "qemu+ssh://dev@kvm1:2222/system?keyfile=/k", "qemu+ssh://dev@kvm1:2222/system?keyfile=/k"},
		{"password removed", project.BackendLibvirt, "qemu+tcp://dev:s3cret@kvm1/system", "qemu+tcp://dev@kvm1/system"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &project.Config{}
			cfg.VM.Backend, cfg.VM.LibvirtURI = tt.backend, tt.uri
			if got := hostURI(cfg); got != tt.want {
				t.Errorf("hostURI = %q, want %q", got, tt.want)
			}
		})
	}
	t.Setenv("LIBVIRT_DEFAULT_URI", "qemu+ssh://env/system")
	cfg := &project.Config{}
	cfg.VM.Backend = project.BackendLibvirt
	if got := hostURI(cfg); got != "qemu+ssh://env/system" {
		t.Errorf("hostURI with LIBVIRT_DEFAULT_URI = %q", got)
	}
}
