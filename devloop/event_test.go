package devloop

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestEventMarshalJSON(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 678901234, time.UTC)
	cet := time.FixedZone("CET", 3600)
	cases := []struct {
		name string
		e    Event
		want map[string]any
	}{
		{
			name: "console line kept when empty",
			e:    Event{Time: at, Type: TypeVMConsole, Boot: 2},
			want: map[string]any{"ts": "2026-01-02T03:04:05.678Z", "type": "vm.console", "boot": 2.0, "line": ""},
		},
		{
			name: "build output line kept when empty",
			e:    Event{Time: at, Type: TypeBuildOutput, Build: 1, Stream: "stderr"},
			want: map[string]any{"ts": "2026-01-02T03:04:05.678Z", "type": "build.output", "build": 1.0, "stream": "stderr", "line": ""},
		},
		{
			name: "line omitted for other types",
			e:    Event{Time: at, Type: TypeVMStart, Line: "ignored", Boot: 1, Build: 1, Accel: "tcg", Machine: "microvm", PID: 42, Message: "boot #1"},
			want: map[string]any{"ts": "2026-01-02T03:04:05.678Z", "type": "vm.start", "message": "boot #1",
				"boot": 1.0, "build": 1.0, "accel": "tcg", "machine": "microvm", "pid": 42.0},
		},
		{
			name: "false and zero pointers kept",
			e:    Event{Time: at, Type: TypeBuildDone, Build: 3, OK: ptr(false), ExitCode: ptr(0), DurationMS: ptr(0.0)},
			want: map[string]any{"ts": "2026-01-02T03:04:05.678Z", "type": "build.done", "build": 3.0, "ok": false, "exit_code": 0.0, "duration_ms": 0.0},
		},
		{
			name: "every zero field omitted",
			e:    Event{Time: at, Type: TypeStop},
			want: map[string]any{"ts": "2026-01-02T03:04:05.678Z", "type": "ukdev.stop"},
		},
		{
			name: "offset kept in ts",
			e:    Event{Time: at.In(cet), Type: TypeWatchChange, Paths: []string{"main.c"}, Count: 1},
			want: map[string]any{"ts": "2026-01-02T04:04:05.678+01:00", "type": "watch.change", "paths": []any{"main.c"}, "count": 1.0},
		},
		{
			name: "timing nested",
			e:    Event{Time: at, Type: TypeReload, Boot: 2, Timing: &Timing{DebounceMS: 100, BuildMS: 300, ImageMS: 1.5, QEMUMS: 80, OverheadMS: 2.5, TotalMS: 484}},
			want: map[string]any{"ts": "2026-01-02T03:04:05.678Z", "type": "reload.done", "boot": 2.0, "timing": map[string]any{
				"debounce_ms": 100.0, "build_ms": 300.0, "image_ms": 1.5, "qemu_ms": 80.0, "overhead_ms": 2.5, "total_ms": 484.0}},
		},
		{
			name: "exit with reason and detail",
			e:    Event{Time: at, Type: TypeVMExit, Boot: 1, Reason: "exit", ExitCode: ptr(3), Detail: "code 3"},
			want: map[string]any{"ts": "2026-01-02T03:04:05.678Z", "type": "vm.exit", "boot": 1.0, "reason": "exit", "exit_code": 3.0, "detail": "code 3"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.e)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(b), `{"ts":"`) || !strings.Contains(string(b), `","type":"`+tc.e.Type+`"`) {
				t.Errorf("%s: want ts then type first", b)
			}
			var got map[string]any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("%s: %v", b, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %s\nwant %v", b, tc.want)
			}
		})
	}
}

func TestEventSource(t *testing.T) {
	cases := []struct{ typ, want string }{
		{TypeVMConsole, "console"},
		{TypeVMStart, "vm"},
		{TypeBuildOutput, "build"},
		{TypeStart, "ukdev"},
		{TypeError, "error"},
		{TypeReload, "reload"},
	}
	for _, tc := range cases {
		if got := (Event{Type: tc.typ}).Source(); got != tc.want {
			t.Errorf("Source of %s = %q, want %q", tc.typ, got, tc.want)
		}
	}
}
