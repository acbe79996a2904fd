package main

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ukdev/ukdev/devloop"
)

// Escapes a hostile guest could print: OSC 52 writes the host's clipboard,
// ED 2 clears the screen.
const (
	osc52      = "\x1b]52;c;ZXZpbA==\x07"
	osc52ST    = "\x1b]52;c;ZXZpbA==\x1b\\"
	clearScr   = "\x1b[2J"
	red, reset = "\x1b[31m", "\x1b[0m"
)

var at = time.Date(2026, 1, 2, 12, 34, 56, 789654321, time.UTC)

func TestPrinterPlain(t *testing.T) {
	cases := []struct {
		name  string
		color bool
		e     devloop.Event
		want  string
	}{
		{
			name: "console line of a boot",
			e:    devloop.Event{Time: at, Type: devloop.TypeVMConsole, Boot: 2, Line: "hello", Message: "hello"},
			want: "12:34:56.789 boot#2  hello\n",
		},
		{
			name: "deployed instance's console line",
			e:    devloop.Event{Time: at, Type: devloop.TypeDeployConsole, Deploy: "prod", Instance: "i-1", Line: "hello" + clearScr, Message: "hello"},
			want: "12:34:56.789 cloud:prod hello\n",
		},
		{
			name: "console line without a boot",
			e:    devloop.Event{Time: at, Type: devloop.TypeVMConsole, Line: "hello", Message: "hello"},
			want: "12:34:56.789 console hello\n",
		},
		{
			name: "guest escapes removed",
			e: devloop.Event{Time: at, Type: devloop.TypeVMConsole, Boot: 1,
				Line: "hi " + osc52 + "there" + clearScr, Message: "hi " + osc52 + "there" + clearScr},
			want: "12:34:56.789 boot#1  hi there\n",
		},
		{
			name: "guest colours removed without color",
			e:    devloop.Event{Time: at, Type: devloop.TypeVMConsole, Boot: 1, Line: red + "red" + reset, Message: red + "red" + reset},
			want: "12:34:56.789 boot#1  red\n",
		},
		{
			name:  "guest colours kept and reset with color, other escapes removed",
			color: true,
			e: devloop.Event{Time: at, Type: devloop.TypeVMConsole, Boot: 1,
				Line: clearScr + red + "red" + osc52ST + " x", Message: clearScr + red + "red" + osc52ST + " x"},
			want: "12:34:56.789 boot#1  " + red + "red x" + reset + "\n",
		},
		{
			name: "build output escapes removed",
			e: devloop.Event{Time: at, Type: devloop.TypeBuildOutput, Build: 1, Stream: "stderr",
				Line: "cc: " + osc52 + "error" + clearScr, Message: "cc: " + osc52 + "error" + clearScr},
			want: "12:34:56.789 build   cc: error\n",
		},
		{
			name: "console line used even if the message differs",
			e:    devloop.Event{Time: at, Type: devloop.TypeVMConsole, Boot: 3, Line: "line", Message: "stale"},
			want: "12:34:56.789 boot#3  line\n",
		},
		{
			name: "error source",
			e:    devloop.Event{Time: at, Type: devloop.TypeError, Message: "QEMU refused build #2"},
			want: "12:34:56.789 error   QEMU refused build #2\n",
		},
		{
			name:  "escapes in other messages removed, even with color",
			color: true,
			e:     devloop.Event{Time: at, Type: devloop.TypeWatchChange, Message: osc52 + red + "main.c" + clearScr + " changed"},
			want:  "12:34:56.789 watch   main.c changed\n",
		},
		{
			name: "health ready",
			e: devloop.Event{Time: at, Type: devloop.TypeHealthReady, Boot: 2, URL: "http://127.0.0.1:8080/healthz",
				Message: "boot #2 ready in 812 ms (http://127.0.0.1:8080/healthz answered)"},
			want: "12:34:56.789 health  boot #2 ready in 812 ms (http://127.0.0.1:8080/healthz answered)\n",
		},
		{
			name: "health failing: the guest's reason cannot drive the terminal",
			e: devloop.Event{Time: at, Type: devloop.TypeHealthStatus, Boot: 2, Detail: "503: db" + clearScr,
				Message: "boot #2 health failing: 503: db" + osc52 + clearScr},
			want: "12:34:56.789 health  boot #2 health failing: 503: db\n",
		},
		{
			name: "gdb stub with its command line and note",
			e: devloop.Event{Time: at, Type: devloop.TypeVMGDB, Boot: 1, Address: "/run/g.sock", Detail: "no symbols",
				Message: "boot #1 paused at its first instruction, waiting for gdb at /run/g.sock: gdb -q -ex 'target remote /run/g.sock' (note: no symbols)"},
			want: "12:34:56.789 vm      boot #1 paused at its first instruction, waiting for gdb at /run/g.sock: gdb -q -ex 'target remote /run/g.sock' (note: no symbols)\n",
		},
		{
			name: "local time of the event",
			e:    devloop.Event{Time: at.In(time.FixedZone("X", -2*3600)), Type: devloop.TypeStop, Message: "stopped"},
			want: "10:34:56.789 ukdev   stopped\n",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			p := &printer{w: &b, color: tc.color}
			if err := p.print(tc.e); err != nil {
				t.Fatal(err)
			}
			if b.String() != tc.want {
				t.Errorf("got  %q\nwant %q", b.String(), tc.want)
			}
		})
	}
}

