package linux

import (
	"testing"

	"github.com/ukdev/ukdev/project"
)

func TestAnnounce(t *testing.T) {
	tests := []struct {
		name            string
		kernel, version string
		want            string
	}{
		{name: "default kernel", want: "Linux kernel " + KernelModule + "@" + DefaultKernelVersion + " from the Go module cache (downloaded the first time)"},
		{name: "pinned version", version: "v0.0.0-1", want: "Linux kernel " + KernelModule + "@v0.0.0-1 from the Go module cache (downloaded the first time)"},
		{name: "own bzImage: nothing to fetch", kernel: "/boot/bzImage", version: "v0.0.0-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &project.Config{Flavor: "linux"}
			cfg.Settings = Settings{Kernel: tt.kernel, KernelVersion: tt.version}
			if got := (Flavor{}).Announce(cfg); got != tt.want {
				t.Errorf("Announce = %q, want %q", got, tt.want)
			}
		})
	}
}
