package qemu

import (
	"errors"
	"os/exec"
	"testing"

	"github.com/ukdev/ukdev/vm"
)

func TestBackendInstalled(t *testing.T) {
	tests := []struct {
		name    string
		binary  string
		missing bool
	}{
		{name: "on PATH", binary: "sh"},
		{name: "missing", binary: "qemu-system-nonexistent-arch", missing: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Backend{}.Installed(tt.binary)
			if got := errors.Is(err, exec.ErrNotFound); got != tt.missing {
				t.Errorf("Installed(%q) = %v, want not found: %v", tt.binary, err, tt.missing)
			}
		})
	}
}

// A start that fails returns a nil vm.Machine, not a nil *Machine in an
// interface, and the *vm.StartError.
func TestBackendStartFails(t *testing.T) {
	spec := vm.Spec{QEMU: "qemu-system-nonexistent-arch", QMPSocket: shortTempDir(t) + "/qmp.sock"}
	m, err := Backend{}.Start(t.Context(), spec, vm.StartOptions{})
	var se *vm.StartError
	if m != nil || !errors.As(err, &se) {
		t.Fatalf("Start = %v, %v; want nil and a *vm.StartError", m, err)
	}
}
