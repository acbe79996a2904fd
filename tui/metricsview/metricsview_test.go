package metricsview

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/metrics"
	"github.com/ukdev/ukdev/tui/panel"
	"github.com/ukdev/ukdev/tui/panel/paneltest"
)

var epoch = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

type fakeInspector struct {
	info    devloop.VMInfo
	running bool
}

func (f *fakeInspector) Current() (devloop.VMInfo, bool) { return f.info, f.running }

func (f *fakeInspector) Registers(context.Context) (devloop.Registers, error) {
	return devloop.Registers{}, errors.New("the panel reads no registers")
}

func (f *fakeInspector) HostStats() (devloop.HostStats, error) {
	return devloop.HostStats{}, errors.New("the panel reads the sampler, not host stats")
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

// source plays the sampler: a fixed snapshot, and the holds on it.
type source struct {
	mu       sync.Mutex
	snap     metrics.Snapshot
	holds    int
	acquired int
	released chan struct{}
}

func newSource(snap metrics.Snapshot) *source {
	return &source{snap: snap, released: make(chan struct{}, 16)}
}

func (s *source) Acquire() func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holds++
	s.acquired++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			s.holds--
			s.mu.Unlock()
			s.released <- struct{}{}
		})
	}
}

func (s *source) Snapshot() metrics.Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snap
}

func (s *source) held() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.holds
}

// waitReleased waits for one release, which the panel makes in a
// goroutine.
func (s *source) waitReleased(t *testing.T) {
	t.Helper()
	select {
	case <-s.released:
	case <-time.After(10 * time.Second):
		t.Fatal("the sampler was never released")
	}
}

// series builds a series of values one second apart, ending at epoch.
func series(name, unit string, vs ...float64) metrics.Series {
	s := metrics.Series{Name: name, Unit: unit}
	for i, v := range vs {
		s.Points = append(s.Points, metrics.Point{T: epoch.Add(time.Duration(i-len(vs)+1) * time.Second), V: v})
	}
	return s
}

// busy is QEMU using 10, 20, ... 80 % of a CPU and a growing RSS, with a
// vCPU, a disk, the dirty rate and an app series.
func busy() metrics.Snapshot {
	var rss []float64
	for i := range 9 {
		rss = append(rss, float64(uint64(40+i)<<20))
	}
	return metrics.Snapshot{At: epoch, IntervalMS: 1000, Running: true, PID: 4242, PeakRSS: 50 << 20,
		Series: []metrics.Series{
			series("cpu", "%", 10, 20, 30, 40, 50, 60, 70, 80),
			series("cpu.vcpu0", "%", 5, 15, 25, 35, 45, 55, 65, 75),
			series("rss", "B", rss...),
			series("block.virtio0.read", "B/s", 0, 0, 1<<20, 2<<20, 1<<20, 0, 0, 0),
			series("dirty", "MiB/s", 1, 2, 1, 3, 1, 1, 2, 1),
			series("app.go_goroutines", "", 8, 8, 9, 12, 9, 8, 8, 8),
		}}
}

func running() *fakeInspector {
	return &fakeInspector{running: true, info: devloop.VMInfo{Boot: 3, PID: 4242, Accel: "tcg", Machine: "microvm"}}
}

// shownModel returns a shown panel of the given size over in and src.
func shownModel(t *testing.T, in panel.Inspector, src Source, w, h int) *Model {
	t.Helper()
	d := panel.Deps{Styles: panel.NewStyles(false), Context: t.Context(), Now: func() time.Time { return epoch }}
	m := newModel(d, in, src)
	m.SetSize(w, h)
	m.SetVisible(true)
	return m
}

// tick runs one refresh to completion.
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

// TestMetricsGolden: the summary at the old sizes, and the graphs below
// it on a tall panel, scrolled to the top and to the bottom.
func TestMetricsGolden(t *testing.T) {
	for _, tt := range []struct {
		w, h int
		keys []string
	}{{100, 10, nil}, {44, 6, nil}, {100, 60, nil}, {80, 20, []string{"G"}}} {
		name := fmt.Sprintf("%dx%d", tt.w, tt.h)
		if len(tt.keys) > 0 {
			name += "-" + strings.Join(tt.keys, "")
		}
		t.Run(name, func(t *testing.T) {
			m := shownModel(t, running(), newSource(busy()), tt.w, tt.h)
			m.Update(events())
			tick(m)
			for _, k := range paneltest.Keys(tt.keys...) {
				m.Update(k)
			}
			v := ansi.Strip(m.View())
			paneltest.CheckSize(t, v, tt.w, tt.h)
			paneltest.Golden(t, v)
		})
	}
}

