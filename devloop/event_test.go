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
			e:    Event{Time: at, Type: TypeReload, Boot: 2, Timing: &Timing{DebounceMS: 100, BuildMS: 300, ImageMS: 1.5, QEMUMS: 80, BootMS: 82.5, OverheadMS: 2.5, TotalMS: 484}},
			want: map[string]any{"ts": "2026-01-02T03:04:05.678Z", "type": "reload.done", "boot": 2.0, "timing": map[string]any{
				"debounce_ms": 100.0, "build_ms": 300.0, "image_ms": 1.5, "qemu_ms": 80.0, "boot_ms": 82.5, "overhead_ms": 2.5, "total_ms": 484.0}},
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
			if !strings.HasPrefix(string(b), `{"ts":"`) || !strings.Contains(string(b), `","type":"`+string(tc.e.Type)+`"`) {
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
	cases := []struct {
		typ  EventType
		want string
	}{
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

// TestEventJSONGolden pins the exact bytes of `ukdev dev --json` for one
// event of every type as the loop emits it, plus the edge cases of the
// encoding: key order, which zero values are kept, the ts format and
// escaping. Scripts parse this stream; any change here is a change to the
// README's contract.
func TestEventJSONGolden(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 678901234, time.UTC)
	cases := []struct {
		name string
		e    Event
		want string
	}{
		{"ukdev.start", Event{Time: at, Type: TypeStart, Message: "project hello (elf) in /src/hello"},
			`{"ts":"2026-01-02T03:04:05.678Z","type":"ukdev.start","message":"project hello (elf) in /src/hello"}`},
		{"config.warning", Event{Time: at, Type: TypeConfigWarning, Message: "ukdev.toml changed: its settings apply when ukdev restarts"},
			`{"ts":"2026-01-02T03:04:05.678Z","type":"config.warning","message":"ukdev.toml changed: its settings apply when ukdev restarts"}`},
		{"vm.accel", Event{Time: at, Type: TypeAccel, Accel: "tcg", Detail: "no /dev/kvm — using TCG", Message: "accel tcg: no /dev/kvm — using TCG"},
			`{"ts":"2026-01-02T03:04:05.678Z","type":"vm.accel","message":"accel tcg: no /dev/kvm — using TCG","accel":"tcg","detail":"no /dev/kvm — using TCG"}`},
		{"watch.start", Event{Time: at, Type: TypeWatchStart, Paths: []string{".", "src"}, Message: "watching ., src"},
			`{"ts":"2026-01-02T03:04:05.678Z","type":"watch.start","message":"watching ., src","paths":[".","src"]}`},
		{"watch.change", Event{Time: at, Type: TypeWatchChange, Paths: []string{"main.c"}, Count: 1, Message: "main.c changed"},
			`{"ts":"2026-01-02T03:04:05.678Z","type":"watch.change","message":"main.c changed","paths":["main.c"],"count":1}`},
		{"watch.change too many to count", Event{Time: at, Type: TypeWatchChange, Paths: []string{"a.c", "b.c"}, Count: -1, Message: "many files changed"},
			`{"ts":"2026-01-02T03:04:05.678Z","type":"watch.change","message":"many files changed","paths":["a.c","b.c"],"count":-1}`},
		{"watch.warning", Event{Time: at, Type: TypeWatchWarning, Message: "inotify watch limit reached"},
			`{"ts":"2026-01-02T03:04:05.678Z","type":"watch.warning","message":"inotify watch limit reached"}`},
		{"watch.paused", Event{Time: at, Type: TypeWatchPaused, Message: "watching paused: saves do not rebuild"},
			`{"ts":"2026-01-02T03:04:05.678Z","type":"watch.paused","message":"watching paused: saves do not rebuild"}`},
		{"watch.resumed", Event{Time: at, Type: TypeWatchResumed, Message: "watching again"},
			`{"ts":"2026-01-02T03:04:05.678Z","type":"watch.resumed","message":"watching again"}`},
		{"build.start", Event{Time: at, Type: TypeBuildStart, Build: 3, Command: "make -j2 && strip app", Message: "build #3: make -j2 && strip app"},
			`{"ts":"2026-01-02T03:04:05.678Z","type":"build.start","message":"build #3: make -j2 \u0026\u0026 strip app","build":3,"command":"make -j2 \u0026\u0026 strip app"}`},
		{"build.output", Event{Time: at, Type: TypeBuildOutput, Build: 3, Line: "main.c:3: warning: <unused> & \"x\"", Stream: "stderr", Message: "main.c:3: warning: <unused> & \"x\""},
			`{"ts":"2026-01-02T03:04:05.678Z","type":"build.output","message":"main.c:3: warning: \u003cunused\u003e \u0026 \"x\"","build":3,"line":"main.c:3: warning: \u003cunused\u003e \u0026 \"x\"","stream":"stderr"}`},
		{"build.output empty line", Event{Time: at, Type: TypeBuildOutput, Build: 3, Stream: "stdout"},
			`{"ts":"2026-01-02T03:04:05.678Z","type":"build.output","build":3,"line":"","stream":"stdout"}`},
		{"build.done ok", Event{Time: at, Type: TypeBuildDone, Build: 3, OK: ptr(true), ExitCode: ptr(0), DurationMS: ptr(1234.567), Message: "build #3 ok in 1.23s"},
			`{"ts":"2026-01-02T03:04:05.678Z","type":"build.done","message":"build #3 ok in 1.23s","build":3,"ok":true,"exit_code":0,"duration_ms":1234.567}`},
		{"build.done failed to run", Event{Time: at, Type: TypeBuildDone, Build: 4, OK: ptr(false), DurationMS: ptr(0.0), Detail: "exec: \"mkae\": not found", Message: "build #4 failed: exec: \"mkae\": not found"},
			`{"ts":"2026-01-02T03:04:05.678Z","type":"build.done","message":"build #4 failed: exec: \"mkae\": not found","build":4,"ok":false,"duration_ms":0,"detail":"exec: \"mkae\": not found"}`},
		{"build.canceled", Event{Time: at, Type: TypeBuildCanceled, Build: 5, Message: "build #5 canceled: a newer build replaces it"},
			`{"ts":"2026-01-02T03:04:05.678Z","type":"build.canceled","message":"build #5 canceled: a newer build replaces it","build":5}`},
		{"image.ready", Event{Time: at, Type: TypeImageReady, Build: 3, DurationMS: ptr(1.5), Message: "image of build #3 ready: multiboot kernel"},
			`{"ts":"2026-01-02T03:04:05.678Z","type":"image.ready","message":"image of build #3 ready: multiboot kernel","build":3,"duration_ms":1.5}`},
		{"vm.start", Event{Time: at, Type: TypeVMStart, Boot: 2, Build: 3, Accel: "kvm", Machine: "microvm", PID: 4242, Message: "boot #2 of build #3: KVM on microvm, pid 4242"},
			`{"ts":"2026-01-02T03:04:05.678Z","type":"vm.start","message":"boot #2 of build #3: KVM on microvm, pid 4242","build":3,"boot":2,"accel":"kvm","machine":"microvm","pid":4242}`},
		{"vm.console", Event{Time: at, Type: TypeVMConsole, Boot: 2, Line: "hello\u2028world \x1b[31m\xff", Message: "hello\u2028world \x1b[31m\xff"},
			`{"ts":"2026-01-02T03:04:05.678Z","type":"vm.console","message":"hello\u2028world \u001b[31m\ufffd","boot":2,"line":"hello\u2028world \u001b[31m\ufffd"}`},
		{"vm.console empty line", Event{Time: at, Type: TypeVMConsole, Boot: 2},
			`{"ts":"2026-01-02T03:04:05.678Z","type":"vm.console","boot":2,"line":""}`},
		{"vm.console unikraft", Event{Time: at, Type: TypeVMConsole, Boot: 1, Line: "[    0.1] ERR:  [libukboot] <boot.c @ 42> oops", Message: "[    0.1] ERR:  [libukboot] <boot.c @ 42> oops",
			Level: "err", Library: "libukboot", Where: "boot.c:42"},
			`{"ts":"2026-01-02T03:04:05.678Z","type":"vm.console","message":"[    0.1] ERR:  [libukboot] \u003cboot.c @ 42\u003e oops","boot":1,"line":"[    0.1] ERR:  [libukboot] \u003cboot.c @ 42\u003e oops","level":"err","lib":"libukboot","where":"boot.c:42"}`},
		{"vm.console_dropped", Event{Time: at, Type: TypeVMDropped, Boot: 2, Count: 17, Message: "17 console lines not shown (reader too slow); they are in the boot log"},
			`{"ts":"2026-01-02T03:04:05.678Z","type":"vm.console_dropped","message":"17 console lines not shown (reader too slow); they are in the boot log","count":17,"boot":2}`},
		{"vm.syslog", Event{Time: at, Type: TypeVMSyslog, Boot: 2, Line: "<14>app: started", Message: "<14>app: started"},
			`{"ts":"2026-01-02T03:04:05.678Z","type":"vm.syslog","message":"\u003c14\u003eapp: started","boot":2,"line":"\u003c14\u003eapp: started"}`},
		{"vm.syslog empty line", Event{Time: at, Type: TypeVMSyslog, Boot: 2},
			`{"ts":"2026-01-02T03:04:05.678Z","type":"vm.syslog","boot":2,"line":""}`},
		{"vm.crash", Event{Time: at, Type: TypeVMCrash, Boot: 2, Build: 3, Detail: "page fault at 0x0", Frames: []string{"#0 0x1000 crash (main.c:3)", "#1 0x2000 main"}, Message: "boot #2 crashed: page fault at 0x0"},
			`{"ts":"2026-01-02T03:04:05.678Z","type":"vm.crash","message":"boot #2 crashed: page fault at 0x0","build":3,"boot":2,"detail":"page fault at 0x0","frames":["#0 0x1000 crash (main.c:3)","#1 0x2000 main"]}`},
		{"vm.exit with code", Event{Time: at, Type: TypeVMExit, Boot: 2, Build: 3, Reason: "exit", ExitCode: ptr(0), Detail: "code 0", Message: "boot #2 ended: exit 0"},
			`{"ts":"2026-01-02T03:04:05.678Z","type":"vm.exit","message":"boot #2 ended: exit 0","build":3,"boot":2,"exit_code":0,"reason":"exit","detail":"code 0"}`},
		{"vm.exit killed", Event{Time: at, Type: TypeVMExit, Boot: 2, Build: 3, Reason: "killed", Message: "boot #2 ended: killed"},
			`{"ts":"2026-01-02T03:04:05.678Z","type":"vm.exit","message":"boot #2 ended: killed","build":3,"boot":2,"reason":"killed"}`},
		{"vm.reset", Event{Time: at, Type: TypeVMReset, Boot: 2, Build: 3, Message: "boot #2 reset (same build #3)"},
			`{"ts":"2026-01-02T03:04:05.678Z","type":"vm.reset","message":"boot #2 reset (same build #3)","build":3,"boot":2}`},
		{"vm.paused", Event{Time: at, Type: TypeVMPaused, Boot: 2, Message: "boot #2 paused"},
			`{"ts":"2026-01-02T03:04:05.678Z","type":"vm.paused","message":"boot #2 paused","boot":2}`},
		{"vm.resumed", Event{Time: at, Type: TypeVMResumed, Boot: 2, Message: "boot #2 resumed"},
			`{"ts":"2026-01-02T03:04:05.678Z","type":"vm.resumed","message":"boot #2 resumed","boot":2}`},
		{"reload.done", Event{Time: at, Type: TypeReload, Boot: 2, Build: 3, Timing: &Timing{DebounceMS: 100, BuildMS: 300.25, ImageMS: 1.5, QEMUMS: 80, BootMS: 82.5, OverheadMS: 2.5, TotalMS: 484.25},
			Message: "save → running in 484 ms (debounce 100, build 300, image 1.5, qemu 80, ukdev 2.5)"},
			`{"ts":"2026-01-02T03:04:05.678Z","type":"reload.done","message":"save → running in 484 ms (debounce 100, build 300, image 1.5, qemu 80, ukdev 2.5)","build":3,"boot":2,"timing":{"debounce_ms":100,"build_ms":300.25,"image_ms":1.5,"qemu_ms":80,"boot_ms":82.5,"overhead_ms":2.5,"total_ms":484.25}}`},
		{"health.ready", Event{Time: at, Type: TypeHealthReady, Boot: 2, Build: 3, DurationMS: ptr(812.5), URL: "http://127.0.0.1:8080/healthz",
			Message: "boot #2 ready in 812 ms (http://127.0.0.1:8080/healthz answered)"},
			`{"ts":"2026-01-02T03:04:05.678Z","type":"health.ready","message":"boot #2 ready in 812 ms (http://127.0.0.1:8080/healthz answered)","build":3,"boot":2,"duration_ms":812.5,"url":"http://127.0.0.1:8080/healthz"}`},
		{"health.status failing", Event{Time: at, Type: TypeHealthStatus, Boot: 2, Build: 3, OK: ptr(false), Detail: "503 Service Unavailable: db down",
			URL: "http://127.0.0.1:8080/healthz", Message: "boot #2 health failing: 503 Service Unavailable: db down"},
			`{"ts":"2026-01-02T03:04:05.678Z","type":"health.status","message":"boot #2 health failing: 503 Service Unavailable: db down","build":3,"boot":2,"ok":false,"detail":"503 Service Unavailable: db down","url":"http://127.0.0.1:8080/healthz"}`},
		{"health.status ok", Event{Time: at, Type: TypeHealthStatus, Boot: 2, Build: 3, OK: ptr(true), URL: "http://127.0.0.1:8080/healthz", Message: "boot #2 healthy again"},
			`{"ts":"2026-01-02T03:04:05.678Z","type":"health.status","message":"boot #2 healthy again","build":3,"boot":2,"ok":true,"url":"http://127.0.0.1:8080/healthz"}`},
		{"error", Event{Time: at, Type: TypeError, Message: "boot #2: cont: <nil>"},
			`{"ts":"2026-01-02T03:04:05.678Z","type":"error","message":"boot #2: cont: \u003cnil\u003e"}`},
		{"ukdev.stop with an offset", Event{Time: at.In(time.FixedZone("X", -(2*3600 + 30*60))), Type: TypeStop, Message: "ukdev stopped; no VM left running"},
			`{"ts":"2026-01-02T00:34:05.678-02:30","type":"ukdev.stop","message":"ukdev stopped; no VM left running"}`},
		{"line of a type without one is dropped", Event{Time: at, Type: TypeVMStart, Boot: 1, Line: "ignored"},
			`{"ts":"2026-01-02T03:04:05.678Z","type":"vm.start","boot":1}`},
		{"whole second", Event{Time: at.Truncate(time.Second), Type: TypeStop},
			`{"ts":"2026-01-02T03:04:05.000Z","type":"ukdev.stop"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.e)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Errorf("got  %s\nwant %s", b, tc.want)
			}
		})
	}
}

func TestEventCrashed(t *testing.T) {
	for reason, want := range map[string]bool{
		"crash": true, "panic": true, "qemu-error": true,
		"exit": false, "killed": false, "": false,
	} {
		if got := (Event{Type: TypeVMExit, Reason: reason}).Crashed(); got != want {
			t.Errorf("Crashed with reason %q = %v, want %v", reason, got, want)
		}
	}
}
