package nanos

import (
	"strconv"
	"testing"

	"github.com/ukdev/ukdev/flavor/nanos/ops"
)

func TestWantsSyslog(t *testing.T) {
	tests := []struct {
		name string
		cfg  *ops.Config
		want bool
	}{
		{"no config", nil, false},
		{"no klib", &ops.Config{}, false},
		{"klib, no server", &ops.Config{Klibs: []string{"syslog"}}, true},
		{"klib aimed at the host", &ops.Config{Klibs: []string{"syslog"},
			ManifestPassthrough: map[string]any{"syslog": map[string]any{"server": "10.0.2.2"}}}, true},
		{"klib aimed elsewhere", &ops.Config{Klibs: []string{"syslog"},
			ManifestPassthrough: map[string]any{"syslog": map[string]any{"server": "logs.example.com"}}}, false},
		{"klib in RunConfig", &ops.Config{RunConfig: ops.RunConfig{Klibs: []string{"syslog"}}}, true},
	}
	for _, tt := range tests {
		if got := wantsSyslog(tt.cfg); got != tt.want {
			t.Errorf("%s: wantsSyslog = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// SyslogTo aims the klib at the host's port through QEMU's user network,
// keeping the klib's other settings, and makes the kernel want syslog.
func TestSyslogTo(t *testing.T) {
	tests := []struct {
		name string
		cfg  *ops.Config
	}{
		{"settings kept", &ops.Config{Klibs: []string{"syslog"},
			ManifestPassthrough: map[string]any{"syslog": map[string]any{"file_rotate": "2"}}}},
		{"no passthrough", &ops.Config{Klibs: []string{"syslog"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := New(Options{Config: tt.cfg, Kernel: nanosRelease(t, true, false)})
			if err != nil {
				t.Fatal(err)
			}
			if !k.WantsSyslog() {
				t.Fatal("WantsSyslog = false")
			}
			var old map[string]any
			if o, ok := tt.cfg.ManifestPassthrough["syslog"].(map[string]any); ok {
				old = o
			}
			k.SyslogTo(5140)
			sc := tt.cfg.ManifestPassthrough["syslog"].(map[string]any)
			if sc["server"] != "10.0.2.2" || sc["server_port"] != strconv.Itoa(5140) {
				t.Errorf("syslog manifest = %v", sc)
			}
			for key, v := range old {
				if sc[key] != v {
					t.Errorf("syslog manifest lost %s=%v: %v", key, v, sc)
				}
			}
			if !k.WantsSyslog() {
				t.Error("WantsSyslog = false after SyslogTo")
			}
		})
	}
}