func TestMetricsUpdate(t *testing.T) {
	gone := busy()
	gone.VMError = "qemu: qmp query-cpus-fast: no reply"
	tests := []struct {
		name     string
		in       *fakeInspector
		snap     metrics.Snapshot
		wantLine string
		wantText []string
	}{
		{name: "no VM", in: &fakeInspector{}, snap: metrics.Snapshot{At: epoch}, wantLine: "no VM running"},
		{name: "VM", in: running(), snap: busy(), wantLine: "QEMU pid 4242 · boot 3 · tcg microvm",
			wantText: []string{"80.0% · peak 80.0%", "48.0 MiB · peak 50.0 MiB", "cpu.vcpu0 · vCPU 0 CPU  75.0%"}},
		{name: "QEMU does not answer", in: running(), snap: gone, wantLine: "QEMU pid 4242 · boot 3 · qemu: qmp query-cpus-fast: no reply"},
		{name: "first sample has no CPU", in: running(), snap: metrics.Snapshot{At: epoch, Running: true, PID: 4242, Series: []metrics.Series{series("rss", "B", 1<<20)}},
			wantText: []string{"  –  ", "█  1.0 MiB"}},
		{name: "app metrics failing", in: running(), snap: metrics.Snapshot{At: epoch, Running: true, AppError: "metrics: scrape: connection refused"},
			wantText: []string{"app metrics: metrics: scrape: connection refused"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := shownModel(t, tt.in, newSource(tt.snap), 120, 40)
			tick(m)
			v := ansi.Strip(m.View())
			if first, _, _ := strings.Cut(v, "\n"); tt.wantLine != "" && strings.TrimRight(first, " ") != tt.wantLine {
				t.Errorf("first line = %q, want %q", first, tt.wantLine)
			}
			paneltest.WantText(t, v, tt.wantText...)
		})
	}
}

// The panel holds the sampler only while shown, and reads it only then.
func TestMetricsHoldsSamplerOnlyWhileShown(t *testing.T) {
	src := newSource(busy())
	d := panel.Deps{Styles: panel.NewStyles(false), Context: t.Context()}
	m := newModel(d, running(), src)
	m.SetSize(100, 20)
	if _, cmd := m.Update(panel.TickMsg(epoch)); cmd != nil || src.held() != 0 {
		t.Fatalf("hidden panel: tick command %v, %d holds; want none", cmd != nil, src.held())
	}
	if m.Ticking() {
		t.Error("a hidden panel asks for ticks")
	}
	m.SetVisible(true)
	m.SetVisible(true)
	if !m.Ticking() {
		t.Error("a shown panel asks for no ticks")
	}
	if src.held() != 1 || src.acquired != 1 {
		t.Fatalf("shown twice: %d holds (%d acquired), want 1", src.held(), src.acquired)
	}
	tick(m)
	m.SetVisible(false)
	src.waitReleased(t)
	if src.held() != 0 {
		t.Errorf("hidden: %d holds, want 0", src.held())
	}
	if m.Ticking() {
		t.Error("a panel hidden again asks for ticks")
	}
	if _, cmd := m.Update(panel.TickMsg(epoch)); cmd != nil {
		t.Error("hidden panel still reads the sampler")
	}
	// What was read stays on screen.
	paneltest.WantText(t, ansi.Strip(m.View()), "80.0% · peak 80.0%")
}

// A dashboard that ends releases the sampler even while the panel shows.
func TestMetricsReleasesWhenDashboardEnds(t *testing.T) {
	src := newSource(busy())
	ctx, cancel := context.WithCancel(t.Context())
	m := newModel(panel.Deps{Styles: panel.NewStyles(false), Context: ctx}, running(), src)
	m.SetVisible(true)
	cancel()
	src.waitReleased(t)
	if src.held() != 0 {
		t.Errorf("%d holds after the dashboard ended, want 0", src.held())
	}
}

