package qemu

import (
	"slices"
	"strings"
	"testing"

	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/vm"
)

func TestArgs(t *testing.T) {
	common := func(machine string, accel ...string) []string {
		args := []string{"-nodefaults", "-no-user-config", "-display", "none", "-machine", machine}
		args = append(args, accel...)
		return args
	}
	tcg := []string{"-accel", "tcg", "-cpu", "max"}
	kvm := []string{"-accel", "kvm", "-cpu", "host"}
	console := func(mem, cpus, sock string) []string {
		return []string{"-m", mem, "-smp", cpus,
			"-chardev", "stdio,id=con0,signal=off", "-serial", "chardev:con0",
			"-qmp", "unix:" + sock + ",server=on,wait=off",
			"-action", "reboot=shutdown,shutdown=pause,panic=pause"}
	}
	cat := func(parts ...[]string) []string { return slices.Concat(parts...) }

	tests := []struct {
		name string
		spec vm.Spec
		want []string
	}{
		{
			name: "defaults",
			spec: vm.Spec{QMPSocket: "/run/q.sock", Image: image.Image{Kernel: "/k"}},
			want: cat(common("pc"), tcg, console("128", "1", "/run/q.sock"), []string{"-kernel", "/k"}),
		},
		{
			name: "microvm with a disk, balloon, rng and machine options",
			spec: vm.Spec{Machine: "microvm", QMPSocket: "/s", Image: image.Image{
				Kernel: "/k", Disk: "/d,1.img", Balloon: true, RNG: true, MachineOptions: "rtc=on,ioapic2=off"}},
			want: cat(common("microvm,pic=on,pit=on,isa-serial=on,rtc=on,ioapic2=off"), tcg, console("128", "1", "/s"), []string{
				"-global", "virtio-mmio.force-legacy=false",
				"-drive", "file=/d,,1.img,format=raw,if=none,id=hd0", "-device", "virtio-blk-device,drive=hd0",
				"-device", "virtio-balloon-device,id=balloon0", "-device", "virtio-rng-device",
				"-kernel", "/k"}),
		},
		{
			name: "q35 with a disk on PCI",
			spec: vm.Spec{Machine: "q35", QMPSocket: "/s", Image: image.Image{Disk: "/d.img", Balloon: true}},
			want: cat(common("q35"), tcg, console("128", "1", "/s"), []string{
				"-drive", "file=/d.img,format=raw,if=none,id=hd0", "-device", "virtio-blk-pci,drive=hd0",
				"-device", "virtio-balloon-pci,id=balloon0"}),
		},
		{
			name: "boot disk on pc",
			spec: vm.Spec{Machine: "pc", QMPSocket: "/s", BootDisk: "/d,b.raw"},
			want: cat(common("pc"), tcg, console("128", "1", "/s"), []string{
				"-drive", "file=/d,,b.raw,format=raw,if=none,id=boot0,snapshot=on",
				"-device", "virtio-blk-pci,drive=boot0,bootindex=0"}),
		},
		{
			name: "boot disk on q35 under kvm with 256 MiB",
			spec: vm.Spec{Machine: "q35", Accel: "kvm", MemoryMiB: 256, QMPSocket: "/s", BootDisk: "/b.raw"},
			want: cat(common("q35"), kvm, console("256", "1", "/s"), []string{
				"-drive", "file=/b.raw,format=raw,if=none,id=boot0,snapshot=on",
				"-device", "virtio-blk-pci,drive=boot0,bootindex=0"}),
		},
		{
			name: "microvm kvm with exit devices and paused",
			spec: vm.Spec{
				Accel: "kvm", Machine: "microvm", MemoryMiB: 256, CPUs: 2, QMPSocket: "/s",
				Image:       image.Image{Kernel: "/k", DebugExit: true, PVPanic: true},
				StartPaused: true,
			},
			want: cat(common("microvm,pic=on,pit=on,isa-serial=on"), kvm, console("256", "2", "/s"),
				[]string{"-device", "isa-debug-exit,iobase=0x501,iosize=2", "-device", "pvpanic",
					"-kernel", "/k", "-S"}),
		},
		{
			name: "machine from image",
			spec: vm.Spec{Accel: "tcg", QMPSocket: "/s", Image: image.Image{Kernel: "/k", Machine: "q35"}},
			want: cat(common("q35"), tcg, console("128", "1", "/s"), []string{"-kernel", "/k"}),
		},
		{
			name: "spec machine overrides image",
			spec: vm.Spec{Machine: "pc", QMPSocket: "/s", Image: image.Image{Kernel: "/k", Machine: "microvm"}},
			want: cat(common("pc"), tcg, console("128", "1", "/s"), []string{"-kernel", "/k"}),
		},
		{
			name: "network on microvm uses virtio-mmio",
			spec: vm.Spec{Machine: "microvm", Network: true, QMPSocket: "/s", Image: image.Image{Kernel: "/k"}},
			want: cat(common("microvm,pic=on,pit=on,isa-serial=on"), tcg, console("128", "1", "/s"),
				[]string{"-netdev", "user,id=net0", "-device", "virtio-net-device,netdev=net0", "-kernel", "/k"}),
		},
		{
			name: "network on q35 uses virtio-pci",
			spec: vm.Spec{Machine: "q35", Network: true, QMPSocket: "/s", Image: image.Image{Kernel: "/k"}},
			want: cat(common("q35"), tcg, console("128", "1", "/s"),
				[]string{"-netdev", "user,id=net0", "-device", "virtio-net-pci,netdev=net0", "-kernel", "/k"}),
		},
		{
			name: "initrd cmdline and extra args last",
			spec: vm.Spec{
				QMPSocket: "/s",
				Image:     image.Image{Kernel: "/k", Initrd: "/i", Cmdline: "console=ttyS0 panic=-1"},
				ExtraArgs: []string{"-d", "guest_errors"},
			},
			want: cat(common("pc"), tcg, console("128", "1", "/s"),
				[]string{"-kernel", "/k", "-initrd", "/i", "-append", "console=ttyS0 panic=-1", "-d", "guest_errors"}),
		},
		{
			name: "comma in socket path is escaped",
			spec: vm.Spec{QMPSocket: "/tmp/a,b.sock", Image: image.Image{Kernel: "/k"}},
			want: cat(common("pc"), tcg, console("128", "1", "/tmp/a,,b.sock"), []string{"-kernel", "/k"}),
		},
		{
			name: "gdb stub on a unix socket, paused",
			spec: vm.Spec{QMPSocket: "/s", GDB: "unix:/run/u,1/gdb-1.sock", StartPaused: true, Image: image.Image{Kernel: "/k"}},
			want: cat(common("pc"), tcg, console("128", "1", "/s"),
				[]string{"-kernel", "/k", "-gdb", "unix:/run/u,,1/gdb-1.sock,server=on,wait=off", "-S"}),
		},
		{
			name: "gdb stub on a loopback port",
			spec: vm.Spec{QMPSocket: "/s", GDB: "tcp:127.0.0.1:1234", Image: image.Image{Kernel: "/k"}},
			want: cat(common("pc"), tcg, console("128", "1", "/s"), []string{"-kernel", "/k", "-gdb", "tcp:127.0.0.1:1234"}),
		},
		{
			name: "no kernel means no -kernel",
			spec: vm.Spec{QMPSocket: "/s", ExtraArgs: []string{"-drive", "file=disk.img,format=raw"}},
			want: cat(common("pc"), tcg, console("128", "1", "/s"), []string{"-drive", "file=disk.img,format=raw"}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Args(tt.spec)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Args() =\n  %s\nwant\n  %s", strings.Join(got, " "), strings.Join(tt.want, " "))
			}
		})
	}
}

