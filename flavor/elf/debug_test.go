package elf

import (
	"errors"
	"testing"

	"github.com/ukdev/ukdev/flavor"
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/image/imagetest"
)

func TestDebugTarget(t *testing.T) {
	dir := t.TempDir()
	kernel32 := imagetest.Program32(t, dir, "kernel.elf")
	debug64 := imagetest.StaticProgram(t, dir, "kernel.debug")
	bzImage := imagetest.ShellScript(t, dir, "bzImage")
	tests := []struct {
		name    string
		img     image.Image
		want    flavor.DebugTarget
		wantErr error
	}{
		{
			name: "the kernel itself, 32-bit, read as x86-64",
			img:  image.Image{Build: 1, Kernel: kernel32, Symbols: kernel32},
			want: flavor.DebugTarget{File: kernel32, Arch: "i386:x86-64"},
		},
		{
			name: "a separate debug file",
			img:  image.Image{Build: 2, Kernel: kernel32, Symbols: debug64},
			want: flavor.DebugTarget{File: debug64, Arch: "i386:x86-64"},
		},
		{name: "not an ELF", img: image.Image{Build: 3, Kernel: bzImage, Symbols: bzImage}, wantErr: image.ErrNotBootable},
		{name: "no symbols", img: image.Image{Build: 4, Kernel: kernel32}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Kernel{}.DebugTarget(nil, tt.img)
			if tt.want.File == "" {
				if err == nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Fatalf("DebugTarget = %+v, %v; want an error wrapping %v", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got.File != tt.want.File || got.Arch != tt.want.Arch || got.Offset != 0 || got.Note != "" {
				t.Fatalf("DebugTarget = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
	var _ flavor.Debugger = Kernel{}
}
