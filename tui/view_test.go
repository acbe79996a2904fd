package tui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/tui/panel"
	"github.com/ukdev/ukdev/tui/panel/paneltest"
)

// script is a dev session as the loop reports it: a first build and boot,
// then a save that rebuilds and reloads onto boot 2.
func script() []panel.EventsMsg {
	at := func(sec int) time.Time { return pinnedNow.Add(time.Duration(sec-20) * time.Second) }
	ok := true
	exit0 := 0
	f := func(v float64) *float64 { return &v }
	return []panel.EventsMsg{
		{
			{Time: at(0), Type: devloop.TypeStart, Message: "project hello (elf) in /src/hello"},
			{Time: at(0), Type: devloop.TypeAccel, Accel: "tcg", Detail: "no /dev/kvm — using TCG", Message: "accel tcg: no /dev/kvm — using TCG"},
			{Time: at(0), Type: devloop.TypeWatchStart, Paths: []string{"."}, Message: "watching ."},
			{Time: at(0), Type: devloop.TypeBuildStart, Build: 1, Command: "make", Message: "build #1: make"},
			{Time: at(1), Type: devloop.TypeBuildOutput, Build: 1, Stream: "stdout", Line: "cc -c main.c -o build/main.o", Message: "cc -c main.c -o build/main.o"},
			{Time: at(1), Type: devloop.TypeBuildOutput, Build: 1, Stream: "stdout", Line: "ld -o build/hello.elf", Message: "ld -o build/hello.elf"},
			{Time: at(2), Type: devloop.TypeBuildDone, Build: 1, OK: &ok, ExitCode: &exit0, DurationMS: f(1240), Message: "build #1 ok in 1.24s"},
			{Time: at(2), Type: devloop.TypeImageReady, Build: 1, DurationMS: f(3), Message: "image of build #1 ready: PVH kernel"},
			{Time: at(2), Type: devloop.TypeVMStart, Boot: 1, Build: 1, Accel: "tcg", Machine: "microvm", PID: 4242, Message: "boot #1 of build #1: TCG on microvm, pid 4242"},
		},
		{
			{Time: at(3), Type: devloop.TypeVMConsole, Boot: 1, Build: 1, Line: "hello from ukdev", Message: "hello from ukdev"},
			{Time: at(3), Type: devloop.TypeVMConsole, Boot: 1, Build: 1, Line: "type 'help' for commands", Message: "type 'help' for commands"},
		},
		{
			{Time: at(10), Type: devloop.TypeWatchChange, Paths: []string{"main.c"}, Count: 1, Message: "main.c changed"},
			{Time: at(10), Type: devloop.TypeBuildStart, Build: 2, Command: "make", Message: "build #2: make"},
			{Time: at(11), Type: devloop.TypeBuildOutput, Build: 2, Stream: "stdout", Line: "cc -c main.c -o build/main.o", Message: "cc -c main.c -o build/main.o"},
			{Time: at(11), Type: devloop.TypeBuildDone, Build: 2, OK: &ok, ExitCode: &exit0, DurationMS: f(980), Message: "build #2 ok in 980ms"},
			{Time: at(11), Type: devloop.TypeImageReady, Build: 2, DurationMS: f(3), Message: "image of build #2 ready: PVH kernel"},
			{Time: at(12), Type: devloop.TypeVMStart, Boot: 2, Build: 2, Accel: "tcg", Machine: "microvm", PID: 4343, Message: "boot #2 of build #2: TCG on microvm, pid 4343"},
			{Time: at(12), Type: devloop.TypeVMExit, Boot: 1, Build: 1, Reason: "killed", Message: "boot #1 ended: killed"},
			{Time: at(12), Type: devloop.TypeReload, Boot: 2, Build: 2, Timing: &devloop.Timing{DebounceMS: 100, BuildMS: 980, ImageMS: 3, QEMUMS: 700, OverheadMS: 67, TotalMS: 1850}, Message: "save → running in 1.85s"},
			{Time: at(12), Type: devloop.TypeVMConsole, Boot: 2, Build: 2, Line: "hello again", Message: "hello again"},
			{Time: at(12), Type: devloop.TypeVMConsole, Boot: 2, Build: 2, Line: "type 'help' for commands", Message: "type 'help' for commands"},
		},
	}
}

