package metricsview

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/tui/panel"
	"github.com/ukdev/ukdev/tui/panel/paneltest"
)

var epoch = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

type fakeInspector struct {
	info    devloop.VMInfo
	running bool
}

func (f *fakeInspector) Current() (devloop.VMInfo, bool) { return f.info, f.running }

func (f *fakeInspector) HostStats() (devloop.HostStats, error) {
	return devloop.HostStats{}, errors.New("the tests script host stats")
}

func (f *fakeInspector) MemorySize(context.Context) (uint64, error) {
	return 0, errors.New("no QMP in this fake")
}

func (f *fakeInspector) BalloonStats(context.Context) (devloop.BalloonStats, error) {
	return devloop.BalloonStats{}, errors.New("no QMP in this fake")
}

func (f *fakeInspector) ReadMemory(context.Context, uint64, uint64, bool) ([]byte, error) {
	return nil, errors.New("no memory in this fake")
}

// host scripts /proc: each sample returns the next stats.
type host struct {
	stats []devloop.HostStats
	err   error
}

func (h *host) read() (devloop.HostStats, error) {
	if h.err != nil {
		return devloop.HostStats{}, h.err
	}
	s := h.stats[0]
	if len(h.stats) > 1 {
		h.stats = h.stats[1:]
	}
	return s, nil
}

// newModel returns a panel whose clock advances a second per sample.
func newModel(in panel.Inspector, h *host) *Model {
	now := epoch
	d := panel.Deps{Styles: panel.NewStyles(false), Context: context.Background(),
		Now: func() time.Time { now = now.Add(time.Second); return now }}
	m := New(d, in)
	m.procStats = h.read
	return m
}

// tick runs one sampling tick to completion.
func tick(m *Model) {
	_, cmd := m.Update(panel.TickMsg(epoch))
	if cmd != nil {
		m.Update(cmd())
	}
}

func f64(v float64) *float64 { return &v }
func boolp(v bool) *bool     { return &v }

// events is a session: three boots, four builds (one failed), two reloads.
func events() panel.EventsMsg {
	return panel.EventsMsg{
		{Type: devloop.TypeVMStart, Boot: 1},
		{Type: devloop.TypeBuildDone, OK: boolp(true), DurationMS: f64(420)},
		{Type: devloop.TypeVMStart, Boot: 2},
		{Type: devloop.TypeReload, Timing: &devloop.Timing{DebounceMS: 100, BuildMS: 420, ImageMS: 3, QEMUMS: 80, OverheadMS: 17, TotalMS: 620}},
		{Type: devloop.TypeBuildDone, OK: boolp(false), DurationMS: f64(250)},
		{Type: devloop.TypeBuildDone, OK: boolp(true), DurationMS: f64(1500)},
		{Type: devloop.TypeVMStart, Boot: 3},
		{Type: devloop.TypeReload, Timing: &devloop.Timing{DebounceMS: 100, BuildMS: 1500, ImageMS: 4, QEMUMS: 90, OverheadMS: 20, TotalMS: 1714}},
		{Type: devloop.TypeVMConsole, Line: "noise"},
	}
}

// busyHost is QEMU using 10, 20, ... 80 % of a CPU and a growing RSS.
func busyHost() *host {
	var stats []devloop.HostStats
	ticks := uint64(0)
	for i := range 9 {
		ticks += uint64(i * 10)
		stats = append(stats, devloop.HostStats{PID: 4242, StartTicks: 7, UserTicks: ticks, RSSBytes: uint64(40+i) << 20, PeakRSSBytes: 50 << 20, Threads: 4})
	}
	return &host{stats: stats}
}

func running() *fakeInspector {
	return &fakeInspector{running: true, info: devloop.VMInfo{Boot: 3, PID: 4242, Accel: "tcg", Machine: "microvm"}}
}

func TestMetricsGolden(t *testing.T) {
	for _, sz := range []struct{ w, h int }{{100, 10}, {44, 6}} {
		t.Run(fmt.Sprintf("%dx%d", sz.w, sz.h), func(t *testing.T) {
			m := newModel(running(), busyHost())
			m.SetSize(sz.w, sz.h)
			m.Update(events())
			for range 9 {
				tick(m)
			}
			v := ansi.Strip(m.View())
			paneltest.CheckSize(t, v, sz.w, sz.h)
			paneltest.Golden(t, v)
		})
	}
}

