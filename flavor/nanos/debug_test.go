package nanos

import (
	"testing"

	"github.com/ukdev/ukdev/flavor"
	"github.com/ukdev/ukdev/flavor/nanos/ops"
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/image/imagetest"
)

func TestDebugTarget(t *testing.T) {
	dir := t.TempDir()
	static := imagetest.StaticProgram(t, dir, "static")
	pie := imagetest.PIEProgram(t, dir, "pie")
	script := imagetest.ShellScript(t, dir, "script")
	noASLR := &ops.Config{ManifestPassthrough: map[string]any{"noaslr": "t"}}
	tests := []struct {
		name       string
		config     *ops.Config
		program    string
		wantOffset uint64
		wantNote   bool
		wantErr    bool
	}{
		{name: "static program at its link addresses", program: static},
		{name: "PIE with noaslr at 0x400000", config: noASLR, program: pie, wantOffset: 0x400000},
		{name: "PIE with ASLR: the address is random", program: pie, wantOffset: 0x400000, wantNote: true},
		{name: "not an ELF", program: script, wantErr: true},
		{name: "no program", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := New(Options{Config: tt.config, Kernel: nanosRelease(t, true, false)})
			must(t, err)
			var d flavor.Debugger = n
			got, err := d.DebugTarget(nil, image.Image{Build: 1, Symbols: tt.program})
			if tt.wantErr {
				if err == nil {
					t.Fatalf("DebugTarget = %+v, want an error", got)
				}
				return
			}
			if err != nil || got.File != tt.program || got.Arch != flavor.ArchX86_64 || got.Offset != tt.wantOffset || (got.Note != "") != tt.wantNote {
				t.Fatalf("DebugTarget = %+v, %v; want %s at offset %#x, a note %v", got, err, tt.program, tt.wantOffset, tt.wantNote)
			}
		})
	}
}
