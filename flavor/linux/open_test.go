package linux

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/image/imagetest"
	"github.com/ukdev/ukdev/project"
)

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	bz := filepath.Join(dir, "bzImage")
	must(t, os.WriteFile(bz, imagetest.Raw(1024, imagetest.Placed{Off: 0x202, Data: []byte("HdrS")}), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "motd"), []byte("hi"), 0o644))
	tests := []struct {
		name       string
		memory     int // vm.memory in MiB; 0 for unset
		files      []File
		wantMemory int
		wantErr    error
	}{
		{name: "defaults", wantMemory: defaultMemoryMiB},
		{name: "vm.memory wins", memory: 64, wantMemory: 64},
		{name: "a file", files: []File{{Host: "motd", Guest: "/etc/motd"}}, wantMemory: defaultMemoryMiB},
		{name: "a second /init", files: []File{{Host: "motd", Guest: "/init"}}, wantErr: ErrConfig},
		{name: "a missing file", files: []File{{Host: "nowhere", Guest: "/etc/x"}}, wantErr: ErrConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &project.Config{Flavor: "linux", Root: dir}
			cfg.VM.MemoryMiB = 128
			if tt.memory != 0 {
				cfg.VM.MemoryMiB, cfg.VM.MemorySet = tt.memory, true
			}
			cfg.Settings = Settings{Kernel: bz, Files: tt.files}
			s, err := Flavor{}.Open(cfg)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Open: %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			k, ok := s.Kernel.(*Kernel)
			if !ok || k.KernelPath() != bz {
				t.Fatalf("kernel %T booting %v, want %s", s.Kernel, k, bz)
			}
			if s.Config.VM.MemoryMiB != tt.wantMemory || s.Notes != nil {
				t.Errorf("memory %d MiB, notes %q; want %d MiB, none", s.Config.VM.MemoryMiB, s.Notes, tt.wantMemory)
			}
			if tt.memory == 0 && cfg.VM.MemoryMiB != 128 {
				t.Error("Open changed the caller's config")
			}
			if len(k.opts.Files) != len(tt.files) {
				t.Errorf("initramfs files %v, want %v", k.opts.Files, tt.files)
			}
		})
	}
}

// TestOpenVMHost checks what Open gives a kernel for where the VM runs:
// the TSC rate measured here only for a VM on this machine (else q35,
// without tsc_early_khz), and an address by DHCP on a libvirt network.
func TestOpenVMHost(t *testing.T) {
	t.Setenv("LIBVIRT_DEFAULT_URI", "")
	_, measurable := HostTSCKHz()
	tests := []struct {
		name     string
		vm       project.VM
		remote   bool
		wantDHCP bool
	}{
		{name: "qemu here", vm: project.VM{Backend: project.BackendQEMU}},
		{name: "local libvirt", vm: project.VM{Backend: project.BackendLibvirt, LibvirtURI: "qemu:///system"}},
		{name: "libvirt over ssh", vm: project.VM{Backend: project.BackendLibvirt, LibvirtURI: "qemu+ssh://big/system"}, remote: true},
		{name: "on a libvirt network", vm: project.VM{Backend: project.BackendLibvirt, LibvirtURI: "qemu+ssh://big/system", LibvirtNetwork: "default"},
			remote: true, wantDHCP: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &project.Config{Flavor: "linux", Root: t.TempDir(), VM: tt.vm}
			cfg.Settings = Settings{Kernel: fakeBzImage(t)}
			s, err := Flavor{}.Open(cfg)
			must(t, err)
			img, err := s.Kernel.Prepare(t.Context(), &image.Store{Dir: t.TempDir(), Keep: 2}, 1,
				image.Artifacts{Kernel: imagetest.StaticProgram(t, t.TempDir(), "app")})
			must(t, err)
			hasTSC := strings.Contains(img.Cmdline, TSCParam+"=")
			switch {
			case tt.remote && (hasTSC || img.Machine != NoTSCMachine):
				t.Errorf("a remote VM gets machine %s, cmdline %q: want %s without %s", img.Machine, img.Cmdline, NoTSCMachine, TSCParam)
			case !tt.remote && measurable && (!hasTSC || img.Machine != DefaultMachine):
				t.Errorf("a VM here gets machine %s, cmdline %q: want %s with the TSC measured here", img.Machine, img.Cmdline, DefaultMachine)
			}
			if dhcp := strings.Contains(img.Cmdline, DiskIP) && !strings.Contains(img.Cmdline, StaticIP); dhcp != tt.wantDHCP {
				t.Errorf("cmdline %q: DHCP %v, want %v", img.Cmdline, dhcp, tt.wantDHCP)
			}
		})
	}
}
