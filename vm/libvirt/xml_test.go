package libvirt

import (
	"strings"
	"testing"

	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/vm"
)

func TestDomainXML(t *testing.T) {
	owner := Owner{Host: "laptop", PID: 42, Project: "/src/hello"}
	tests := []struct {
		name    string
		p       domainParams
		want    []string // fragments the XML must hold
		notWant []string
		wantErr bool
	}{
		{
			name: "tcg pc kernel with debug-exit and pvpanic",
			p: domainParams{Name: "ukdev-hello-1", Owner: owner, Kernel: "/pool/k.elf",
				Spec: vm.Spec{Machine: "pc", Image: image.Image{Kernel: "/local/k.elf", Cmdline: "console=ttyS0", DebugExit: true, PVPanic: true}}},
			want: []string{
				`<domain type="qemu">`,
				`<name>ukdev-hello-1</name>`,
				`<ukdev:machine xmlns:ukdev="` + Namespace + `" host="laptop" pid="42" project="/src/hello"></ukdev:machine>`,
				`<memory unit="MiB">128</memory>`, `<vcpu>1</vcpu>`,
				`<type arch="x86_64" machine="pc">hvm</type>`,
				`<kernel>/pool/k.elf</kernel>`, `<cmdline>console=ttyS0</cmdline>`,
				`<cpu mode="maximum"></cpu>`,
				`<on_poweroff>destroy</on_poweroff>`, `<on_reboot>destroy</on_reboot>`, `<on_crash>preserve</on_crash>`,
				`<controller type="usb" model="none"></controller>`,
				`<target type="isa-serial" port="0"></target>`,
				`<target type="isa-debug" port="1"><model name="isa-debugcon"></model></target><address type="isa" iobase="0x501"></address>`,
				`<panic model="isa"></panic>`,
				`<memballoon model="none"></memballoon>`,
			},
			notWant: []string{"/local/k.elf", "<initrd>", "<interface", "qemu:commandline", "<disk"},
		},
		{
			name: "kvm, memory, cpus, initrd, network, balloon, rng",
			p: domainParams{Name: "d", Kernel: "/pool/bz", Initrd: "/pool/initrd",
				Spec: vm.Spec{Accel: "kvm", MemoryMiB: 512, CPUs: 2, Network: true,
					Image: image.Image{Kernel: "bz", Initrd: "i", Balloon: true, RNG: true}}},
			want: []string{`<domain type="kvm">`, `<cpu mode="host-passthrough">`, `<memory unit="MiB">512</memory>`, `<vcpu>2</vcpu>`,
				`<initrd>/pool/initrd</initrd>`, `<interface type="user"><model type="virtio"></model></interface>`,
				`<memballoon model="virtio">`, `<rng model="virtio"><backend model="random">/dev/urandom</backend></rng>`},
			notWant: []string{"isa-debug", "<panic"},
		},
		{
			name: "microvm: legacy devices, machine options, disk",
			p: domainParams{Name: "d", Kernel: "/pool/k", Disk: "/pool/disk",
				Spec: vm.Spec{Image: image.Image{Kernel: "k", Disk: "disk", Machine: "microvm", MachineOptions: "rtc=on"}, ExtraArgs: []string{"-s"}}},
			want: []string{`machine="microvm"`, `xmlns:qemu="http://libvirt.org/schemas/domain/qemu/1.0"`,
				`<qemu:arg value="-machine"></qemu:arg><qemu:arg value="pic=on,pit=on,isa-serial=on,acpi=on,rtc=on"></qemu:arg><qemu:arg value="-global"></qemu:arg><qemu:arg value="virtio-mmio.force-legacy=false"></qemu:arg><qemu:arg value="-s"></qemu:arg>`,
				`<source file="/pool/disk"></source><target dev="vda" bus="virtio"></target><transient></transient><address type="virtio-mmio"></address>`},
		},
		{
			name: "microvm: virtio NIC, RNG and balloon on virtio-mmio",
			p: domainParams{Name: "d", Kernel: "/pool/k",
				Spec: vm.Spec{Network: true, Image: image.Image{Kernel: "k", Machine: "microvm", RNG: true, Balloon: true}}},
			want: []string{`<interface type="user"><model type="virtio"></model><address type="virtio-mmio"></address></interface>`,
				`<backend model="random">/dev/urandom</backend><address type="virtio-mmio"></address></rng>`,
				`<memballoon model="virtio"><address type="virtio-mmio"></address></memballoon>`},
		},
		{
			name: "boot disk first, data disk second",
			p:    domainParams{Name: "d", BootDisk: "/pool/boot", Disk: "/pool/data", Spec: vm.Spec{BootDisk: "b", Image: image.Image{Disk: "x"}}},
			want: []string{`<source file="/pool/boot"></source><target dev="vda" bus="virtio"></target><boot order="1"></boot><transient></transient>`,
				`<source file="/pool/data"></source><target dev="vdb" bus="virtio"></target><transient></transient>`},
			notWant: []string{"<kernel>"},
		},
		{
			name:    "libvirt network",
			p:       domainParams{Name: "d", Kernel: "/pool/k", Network: "default", Spec: vm.Spec{Network: true, Image: image.Image{Kernel: "k"}}},
			want:    []string{`<interface type="network"><source network="default"></source><model type="virtio"></model></interface>`},
			notWant: []string{`type="user"`, "virtio-mmio"},
		},
		{
			name:    "libvirt network without Spec.Network",
			p:       domainParams{Name: "d", Kernel: "/pool/k", Network: "default", Spec: vm.Spec{Image: image.Image{Kernel: "k"}}},
			notWant: []string{"<interface"},
		},
		{name: "unknown accelerator", p: domainParams{Name: "d", Spec: vm.Spec{Accel: "hvf"}}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := domainXML(tt.p)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("domainXML = %s, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			flat := flatten(got)
			for _, w := range tt.want {
				if !strings.Contains(flat, w) {
					t.Errorf("XML lacks %s:\n%s", w, got)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(flat, w) {
					t.Errorf("XML holds %s:\n%s", w, got)
				}
			}
			again, _ := domainXML(tt.p)
			if again != got {
				t.Error("domainXML is not a pure function of its parameters")
			}
		})
	}
}

// flatten removes the indentation between elements.
func flatten(s string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		b.WriteString(strings.TrimSpace(line))
	}
	return b.String()
}

func TestNewDomainName(t *testing.T) {
	a, b := newDomainName(Owner{Project: "/src/my app!"}), newDomainName(Owner{Project: "/src/my app!"})
	if a == b || !strings.HasPrefix(a, NamePrefix+"myapp-") {
		t.Errorf("names %q, %q: want distinct names starting %q", a, b, NamePrefix+"myapp-")
	}
	if n := newDomainName(Owner{}); !strings.HasPrefix(n, NamePrefix) || len(n) != len(NamePrefix)+8 {
		t.Errorf("name without project = %q", n)
	}
}