func TestMetricsUpdate(t *testing.T) {
	tests := []struct {
		name      string
		in        *fakeInspector
		host      *host
		ticks     int
		events    bool
		wantCPU   []float64
		wantRSS   int
		wantBoots int
		wantLine  string
	}{
		{name: "no VM", in: &fakeInspector{}, host: busyHost(), ticks: 3, wantLine: "no VM running"},
		{name: "first sample has no CPU", in: running(), host: busyHost(), ticks: 1, wantRSS: 1, wantLine: "QEMU pid 4242 · boot 3 · tcg microvm"},
		{name: "CPU from deltas", in: running(), host: busyHost(), ticks: 4, wantCPU: []float64{10, 20, 30}, wantRSS: 4},
		{name: "pid reused", in: running(), host: &host{stats: []devloop.HostStats{{PID: 4242, StartTicks: 1, UserTicks: 5}, {PID: 4242, StartTicks: 2, UserTicks: 50}}}, ticks: 2, wantRSS: 2},
		{name: "QEMU gone", in: running(), host: &host{err: fmt.Errorf("vm: process stats: %w", fs.ErrNotExist)}, ticks: 2, wantLine: "no VM running"},
		{name: "VM replaced", in: running(), host: &host{err: devloop.ErrNoVM}, ticks: 2, wantLine: "no VM running"},
		{name: "read error", in: running(), host: &host{err: errors.New("vm: process stats: boom")}, ticks: 1, wantLine: "QEMU pid 4242 · boot 3 · vm: process stats: boom"},
		{name: "events", in: &fakeInspector{}, host: busyHost(), events: true, wantBoots: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newModel(tt.in, tt.host)
			m.SetSize(120, 10)
			if tt.events {
				m.Update(events())
			}
			for range tt.ticks {
				tick(m)
			}
			if fmt.Sprint(m.cpu) != fmt.Sprint(tt.wantCPU) {
				t.Errorf("cpu = %v, want %v", m.cpu, tt.wantCPU)
			}
			if len(m.rss) != tt.wantRSS || m.boots != tt.wantBoots {
				t.Errorf("rss samples %d, boots %d; want %d, %d", len(m.rss), m.boots, tt.wantRSS, tt.wantBoots)
			}
			if tt.wantLine != "" {
				if first, _, _ := strings.Cut(ansi.Strip(m.View()), "\n"); strings.TrimRight(first, " ") != tt.wantLine {
					t.Errorf("first line = %q, want %q", first, tt.wantLine)
				}
			}
		})
	}
}

func TestMetricsEvents(t *testing.T) {
	m := newModel(&fakeInspector{}, busyHost())
	m.SetSize(120, 10)
	m.Update(events())
	v := ansi.Strip(m.View())
	paneltest.WantText(t, v,
		"last 1.50s · median 420ms · 3 (1 failed)",
		"last 1.71s · median 1.17s",
		"last reload: debounce 100ms · build 1.50s · image 4ms · qemu 90ms · ukdev 20ms",
		"boots  3",
	)
}

func TestMetricsHistoryBounded(t *testing.T) {
	m := newModel(&fakeInspector{}, busyHost())
	for range 3 * history {
		m.Update(panel.EventsMsg{{Type: devloop.TypeBuildDone, OK: boolp(true), DurationMS: f64(1)}})
	}
	if len(m.builds) != history || m.nBuilds != 3*history {
		t.Errorf("kept %d builds of %d, want %d", len(m.builds), m.nBuilds, history)
	}
}

func TestMetricsOneSampleAtATime(t *testing.T) {
	m := newModel(running(), busyHost())
	_, first := m.Update(panel.TickMsg(epoch))
	_, second := m.Update(panel.TickMsg(epoch))
	if first == nil || second != nil {
		t.Errorf("two ticks gave commands %v and %v, want only the first", first != nil, second != nil)
	}
}

func TestSparkline(t *testing.T) {
	tests := []struct {
		name   string
		values []float64
		width  int
		lo, hi float64
		want   string
	}{
		{"ramp", []float64{0, 1, 2, 3, 4, 5, 6, 7}, 8, 0, 7, "▁▂▃▄▅▆▇█"},
		{"padded left", []float64{0, 100}, 5, 0, 100, "   ▁█"},
		{"keeps the newest", []float64{100, 100, 0, 0}, 2, 0, 100, "▁▁"},
		{"clamped", []float64{-5, 500}, 2, 0, 100, "▁█"},
		{"flat", []float64{3, 3}, 2, 0, 0, "▁▁"},
		{"no room", []float64{1}, 0, 0, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Sparkline(tt.values, tt.width, tt.lo, tt.hi); got != tt.want {
				t.Errorf("Sparkline = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	if got := median([]float64{5, 1, 3}); got != 3 {
		t.Errorf("median odd = %v", got)
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median even = %v", got)
	}
}