func TestPrinterJSON(t *testing.T) {
	cases := []struct {
		name          string
		color         bool
		e             devloop.Event
		line, message string
		hasLine       bool
	}{
		{
			name:    "console escapes removed",
			e:       devloop.Event{Time: at, Type: devloop.TypeVMConsole, Boot: 1, Line: "hi " + osc52 + "there" + clearScr},
			line:    "hi there",
			message: "hi there",
			hasLine: true,
		},
		{
			name:    "console colours removed even when stdout has color",
			color:   true,
			e:       devloop.Event{Time: at, Type: devloop.TypeVMConsole, Boot: 1, Line: red + "red" + reset + osc52ST},
			line:    "red",
			message: "red",
			hasLine: true,
		},
		{
			name:    "build output escapes removed",
			e:       devloop.Event{Time: at, Type: devloop.TypeBuildOutput, Build: 1, Line: clearScr + "warning" + osc52},
			line:    "warning",
			message: "warning",
			hasLine: true,
		},
		{
			name:    "empty console line keeps its key",
			e:       devloop.Event{Time: at, Type: devloop.TypeVMConsole, Boot: 1},
			hasLine: true,
		},
		{
			name:    "other events have no line",
			e:       devloop.Event{Time: at, Type: devloop.TypeBuildDone, Build: 1, Message: "build #1 ok"},
			message: "build #1 ok",
		},
		{
			name:    "control bytes in other messages stay JSON-escaped",
			e:       devloop.Event{Time: at, Type: devloop.TypeError, Message: "bad " + clearScr + "path"},
			message: "bad " + clearScr + "path",
		},
	}
	ts := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$`)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			p := &printer{w: &b, json: true, color: tc.color}
			if err := p.print(tc.e); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
				t.Fatalf("want one line, got %q", out)
			}
			if strings.ContainsAny(out, "\x1b\x07") {
				t.Errorf("raw control bytes in the JSON line: %q", out)
			}
			got, err := parseEvent(out)
			if err != nil {
				t.Fatalf("%q: %v", out, err)
			}
			if !ts.MatchString(got.TS) {
				t.Errorf("ts %q is not RFC 3339 with milliseconds", got.TS)
			}
			if parsed, err := time.Parse(time.RFC3339Nano, got.TS); err != nil || !parsed.Equal(tc.e.Time.Truncate(time.Millisecond)) {
				t.Errorf("ts %q does not parse back to %s (%v)", got.TS, tc.e.Time.Truncate(time.Millisecond), err)
			}
			if got.Type != tc.e.Type {
				t.Errorf("type %q, want %q", got.Type, tc.e.Type)
			}
			if got.Message != tc.message {
				t.Errorf("message %q, want %q", got.Message, tc.message)
			}
			switch {
			case got.Line == nil && tc.hasLine:
				t.Errorf("no line key in %s", out)
			case got.Line != nil && !tc.hasLine:
				t.Errorf("unexpected line key in %s", out)
			case got.Line != nil && *got.Line != tc.line:
				t.Errorf("line %q, want %q", *got.Line, tc.line)
			}
		})
	}
}

func TestPrinterJSONGDB(t *testing.T) {
	args := []string{"gdb", "-q", "-ex", "target remote /run/g.sock"}
	e := devloop.Event{Time: at, Type: devloop.TypeVMGDB, Boot: 2, Build: 1, Address: "/run/g.sock", Args: args,
		Command: "gdb -q -ex 'target remote /run/g.sock'", Message: "gdb"}
	var b strings.Builder
	if err := (&printer{w: &b, json: true}).print(e); err != nil {
		t.Fatal(err)
	}
	got, err := parseEvent(b.String())
	if err != nil {
		t.Fatal(err)
	}
	if got.Type != devloop.TypeVMGDB || got.Boot != 2 || got.Build != 1 || got.Address != e.Address ||
		got.Command != e.Command || !slices.Equal(got.Args, args) || got.Line != nil {
		t.Errorf("vm.gdb as JSON: %s", b.String())
	}
}
