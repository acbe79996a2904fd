package unikraft

import (
	"testing"

	"github.com/ukdev/ukdev/flavor"
	"github.com/ukdev/ukdev/image"
)

func TestDebugTarget(t *testing.T) {
	tests := []struct {
		name     string
		img      image.Image
		wantFile string
		wantNote bool
		wantErr  bool
	}{
		{name: "the .dbg", img: image.Image{Kernel: "/s/kernel", Symbols: "/s/symbols"}, wantFile: "/s/symbols"},
		{name: "only the stripped image", img: image.Image{Kernel: "/s/kernel", Symbols: "/s/kernel"}, wantFile: "/s/kernel", wantNote: true},
		{name: "nothing", img: image.Image{Kernel: "/s/kernel"}, wantErr: true},
	}
	var d flavor.Debugger = &Kernel{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := d.DebugTarget(nil, tt.img)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("DebugTarget = %+v, want an error", got)
				}
				return
			}
			if err != nil || got.File != tt.wantFile || got.Arch != flavor.ArchX86_64 || got.Offset != 0 || (got.Note != "") != tt.wantNote {
				t.Fatalf("DebugTarget = %+v, %v; want file %s, a note %v", got, err, tt.wantFile, tt.wantNote)
			}
		})
	}
}
