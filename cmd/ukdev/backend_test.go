package main

import (
	"strings"
	"testing"

	"github.com/ukdev/ukdev/project"
	"github.com/ukdev/ukdev/vm/libvirt"
	"github.com/ukdev/ukdev/vm/qemu"
)

// TestApplyOn checks what --on does to a loaded config: a libvirt URI
// selects the libvirt backend on that host (the configured pool kept, the
// default one otherwise), "local" the QEMU backend, a bad URI is an error
// that says what to give, and no --on changes nothing.
func TestApplyOn(t *testing.T) {
	qemuVM := project.VM{Backend: project.BackendQEMU}
	libvirtVM := project.VM{Backend: project.BackendLibvirt, LibvirtURI: "qemu+ssh://big/system", LibvirtPool: "fast"}
	tests := []struct {
		name    string
		vm      project.VM
		on      string
		want    project.VM
		wantErr string
	}{
		{name: "no --on", vm: libvirtVM, want: libvirtVM},
		{name: "a libvirt host for a local project", vm: qemuVM, on: "qemu+ssh://user@host/system",
			want: project.VM{Backend: project.BackendLibvirt, LibvirtURI: "qemu+ssh://user@host/system", LibvirtPool: project.DefaultLibvirtPool}},
		{name: "another libvirt host keeps the pool", vm: libvirtVM, on: "qemu:///system",
			want: project.VM{Backend: project.BackendLibvirt, LibvirtURI: "qemu:///system", LibvirtPool: "fast"}},
		{name: "local", vm: libvirtVM, on: "local",
			want: project.VM{Backend: project.BackendQEMU, LibvirtURI: "qemu+ssh://big/system", LibvirtPool: "fast"}},
		{name: "not a libvirt URI", vm: qemuVM, on: "ssh://host", want: qemuVM,
			wantErr: `--on: libvirt URI "ssh://host" is not of the QEMU driver`},
		{name: "no host", vm: qemuVM, on: "qemu+ssh:///system", want: qemuVM,
			wantErr: "names no host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &project.Config{VM: tt.vm}
			err := applyOn(cfg, tt.on)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("applyOn: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "--on local")):
				t.Fatalf("applyOn error %v, want one with %q and the way to run here", err, tt.wantErr)
			}
			if cfg.VM.Backend != tt.want.Backend || cfg.VM.LibvirtURI != tt.want.LibvirtURI || cfg.VM.LibvirtPool != tt.want.LibvirtPool {
				t.Errorf("VM = %+v, want %+v", cfg.VM, tt.want)
			}
		})
	}
}

// TestNewBackend checks the backend a config selects, and that only a
// libvirt one has stale VMs to clean and a host to name.
func TestNewBackend(t *testing.T) {
	t.Setenv("LIBVIRT_DEFAULT_URI", "qemu+ssh://default/system")
	tests := []struct {
		name string
		vm   project.VM
		uri  string // the libvirt backend's URI; empty: QEMU
	}{
		{name: "qemu", vm: project.VM{Backend: project.BackendQEMU, LibvirtURI: "qemu:///system"}},
		{name: "libvirt at its URI", vm: project.VM{Backend: project.BackendLibvirt, LibvirtURI: "qemu:///system", LibvirtPool: "p", LibvirtNetwork: "default"}, uri: "qemu:///system"},
		{name: "libvirt at LIBVIRT_DEFAULT_URI", vm: project.VM{Backend: project.BackendLibvirt, LibvirtPool: "p"}, uri: "qemu+ssh://default/system"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &project.Config{Root: "/src/app", VM: tt.vm}
			b := newBackend(cfg)
			if tt.uri == "" {
				if _, ok := b.(qemu.Backend); !ok || cleanStale(cfg) != nil || libvirtHost(cfg) != "" {
					t.Errorf("backend %T (clean stale %v, host %q), want qemu.Backend without either", b, cleanStale(cfg) != nil, libvirtHost(cfg))
				}
				return
			}
			lb, ok := b.(*libvirt.Backend)
			if !ok {
				t.Fatalf("backend %T, want *libvirt.Backend", b)
			}
			if lb.URI != tt.uri || lb.Pool != tt.vm.LibvirtPool || lb.Owner.Project != cfg.Root || lb.Network != tt.vm.LibvirtNetwork || libvirtHost(cfg) != tt.uri || cleanStale(cfg) == nil {
				t.Errorf("backend %+v, host %q, want URI %s, pool %s, project %s, and a stale cleaner", lb, libvirtHost(cfg), tt.uri, tt.vm.LibvirtPool, cfg.Root)
			}
		})
	}
}

// TestHostLabel checks that a password in a libvirt URI never reaches a
// message.
func TestHostLabel(t *testing.T) {
	tests := []struct{ uri, want string }{
		{"", ""},
		{"qemu:///system", "qemu:///system"},
		{"qemu+ssh://me@host:2222/system", "qemu+ssh://me@host:2222/system"},
		{"qemu+tcp://me:secret@host/system", "qemu+tcp://me@host/system"},
	}
	for _, tt := range tests {
		if got := hostLabel(tt.uri); got != tt.want {
			t.Errorf("hostLabel(%q) = %q, want %q", tt.uri, got, tt.want)
		}
	}
}
