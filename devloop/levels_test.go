package devloop

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ukdev/ukdev/flavor"
	"github.com/ukdev/ukdev/flavor/elf"
	"github.com/ukdev/ukdev/flavor/unikraft"
)

func TestAnnotate(t *testing.T) {
	uk, err := unikraft.New(unikraft.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name           string
		flavor         flavor.Kernel
		e              Event
		level, lib, at string
	}{
		{"unikraft with source", uk, Event{Type: TypeVMConsole, Line: "[    0.106206] CRIT: [libkvmplat] <traps.c @   84> Crashing"},
			"crit", "libkvmplat", "traps.c:84"},
		{"unikraft coloured, no source", uk, Event{Type: TypeVMConsole, Line: "\x1b[33mWarn: [libukboot] no memory region\x1b[0m"},
			"warn", "libukboot", ""},
		{"unikraft debug", uk, Event{Type: TypeVMConsole, Line: "dbg:  [libukalloc] <alloc.c @ 3> grow"},
			"debug", "libukalloc", "alloc.c:3"},
		{"unikraft application output", uk, Event{Type: TypeVMConsole, Line: "Hello world!"}, "", "", ""},
		{"not a console event", uk, Event{Type: TypeBuildOutput, Line: "ERR: [lib] <a.c @ 1> x"}, "", "", ""},
		{"flavor without a parser", elf.Kernel{}, Event{Type: TypeVMConsole, Line: "ERR: [lib] <a.c @ 1> x"}, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.e
			annotate(tt.flavor, &e)
			if e.Level != tt.level || e.Library != tt.lib || e.Where != tt.at {
				t.Errorf("annotate: level %q lib %q where %q; want %q %q %q", e.Level, e.Library, e.Where, tt.level, tt.lib, tt.at)
			}
			if e.Line != tt.e.Line || e.Message != tt.e.Message {
				t.Errorf("annotate changed the line: %q", e.Line)
			}
		})
	}
}

func TestAnnotateJSON(t *testing.T) {
	uk, _ := unikraft.New(unikraft.Options{})
	e := Event{Type: TypeVMConsole, Boot: 1, Line: "ERR:  [libvfscore] <main.c @ 12> no root"}
	annotate(uk, &e)
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"level":"err"`, `"lib":"libvfscore"`, `"where":"main.c:12"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON %s lacks %s", b, want)
		}
	}
	plain := Event{Type: TypeVMConsole, Line: "hello"}
	annotate(uk, &plain)
	b, _ = json.Marshal(plain)
	for _, absent := range []string{"level", "lib", "where"} {
		if strings.Contains(string(b), `"`+absent+`"`) {
			t.Errorf("JSON %s has %s for a plain line", b, absent)
		}
	}
}
