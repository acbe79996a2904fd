package unikraft

import (
	"testing"

	"github.com/ukdev/ukdev/flavor"
)

func TestParseConsoleLine(t *testing.T) {
	var p flavor.ConsoleParser = &Kernel{}
	tests := []struct {
		line string
		want flavor.ConsoleLine
		ok   bool
	}{
		{"[    0.106206] CRIT: [libkvmplat] <traps.c @   84> Crashing", flavor.ConsoleLine{Level: "crit", Library: "libkvmplat", File: "traps.c", Line: 84}, true},
		{"\x1b[31mERR:  [libvfscore] <main.c @ 12> no root\x1b[0m", flavor.ConsoleLine{Level: "err", Library: "libvfscore", File: "main.c", Line: 12}, true},
		{"Warn: [libukboot] fallback", flavor.ConsoleLine{Level: "warn", Library: "libukboot"}, true},
		{"Info: booting", flavor.ConsoleLine{Level: "info"}, true},
		{"dbg:  [libukalloc] <alloc.c @ 3> x", flavor.ConsoleLine{Level: "debug", Library: "libukalloc", File: "alloc.c", Line: 3}, true},
		{"Hello world!", flavor.ConsoleLine{}, false},
	}
	for _, tt := range tests {
		got, ok := p.ParseConsoleLine(tt.line)
		if ok != tt.ok || got != tt.want {
			t.Errorf("ParseConsoleLine(%q) = %+v, %v; want %+v, %v", tt.line, got, ok, tt.want, tt.ok)
		}
	}
}
