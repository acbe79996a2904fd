package linux

import (
	"strings"
	"testing"

	"github.com/ukdev/ukdev/flavor"
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/image/imagetest"
)

func TestDebugTarget(t *testing.T) {
	l, err := New(Options{Kernel: fakeBzImage(t)})
	must(t, err)
	var d flavor.Debugger = l
	dir := t.TempDir()
	static := imagetest.StaticProgram(t, dir, "static")
	pie := imagetest.PIEProgram(t, dir, "pie")
	tests := []struct {
		name     string
		program  string
		wantNote string // a part of the note
		wantErr  bool
	}{
		{name: "static program", program: static, wantNote: "only while the VM is stopped in the program"},
		{name: "PIE", program: pie, wantNote: "position-independent"},
		{name: "not an ELF", program: imagetest.ShellScript(t, dir, "script"), wantErr: true},
		{name: "no program", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := d.DebugTarget(nil, image.Image{Build: 1, Symbols: tt.program})
			if tt.wantErr {
				if err == nil {
					t.Fatalf("DebugTarget = %+v, want an error", got)
				}
				return
			}
			if err != nil || got.File != tt.program || got.Arch != flavor.ArchX86_64 || got.Offset != 0 || !strings.Contains(got.Note, tt.wantNote) {
				t.Fatalf("DebugTarget = %+v, %v; want %s, a note saying %q", got, err, tt.program, tt.wantNote)
			}
		})
	}
}