// TestDashboardGolden renders the whole screen at fixed sizes, without
// colour and with the clock pinned, after a scripted session. The golden
// files are in testdata/TestDashboardGolden; go test -update rewrites them.
func TestDashboardGolden(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	i := func(v int64) *int64 { return &v }
	at := pinnedNow.Add(-2 * time.Second)
	plan := panel.EventsMsg{
		{Time: at, Type: devloop.TypeDeployStart, Deploy: "prod", Target: "gcp", Build: 2, ElapsedMS: f(0)},
		{Time: at, Type: devloop.TypeDeployStep, Deploy: "prod", Target: "gcp", Build: 2, Step: "make disk", Finished: true, ElapsedMS: f(900)},
		{Time: at, Type: devloop.TypeDeployPlan, Deploy: "prod", Target: "gcp", Build: 2, Plan: []devloop.PlanRow{
			{Key: "image", Value: "hello-b2"}, {Key: "zone", Value: "europe-west1-b"}, {Key: "instance", Value: "hello-b2 (e2-small)"},
			{Key: "ports", Value: "tcp 8080"}, {Key: "replaces", Value: "instance hello-b1"}}},
	}
	upload := panel.EventsMsg{
		{Time: at, Type: devloop.TypeDeployStep, Deploy: "prod", Target: "gcp", Build: 2, Step: "upload disk", ElapsedMS: f(1000)},
		{Time: at, Type: devloop.TypeDeployProgress, Deploy: "prod", Target: "gcp", Build: 2, Step: "upload disk", BytesDone: i(3 << 20), BytesTotal: i(4 << 20), ElapsedMS: f(4000)},
	}
	tests := []struct {
		name  string
		w, h  int
		keys  []string
		after []panel.EventsMsg // events after the keys
		then  []string          // keys after those events
		last  []panel.EventsMsg // events after those keys
	}{
		{name: "deploy-plan-120x40", w: 120, h: 40, keys: []string{"d"}, after: []panel.EventsMsg{plan}},
		{name: "deploy-progress-70x30", w: 70, h: 30, keys: []string{"d"}, after: []panel.EventsMsg{plan}, then: []string{"y"}, last: []panel.EventsMsg{upload}},
		{name: "dashboard-120x40", w: 120, h: 40},
		{name: "dashboard-70x30", w: 70, h: 30},
		{name: "help-120x40", w: 120, h: 40, keys: []string{"?"}},
		{name: "logs-maximised-120x40", w: 120, h: 40, keys: []string{"2", "f"}},
		{name: "too-small-50x12", w: 50, h: 12},
		{name: "vms-120x40", w: 120, h: 40, keys: []string{"6", "j"}},
		{name: "vms-80x24", w: 80, h: 24, keys: []string{"6"}},
		{name: "vms-help-120x40", w: 120, h: 40, keys: []string{"6", "?"}},
		{name: "vms-help-80x24", w: 80, h: 24, keys: []string{"6", "?"}},
		{name: "dashboard-80x24", w: 80, h: 24},
		{name: "vms-maximised-200x60", w: 200, h: 60, keys: []string{"6", "f"}},
		{name: "vms-200x60", w: 200, h: 60, keys: []string{"6", "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := testDeps(&fakeControl{})
			d.VMs = machineVMs()
			m := New(d, fakeInspector{}, nil, Options{Project: "hello", Flavor: "elf", Ports: []string{"tcp 8080→80"}})
			m = update(m, tea.WindowSizeMsg{Width: tt.w, Height: tt.h})
			for _, batch := range script() {
				m = update(m, batch)
			}
			for _, k := range tt.keys {
				m = updateAll(m, paneltest.Press(k))
			}
			for _, batch := range tt.after {
				m = update(m, batch)
			}
			for _, k := range tt.then {
				m = update(m, paneltest.Press(k))
			}
			for _, batch := range tt.last {
				m = update(m, batch)
			}
			got := ansi.Strip(m.View().Content)
			lines := strings.Split(got, "\n")
			if len(lines) != tt.h {
				t.Errorf("%d lines, want %d", len(lines), tt.h)
			}
			for i, l := range lines {
				if w := ansi.StringWidth(l); w != tt.w {
					t.Errorf("line %d is %d cells wide, want %d", i, w, tt.w)
				}
			}
			golden.RequireEqual(t, got)
		})
	}
}

