package devloop

import "testing"

func TestVMInfoWhere(t *testing.T) {
	tests := []struct {
		name string
		info VMInfo
		want string
	}{
		{"QEMU here", VMInfo{PID: 4242}, "pid 4242"},
		{"this machine's libvirt", VMInfo{PID: 4242, Host: "qemu:///system"}, "pid 4242"},
		{"a remote libvirt host", VMInfo{Host: "qemu+ssh://me@kvm1:2222/system"}, "on kvm1"},
		{"a local libvirt without a pid", VMInfo{Host: "qemu:///system"}, "on libvirt"},
		{"an IPv6 host", VMInfo{Host: "qemu+ssh://[::1]:22/system"}, "on ::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.info.Where(); got != tt.want {
				t.Errorf("Where() = %q, want %q", got, tt.want)
			}
		})
	}
}
