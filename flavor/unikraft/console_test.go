package unikraft

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseLine(t *testing.T) {
	tests := []struct {
		line string
		want Line
		ok   bool
	}{
		{"[    0.106206] CRIT: [libkvmplat] <traps.c @   84> Unhandled Trap 6 (invalid opcode)",
			Line{Time: 0.106206, HasTime: true, Level: UnikraftCrit, Library: "libkvmplat", File: "traps.c", Line: 84, Message: "Unhandled Trap 6 (invalid opcode)"}, true},
		{"[    0.102001] ERR:  [libukrandom] <random.c @   72> Could not initialize the HWRNG (-95)",
			Line{Time: 0.102001, HasTime: true, Level: UnikraftErr, Library: "libukrandom", File: "random.c", Line: 72, Message: "Could not initialize the HWRNG (-95)"}, true},
		{"[   12.000001] Warn: [libuknetdev] <netdev.c @ 1234> no IP",
			Line{Time: 12.000001, HasTime: true, Level: UnikraftWarn, Library: "libuknetdev", File: "netdev.c", Line: 1234, Message: "no IP"}, true},
		{"Info: [libukboot] <boot.c @  277> Calling main(1, ['hello'])\r\n",
			Line{Level: UnikraftInfo, Library: "libukboot", File: "boot.c", Line: 277, Message: "Calling main(1, ['hello'])"}, true},
		{"[    0.1] dbg:  [libukalloc] allocated 64",
			Line{Time: 0.1, HasTime: true, Level: UnikraftDebug, Library: "libukalloc", Message: "allocated 64"}, true},
		{"[    0.1] Info: {main} [appmyapp] <main.c @ 9> hi",
			Line{Time: 0.1, HasTime: true, Level: UnikraftInfo, Thread: "main", Library: "appmyapp", File: "main.c", Line: 9, Message: "hi"}, true},
		{"\x1b[90m[    0.106206] \x1b[31mCRIT:\x1b[0m [libkvmplat] <traps.c @   84> boom",
			Line{Time: 0.106206, HasTime: true, Level: UnikraftCrit, Library: "libkvmplat", File: "traps.c", Line: 84, Message: "boom"}, true},
		{"Hello world!", Line{}, false},
		{"Powered by", Line{}, false},
		{"", Line{}, false},
		{"[    0.1] CRITICAL: nope", Line{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseLine(tt.line)
		if ok != tt.ok || got != tt.want {
			t.Errorf("ParseLine(%q) = %+v, %v; want %+v, %v", tt.line, got, ok, tt.want, tt.ok)
		}
	}
}

func TestLevelSeverity(t *testing.T) {
	levels := []Level{UnikraftCrit, UnikraftErr, UnikraftWarn, UnikraftInfo, UnikraftDebug, "other"}
	for i, l := range levels {
		if got := l.Severity(); got != i {
			t.Errorf("%s.Severity() = %d, want %d", l, got, i)
		}
	}
}

func TestStripFirmwarePreamble(t *testing.T) {
	transcript := readLines(t, "unikraft-hello.txt")
	tests := []struct {
		name  string
		lines []string
		first string // the first line kept; "" for none
		n     int
	}{
		{"SeaBIOS preamble", transcript, "Powered by", len(transcript) - 6},
		{"no preamble", []string{"Powered by", "Hello world!"}, "Powered by", 2},
		{"Booting from after Unikraft output is not a preamble", []string{"[ 0.1] Info: [libukboot] hi", "Booting from ROM.."}, "[ 0.1] Info: [libukboot] hi", 2},
		{"nothing after the preamble", []string{"SeaBIOS", "Booting from ROM.."}, "", 0},
		{"empty", nil, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := StripFirmwarePreamble(tt.lines)
			if len(got) != tt.n {
				t.Fatalf("kept %d lines, want %d: %q", len(got), tt.n, got)
			}
			if tt.n > 0 && got[0] != tt.first {
				t.Errorf("first kept line = %q, want %q", got[0], tt.first)
			}
		})
	}
}

func TestPreambleFilter(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  []string
	}{
		{"SeaBIOS then Unikraft", readLines(t, "unikraft-hello.txt")[:8], []string{"Powered by", "o.   .o       _ _               __ _"}},
		{"no firmware at all", []string{"Hello world!", "Booting from nowhere"}, []string{"Hello world!", "Booting from nowhere"}},
		{"firmware lines without Booting from", []string{"\x1bc\x1b[2J", "SeaBIOS (version 1.16)", "", "Hello world!"}, []string{"Hello world!"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f PreambleFilter
			var got []string
			for _, l := range tt.lines {
				if f.Keep(l) {
					got = append(got, l)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("kept %q, want %q", got, tt.want)
			}
			f.Reset()
			if f.Keep("SeaBIOS (version 1.16)") {
				t.Error("after Reset the filter keeps firmware lines")
			}
		})
	}
}

// readLines reads a transcript from testdata, one string per line.
func readLines(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}