func TestMetricsScroll(t *testing.T) {
	m := shownModel(t, running(), newSource(busy()), 100, 12)
	m.Update(events())
	tick(m)
	top := func() string {
		first, _, _ := strings.Cut(ansi.Strip(m.View()), "\n")
		return strings.TrimRight(first, " ")
	}
	steps := []struct {
		key, want string
	}{
		{"j", "CPU                                               ▂▂▃▄▅▅▆▇   80.0% · peak 80.0%"},
		{"k", "QEMU pid 4242 · boot 3 · tcg microvm"},
		{"k", "QEMU pid 4242 · boot 3 · tcg microvm"},
		{"ctrl+d", "boots  3"},
		{"space", "     50%┤                                                                                    ╭─╯"}, // vCPU 0's graph
		{"G", ""},
		{"home", "QEMU pid 4242 · boot 3 · tcg microvm"},
	}
	for _, s := range steps {
		m.Update(paneltest.Press(s.key))
		if got := top(); s.want != "" && got != s.want {
			t.Errorf("after %s: top line = %q, want %q", s.key, got, s.want)
		}
	}
	m.Update(paneltest.Press("G"))
	last := strings.Split(ansi.Strip(m.View()), "\n")
	if !strings.Contains(strings.Join(last, "\n"), "#1") {
		t.Errorf("G does not show the reload graph's axis:\n%s", strings.Join(last, "\n"))
	}
}

func TestMetricsEvents(t *testing.T) {
	m := shownModel(t, &fakeInspector{}, nil, 120, 10)
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
	m := shownModel(t, &fakeInspector{}, nil, 120, 10)
	for range 3 * history {
		m.Update(panel.EventsMsg{{Type: devloop.TypeBuildDone, OK: boolp(true), DurationMS: f64(1)}})
	}
	if len(m.builds) != history || m.nBuilds != 3*history {
		t.Errorf("kept %d builds of %d, want %d", len(m.builds), m.nBuilds, history)
	}
}

func TestMetricsOneReadAtATime(t *testing.T) {
	m := shownModel(t, running(), newSource(busy()), 100, 10)
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

func TestFormatSpan(t *testing.T) {
	for d, want := range map[time.Duration]string{
		45 * time.Second: "45s", 5 * time.Minute: "5m", 89 * time.Second: "1m29s", 90 * time.Minute: "1h30m", 754 * time.Second: "13m",
	} {
		if got := formatSpan(d); got != want {
			t.Errorf("formatSpan(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestAxisLabel(t *testing.T) {
	tests := []struct {
		v    float64
		unit string
		want string
	}{
		{80, "%", "    80%"},
		{48 << 20, "B", "  48.0M"},
		{1536, "B/s", "   1.5K"},
		{-1e-12, "ms", "    0ms"},
		{1480, "ms", "  1.48s"},
		{0.333333, "MiB/s", "   0.33"},
		{12, "", "     12"},
	}
	for _, tt := range tests {
		if got := axisLabel(tt.v, tt.unit); got != tt.want {
			t.Errorf("axisLabel(%v, %q) = %q, want %q", tt.v, tt.unit, got, tt.want)
		}
	}
}

// Only the graphs in view are drawn: the others are blank lines of the
// same height, and scrolling draws them.
func TestMetricsDrawsOnlyVisibleGraphs(t *testing.T) {
	m := shownModel(t, running(), newSource(busy()), 100, 12)
	m.Update(events())
	tick(m)
	m.View()
	n := m.graphCount()
	if n < 3 || len(m.graphLines) != n*graphLines {
		t.Fatalf("%d graphs in %d lines, want at least 3 of %d lines each", n, len(m.graphLines), graphLines)
	}
	drawn := func() (out []int) {
		for i := range n {
			if slices.ContainsFunc(m.graphLines[i*graphLines:(i+1)*graphLines], func(l string) bool { return l != "" }) {
				out = append(out, i)
			}
		}
		return out
	}
	if got := drawn(); slices.Contains(got, n-1) || len(got) > 2 {
		t.Errorf("graphs drawn at the top: %v, want only the first ones of %d", got, n)
	}
	m.Update(paneltest.Press("G"))
	m.View()
	if got := drawn(); !slices.Contains(got, n-1) || slices.Contains(got, 0) {
		t.Errorf("graphs drawn at the bottom: %v, want the last of %d and not the first", got, n)
	}
}
