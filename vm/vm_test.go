package vm

import (
	"errors"
	"testing"

	"github.com/ukdev/ukdev/image"
)

func TestStartError(t *testing.T) {
	cause := errors.New("exit status 1")
	tests := []struct {
		name       string
		err        *StartError
		wantMsg    string
		wantDetail string
	}{
		{"stderr", &StartError{Stderr: "\n  qemu: could not load kernel 'k'  \nmore\n", Err: cause},
			"vm: start qemu: qemu: could not load kernel 'k'", "qemu: could not load kernel 'k'"},
		{"no stderr", &StartError{Err: cause}, "vm: start qemu: exit status 1", "exit status 1"},
		{"nothing", &StartError{}, "vm: start qemu: <nil>", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.wantMsg {
				t.Errorf("Error = %q, want %q", got, tt.wantMsg)
			}
			o := tt.err.Outcome()
			if o.Kind != image.StartFailed || o.Status != -1 || o.Detail != tt.wantDetail {
				t.Errorf("Outcome = %+v, want StartFailed with %q", o, tt.wantDetail)
			}
			if tt.err.Err != nil && !errors.Is(tt.err, cause) {
				t.Error("StartError does not unwrap to its cause")
			}
		})
	}
}

func TestPortError(t *testing.T) {
	tests := []struct {
		pf   PortForward
		want string
	}{
		{PortForward{Proto: "tcp", HostPort: 8080, GuestPort: 80}, "vm: forward tcp 127.0.0.1:8080 to guest port 80: busy"},
		{PortForward{Proto: "udp", HostAddr: "0.0.0.0", HostPort: 53, GuestPort: 53}, "vm: forward udp 0.0.0.0:53 to guest port 53: busy"},
		{PortForward{Proto: "tcp", HostAddr: "::1", HostPort: 1, GuestPort: 2}, "vm: forward tcp [::1]:1 to guest port 2: busy"},
	}
	for _, tt := range tests {
		if got := (&PortError{Forward: tt.pf, Detail: "busy"}).Error(); got != tt.want {
			t.Errorf("Error = %q, want %q", got, tt.want)
		}
	}
}

func TestSpecMachineType(t *testing.T) {
	tests := []struct {
		spec Spec
		want string
	}{
		{Spec{}, "pc"},
		{Spec{Image: image.Image{Machine: "microvm"}}, "microvm"},
		{Spec{Machine: "q35", Image: image.Image{Machine: "microvm"}}, "q35"},
	}
	for _, tt := range tests {
		if got := tt.spec.MachineType(); got != tt.want {
			t.Errorf("MachineType(%+v) = %q, want %q", tt.spec, got, tt.want)
		}
	}
}