func TestArgsIsPure(t *testing.T) {
	spec := vm.Spec{QMPSocket: "/s", ExtraArgs: []string{"-x"}, Image: image.Image{Kernel: "/k"}}
	a, b := Args(spec), Args(spec)
	if !slices.Equal(a, b) {
		t.Fatalf("Args differs between calls:\n%v\n%v", a, b)
	}
	a[len(a)-1] = "changed"
	if spec.ExtraArgs[0] != "-x" {
		t.Fatal("Args result aliases vm.Spec.ExtraArgs")
	}
}

func TestHostfwdRule(t *testing.T) {
	tests := []struct {
		pf      vm.PortForward
		want    string
		wantErr bool
	}{
		{pf: vm.PortForward{Proto: "tcp", HostPort: 8080, GuestPort: 80}, want: "tcp:127.0.0.1:8080-:80"},
		{pf: vm.PortForward{Proto: "udp", HostAddr: "0.0.0.0", HostPort: 53, GuestPort: 53}, want: "udp:0.0.0.0:53-:53"},
		{pf: vm.PortForward{Proto: "sctp", HostPort: 1, GuestPort: 1}, wantErr: true},
		{pf: vm.PortForward{Proto: "tcp", HostPort: 0, GuestPort: 80}, wantErr: true},
		{pf: vm.PortForward{Proto: "tcp", HostPort: 80, GuestPort: 70000}, wantErr: true},
		{pf: vm.PortForward{Proto: "tcp", HostAddr: "localhost", HostPort: 80, GuestPort: 80}, wantErr: true},
		{pf: vm.PortForward{Proto: "tcp", HostAddr: "127.0.0.1 -\ninfo", HostPort: 80, GuestPort: 80}, wantErr: true},
		{pf: vm.PortForward{Proto: "tcp", HostAddr: "::1", HostPort: 80, GuestPort: 80}, want: "tcp:[::1]:80-:80"},
		{pf: vm.PortForward{Proto: "tcp", HostAddr: "[::1]", HostPort: 80, GuestPort: 80}, want: "tcp:[::1]:80-:80"},
		{pf: vm.PortForward{Proto: "tcp", HostAddr: "fe80::1%eth0", HostPort: 80, GuestPort: 80}, wantErr: true},
	}
	for _, tt := range tests {
		got, err := hostfwdRule(tt.pf)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("hostfwdRule(%+v) = %q, %v; want %q, error %v", tt.pf, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestValidateSpec(t *testing.T) {
	tests := []struct {
		name    string
		spec    vm.Spec
		wantErr bool
	}{
		{name: "ok", spec: vm.Spec{QMPSocket: "/s"}},
		{name: "no socket", spec: vm.Spec{}, wantErr: true},
		{name: "socket too long", spec: vm.Spec{QMPSocket: "/" + strings.Repeat("x", 107)}, wantErr: true},
		{name: "negative memory", spec: vm.Spec{QMPSocket: "/s", MemoryMiB: -1}, wantErr: true},
		{name: "negative cpus", spec: vm.Spec{QMPSocket: "/s", CPUs: -2}, wantErr: true},
		{name: "gdb on a unix socket", spec: vm.Spec{QMPSocket: "/s", GDB: "unix:/run/gdb.sock"}},
		{name: "gdb on a port", spec: vm.Spec{QMPSocket: "/s", GDB: "tcp:127.0.0.1:1234"}},
		{name: "gdb socket too long", spec: vm.Spec{QMPSocket: "/s", GDB: "unix:/" + strings.Repeat("x", 107)}, wantErr: true},
		{name: "gdb on another device", spec: vm.Spec{QMPSocket: "/s", GDB: "stdio"}, wantErr: true},
		{name: "gdb on a port of every interface", spec: vm.Spec{QMPSocket: "/s", GDB: "tcp::1234"}, wantErr: true},
		{name: "gdb address with options", spec: vm.Spec{QMPSocket: "/s", GDB: "tcp:127.0.0.1:1234,server=off"}, wantErr: true},
	}
	for _, tt := range tests {
		if err := validateSpec(tt.spec); (err != nil) != tt.wantErr {
			t.Errorf("%s: validateSpec() = %v, want error %v", tt.name, err, tt.wantErr)
		}
	}
}