func TestTUIStatus(t *testing.T) {
	at := func(sec int) time.Time { return pinnedNow.Add(time.Duration(sec) * time.Second) }
	bad, good := false, true
	two := 2
	f := func(v float64) *float64 { return &v }
	i64 := func(v int64) *int64 { return &v }
	tests := []struct {
		name   string
		events []devloop.Event
		host   string // the libvirt URI the VMs run at
		vm     string
		want   []string // substrings of the status bar
		lacks  []string // substrings it must not have
	}{
		{name: "nothing yet", vm: "no VM", want: []string{"hello · elf", "no build yet", "watching"}},
		{name: "first build", events: []devloop.Event{{Type: devloop.TypeBuildStart, Build: 1}}, vm: "building", want: []string{"build #1 running…"}},
		{name: "an image that needed no build", events: []devloop.Event{{Type: devloop.TypeImageReady, Build: 4}},
			vm: "no VM", want: []string{"build #4 (up to date)"}, lacks: []string{"no build yet"}},
		{
			name: "an image after its build keeps the build's result",
			events: []devloop.Event{
				{Type: devloop.TypeBuildStart, Build: 5},
				{Type: devloop.TypeBuildDone, Build: 5, OK: &good, DurationMS: f(812)},
				{Type: devloop.TypeImageReady, Build: 5},
			},
			vm: "no VM", want: []string{"build #5 ok 812ms"}, lacks: []string{"up to date"},
		},
		{
			name: "booting then running",
			events: []devloop.Event{
				{Type: devloop.TypeAccel, Accel: "tcg", Detail: "KVM present but unusable (kvm-pvm) — using TCG"},
				{Type: devloop.TypeVMStart, Boot: 3, Machine: "microvm", Time: at(-65)},
				{Type: devloop.TypeVMConsole, Boot: 3, Line: "hi"},
			},
			vm: "running", want: []string{"TCG (KVM unusable) microvm", "boot #3 up 1m"}, lacks: []string{"1m05s"},
		},
		{
			name:   "on a remote libvirt host",
			host:   "qemu+ssh://me@kvm1:2222/system",
			events: []devloop.Event{{Type: devloop.TypeAccel, Accel: "kvm"}, {Type: devloop.TypeVMStart, Boot: 1, Machine: "q35", Time: at(0)}},
			vm:     "booting", want: []string{"KVM q35 on kvm1"},
		},
		{
			name:   "on this machine's libvirt",
			host:   "qemu:///system",
			events: []devloop.Event{{Type: devloop.TypeVMStart, Boot: 1, Machine: "pc", Accel: "tcg", Time: at(0)}},
			vm:     "booting", want: []string{"TCG (no KVM) pc on libvirt"},
		},
		{
			name:   "booting until the first line",
			events: []devloop.Event{{Type: devloop.TypeVMStart, Boot: 1, Time: at(0)}},
			vm:     "booting", want: []string{"boot #1 up 0s"},
		},
		{
			name: "waiting for gdb until the first line",
			events: []devloop.Event{
				{Type: devloop.TypeVMStart, Boot: 1, Time: at(0)},
				{Type: devloop.TypeVMGDB, Boot: 1, Address: "/run/gdb-1.sock"},
			},
			vm: "waiting for gdb",
		},
		{
			name: "gdb on a running VM changes nothing",
			events: []devloop.Event{
				{Type: devloop.TypeVMStart, Boot: 1, Time: at(0)},
				{Type: devloop.TypeVMConsole, Boot: 1, Line: "hi"},
				{Type: devloop.TypeVMGDB, Boot: 1, Address: "/run/gdb-1.sock"},
			},
			vm: "running",
		},
		{
			name: "paused stops the uptime",
			events: []devloop.Event{
				{Type: devloop.TypeVMStart, Boot: 1, Time: at(-30)},
				{Type: devloop.TypeVMPaused, Boot: 1, Time: at(-20)},
			},
			vm: "paused", want: []string{"up 10s"},
		},
		{
			name: "resumed subtracts the pause",
			events: []devloop.Event{
				{Type: devloop.TypeVMStart, Boot: 1, Time: at(-30)},
				{Type: devloop.TypeVMPaused, Boot: 1, Time: at(-20)},
				{Type: devloop.TypeVMResumed, Boot: 1, Time: at(-5)},
			},
			vm: "running", want: []string{"up 15s"},
		},
		{
			name: "exit code",
			events: []devloop.Event{
				{Type: devloop.TypeVMStart, Boot: 1, Time: at(-5)},
				{Type: devloop.TypeVMExit, Boot: 1, Reason: "exit", ExitCode: &two, Time: at(-1)},
			},
			vm: "exited (exit 2)", want: []string{"up 4s"},
		},
		{
			name: "panic is a crash",
			events: []devloop.Event{
				{Type: devloop.TypeVMStart, Boot: 1},
				{Type: devloop.TypeVMExit, Boot: 1, Reason: "panic"},
			},
			vm: "crashed (panic)",
		},
		{
			name: "an old boot's end does not count",
			events: []devloop.Event{
				{Type: devloop.TypeVMStart, Boot: 2},
				{Type: devloop.TypeVMExit, Boot: 1, Reason: "killed"},
			},
			vm: "booting",
		},
		{
			name: "failed build keeps the VM",
			events: []devloop.Event{
				{Type: devloop.TypeVMStart, Boot: 1},
				{Type: devloop.TypeBuildStart, Build: 2},
				{Type: devloop.TypeBuildDone, Build: 2, OK: &bad, ExitCode: &two, DurationMS: f(480)},
			},
			vm: "booting", want: []string{"build #2 FAILED (exit 2) 480ms"},
		},
		{
			name: "ready after boot",
			events: []devloop.Event{
				{Type: devloop.TypeVMStart, Boot: 2, Time: at(-3)},
				{Type: devloop.TypeVMConsole, Boot: 2, Line: "hi"},
				{Type: devloop.TypeHealthReady, Boot: 2, DurationMS: f(812.4)},
			},
			vm: "running", want: []string{"boot #2 up 3s │ ready 812ms"},
		},
		{
			name: "health failing, then ok again",
			events: []devloop.Event{
				{Type: devloop.TypeVMStart, Boot: 2},
				{Type: devloop.TypeHealthReady, Boot: 2, DurationMS: f(1500)},
				{Type: devloop.TypeHealthStatus, Boot: 2, OK: &bad, Detail: "503"},
			},
			vm: "booting", want: []string{"health failing"}, lacks: []string{"ready"},
		},
		{
			name: "health ok again shows the ready time",
			events: []devloop.Event{
				{Type: devloop.TypeVMStart, Boot: 2},
				{Type: devloop.TypeHealthReady, Boot: 2, DurationMS: f(1500)},
				{Type: devloop.TypeHealthStatus, Boot: 2, OK: &bad, Detail: "503"},
				{Type: devloop.TypeHealthStatus, Boot: 2, OK: &good},
			},
			vm: "booting", want: []string{"ready 1.50s"}, lacks: []string{"failing"},
		},
		{
			name: "a new boot is not ready yet, whatever the old one said",
			events: []devloop.Event{
				{Type: devloop.TypeVMStart, Boot: 2},
				{Type: devloop.TypeHealthReady, Boot: 2, DurationMS: f(1500)},
				{Type: devloop.TypeVMStart, Boot: 3},
				{Type: devloop.TypeHealthStatus, Boot: 2, OK: &bad},
			},
			vm: "booting", lacks: []string{"ready", "health"},
		},
		{
			name: "a reset is not ready yet; an ended boot has no health",
			events: []devloop.Event{
				{Type: devloop.TypeVMStart, Boot: 2},
				{Type: devloop.TypeHealthReady, Boot: 2, DurationMS: f(1500)},
				{Type: devloop.TypeVMReset, Boot: 2},
				{Type: devloop.TypeHealthReady, Boot: 2, DurationMS: f(90)},
				{Type: devloop.TypeVMExit, Boot: 2, Reason: "exit", ExitCode: &two},
			},
			vm: "exited (exit 2)", lacks: []string{"ready", "health"},
		},
		{
			name: "an upload to the VM host shows while it goes",
			events: []devloop.Event{
				{Type: devloop.TypeVMUpload, Boot: 2, File: "/run/ukdev/images/3/vmlinuz", BytesDone: i64(3 << 20), BytesTotal: i64(12 << 20), ElapsedMS: f(1250)},
			},
			vm: "no VM", want: []string{"upload vmlinuz 3.0 MiB/12.0 MiB 1.25s"},
		},
		{
			name: "a finished upload leaves the status bar",
			events: []devloop.Event{
				{Type: devloop.TypeVMUpload, Boot: 2, File: "/run/ukdev/images/3/vmlinuz", BytesDone: i64(3 << 20), BytesTotal: i64(12 << 20), ElapsedMS: f(1250)},
				{Type: devloop.TypeVMUpload, Boot: 2, File: "/run/ukdev/images/3/vmlinuz", BytesDone: i64(12 << 20), BytesTotal: i64(12 << 20), Finished: true},
			},
			vm: "no VM", lacks: []string{"upload"},
		},
		{
			name: "a skipped upload never shows",
			events: []devloop.Event{
				{Type: devloop.TypeVMUpload, Boot: 2, File: "/run/ukdev/images/3/vmlinuz", BytesTotal: i64(12 << 20), Skipped: true, Finished: true},
			},
			vm: "no VM", lacks: []string{"upload"},
		},
		{
			name: "the boot's start ends the upload's segment",
			events: []devloop.Event{
				{Type: devloop.TypeVMUpload, Boot: 2, File: "/run/ukdev/images/3/initrd.cpio", BytesDone: i64(0), BytesTotal: i64(1 << 20)},
				{Type: devloop.TypeVMStart, Boot: 2},
			},
			vm: "booting", lacks: []string{"upload"},
		},
		{
			name:   "reload time",
			events: []devloop.Event{{Type: devloop.TypeReload, Timing: &devloop.Timing{TotalMS: 1850}}},
			vm:     "no VM", want: []string{"save→running 1.85s"},
		},
		{
			name:   "watch paused",
			events: []devloop.Event{{Type: devloop.TypeWatchPaused}},
			vm:     "no VM", want: []string{"watch paused"},
		},
		{
			name:   "config forces TCG",
			events: []devloop.Event{{Type: devloop.TypeAccel, Accel: "tcg", Detail: `vm.accel = "tcg" in the config`}},
			vm:     "no VM", want: []string{"TCG (set in config)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := status{project: "hello", flavor: "elf", host: tt.host}
			for _, e := range tt.events {
				s.apply(e)
			}
			if got := s.vmLabel(); got != tt.vm {
				t.Errorf("VM = %q, want %q", got, tt.vm)
			}
			vm, loop := s.segments(pinnedNow)
			bar := strings.Join(append(vm, loop...), " │ ")
			for _, w := range tt.want {
				if !strings.Contains(bar, w) {
					t.Errorf("status %q lacks %q", bar, w)
				}
			}
			for _, w := range tt.lacks {
				if strings.Contains(bar, w) {
					t.Errorf("status %q has %q", bar, w)
				}
			}
		})
	}
}

// TestHelpListsVMsKeys checks that the help overlay over the VMs panel
// lists its keys, and the global p no more since the panel owns it.
func TestHelpListsVMsKeys(t *testing.T) {
	d := testDeps(&fakeControl{})
	d.VMs = machineVMs()
	m := New(d, fakeInspector{}, nil, Options{Project: "hello", Flavor: "elf"})
	m = update(m, tea.WindowSizeMsg{Width: 120, Height: 40})
	for _, k := range []string{"6", "?"} {
		m = updateAll(m, paneltest.Press(k))
	}
	help := ansi.Strip(m.View().Content)
	paneltest.WantText(t, help, "VMs · 3", "j/↓", "next VM", "enter/a", "attach to it", "pause/resume it",
		"reboot it", "stop it (y/n)", "1-6")
	if strings.Contains(help, "pause VM") {
		t.Errorf("the help lists the global p over the VMs panel:\n%s", help)
	}
}
