// Package metricsview is the dashboard's metrics panel. Its first lines
// are the summary: QEMU's host CPU and resident memory as sparklines, the
// builds and reloads, the boot count. Below them, a scrolling list of
// graphs with axes over a time window, one per series of the loop's
// metrics sampler (QEMU CPU in total and per vCPU, memory, disk and QEMU
// I/O rates, the guest's dirty-page rate, KVM exits, the application's
// series), then the loop's history per reload (build, image, boot → first
// line, save → running).
//
// The panel holds the sampler only while it is on screen: nothing is
// sampled while nobody looks.
package metricsview

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/guptarohit/asciigraph"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/metrics"
	"github.com/ukdev/ukdev/tui/panel"
)

// history is how many summary points (one a tick) and durations are kept.
const history = 60

// graphHeight is the number of value rows of each graph; a graph takes a
// title line, these rows, and two lines of time axis.
const graphHeight = 4

// Source is the metrics sampler as the panel uses it; *metrics.Sampler
// has it.
type Source interface {
	// Acquire starts sampling until release is called.
	Acquire() (release func())
	// Snapshot returns every series as it stands.
	Snapshot() metrics.Snapshot
}

// MetricsSource is what an Inspector that has a metrics sampler adds
// (*devloop.Loop has it).
type MetricsSource interface {
	Metrics() *metrics.Sampler
}

// graphKey is what the graphs are drawn from.
type graphKey struct {
	width   int
	top     int // the first line shown, and how many are
	height  int
	at      time.Time
	pid     int
	running bool
	nReload int
	valid   bool
}

// snapshotMsg is the sampler's state and the VM it describes, read in a
// command.
type snapshotMsg struct {
	running bool
	info    devloop.VMInfo
	snap    metrics.Snapshot
}

// build is one finished build.
type build struct {
	ms float64
	ok bool
}

// Model is the metrics panel. It implements panel.Panel and panel.Visibility.
type Model struct {
	d    panel.Deps
	in   panel.Inspector
	src  Source
	keys panel.ScrollKeys

	width, height int
	shown         bool
	release       func() // ends the hold on src; nil while not held
	stopAfter     func() bool
	inflight      bool
	top           int // the first line shown

	running bool
	info    devloop.VMInfo
	snap    metrics.Snapshot

	// graphLines caches the graphs, drawn again only when graphFor
	// changes: a View per console batch must not redraw every series.
	graphLines []string
	graphFor   graphKey

	boots   int
	builds  []build
	nBuilds int
	nFailed int
	reloads []devloop.Timing
	nReload int // reloads seen, the number of the last one
}

// New returns the metrics panel. It samples through in's metrics sampler
// when in has one (MetricsSource); without one it shows the loop's
// history only.
func New(d panel.Deps, in panel.Inspector) *Model {
	var src Source
	if ms, ok := in.(MetricsSource); ok && ms.Metrics() != nil {
		src = ms.Metrics()
	}
	return newModel(d, in, src)
}

// newModel is New with the sampler given (tests pass a fake one).
func newModel(d panel.Deps, in panel.Inspector, src Source) *Model {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Context == nil {
		d.Context = context.Background()
	}
	return &Model{d: d, in: in, src: src, keys: panel.NewScrollKeys()}
}

// Init reads nothing: the panel samples once it is shown.
func (m *Model) Init() tea.Cmd { return nil }

// SetVisible takes the sampler while the panel is on screen and gives it
// back when it leaves (and when the dashboard ends). It never waits for a
// sample, and returns no command: samples arrive through the sampler.
func (m *Model) SetVisible(shown bool) tea.Cmd {
	if shown == m.shown {
		return nil
	}
	m.shown = shown
	if m.src == nil {
		return nil
	}
	if shown {
		release := m.src.Acquire()
		m.release = release
		m.stopAfter = context.AfterFunc(m.d.Context, release)
		return nil
	}
	m.stopAfter()
	// The last release waits for a sample in flight to end.
	go m.release()
	m.release, m.stopAfter = nil, nil
	return nil
}

// Shown reports whether the panel is on screen (and holds the sampler).
func (m *Model) Shown() bool { return m.shown }

// Ticking implements panel.Ticker: the panel reads the sampler on every
// tick while it is on screen.
func (m *Model) Ticking() bool { return m.in != nil && m.shown }

// refresh reads the sampler's series in a command, one read at a time,
// only while the panel is shown.
func (m *Model) refresh() tea.Cmd {
	if m.in == nil || !m.shown || m.inflight {
		return nil
	}
	m.inflight = true
	in, src := m.in, m.src
	return func() tea.Msg {
		var msg snapshotMsg
		msg.info, msg.running = in.Current()
		if src != nil {
			msg.snap = src.Snapshot()
		}
		return msg
	}
}

// Update refreshes on ticks, takes durations from events and scrolls on
// keys.
func (m *Model) Update(msg tea.Msg) (panel.Panel, tea.Cmd) {
	switch msg := msg.(type) {
	case panel.TickMsg:
		return m, m.refresh()
	case snapshotMsg:
		m.inflight = false
		m.running, m.info, m.snap = msg.running, msg.info, msg.snap
	case panel.EventsMsg:
		for _, e := range msg {
			m.applyEvent(e)
		}
	case tea.KeyPressMsg:
		m.onKey(msg)
	case tea.MouseWheelMsg:
		switch msg.Mouse().Button {
		case tea.MouseWheelUp:
			m.scroll(-3)
		case tea.MouseWheelDown:
			m.scroll(3)
		}
	}
	return m, nil
}

func (m *Model) onKey(msg tea.KeyPressMsg) {
	k := m.keys
	page := max(1, m.height-1)
	switch {
	case key.Matches(msg, k.Up):
		m.scroll(-1)
	case key.Matches(msg, k.Down):
		m.scroll(1)
	case key.Matches(msg, k.PageUp):
		m.scroll(-page)
	case key.Matches(msg, k.PageDown):
		m.scroll(page)
	case key.Matches(msg, k.HalfUp):
		m.scroll(-page / 2)
	case key.Matches(msg, k.HalfDown):
		m.scroll(page / 2)
	case key.Matches(msg, k.Top):
		m.top = 0
	case key.Matches(msg, k.Bottom):
		m.top = math.MaxInt
	}
}

// scroll moves the view n lines; View clamps it.
func (m *Model) scroll(n int) {
	if n > 0 && m.top > math.MaxInt-n {
		m.top = math.MaxInt
		return
	}
	m.top = max(0, m.top+n)
}

func (m *Model) applyEvent(e devloop.Event) {
	switch e.Type {
	case devloop.TypeVMStart:
		m.boots++
	case devloop.TypeBuildDone:
		if e.DurationMS == nil {
			return
		}
		ok := e.OK == nil || *e.OK
		m.nBuilds++
		if !ok {
			m.nFailed++
		}
		m.builds = pushN(m.builds, build{ms: *e.DurationMS, ok: ok})
	case devloop.TypeReload:
		if e.Timing != nil {
			m.nReload++
			m.reloads = pushN(m.reloads, *e.Timing)
		}
	}
}

func pushN[T any](s []T, v T) []T {
	s = append(s, v)
	if len(s) > history {
		s = append(s[:0:0], s[len(s)-history:]...)
	}
	return s
}

// SetSize sets the content size.
func (m *Model) SetSize(width, height int) { m.width, m.height = width, height }

// Title names the panel.
func (m *Model) Title() string { return "metrics" }

// Focus is a no-op: scrolling needs no state of focus.
func (m *Model) Focus(bool) {}

// Capturing is always false.
func (m *Model) Capturing() bool { return false }

// KeyBindings are the scroll keys.
func (m *Model) KeyBindings() []key.Binding {
	k := m.keys
	return []key.Binding{k.Up, k.Down, k.PageDown, k.PageUp, k.Top, k.Bottom}
}

// labelWidth is the width of the summary's row labels ("reload ").
const labelWidth = 7

// View renders exactly width×height cells: the summary, then the graphs,
// from the scroll position.
func (m *Model) View() string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	lines := m.summary()
	n := len(lines) + m.graphCount()*graphLines
	m.top = min(m.top, max(0, n-m.height))
	// Only the graphs in view are drawn; the others keep their lines
	// (blank) so that the scroll position means the same.
	first := max(0, m.top-len(lines)) / graphLines
	last := max(0, m.top+m.height-len(lines)+graphLines-1) / graphLines
	key := graphKey{width: m.width, top: first, height: last, at: m.snap.At, pid: m.snap.PID, running: m.running, nReload: m.nReload, valid: true}
	if key != m.graphFor {
		m.graphLines, m.graphFor = m.graphs(first, last), key
	}
	lines = append(lines, m.graphLines...)
	return panel.FitBox(lines[m.top:], m.width, m.height)
}

// summary is the panel's first lines: the VM, QEMU's CPU and memory, the
// builds and reloads, as they were before graphs.
func (m *Model) summary() []string {
	st := m.d.Styles
	type row struct {
		label, value string
		spark        []float64
		lo, hi       float64
	}
	var head string
	switch {
	case m.in == nil || !m.running:
		head = st.Muted.Render("no VM running")
	case m.snap.VMError != "" && m.snap.PID == m.info.PID:
		head = fmt.Sprintf("QEMU %s · boot %d · ", m.info.Where(), m.info.Boot) + st.Error.Render(m.snap.VMError)
	default:
		head = fmt.Sprintf("QEMU %s · boot %d · %s %s", m.info.Where(), m.info.Boot, m.info.Accel, m.info.Machine)
	}
	cpuVals := lastValues(m.snap, "cpu", history)
	rssVals := lastValues(m.snap, "rss", history)
	var rows []row
	cpu := row{label: "CPU", value: "–", spark: cpuVals, hi: math.Max(100, maxOf(cpuVals))}
	if len(cpuVals) > 0 {
		cpu.value = fmt.Sprintf("%5.1f%% · peak %.1f%%", cpuVals[len(cpuVals)-1], maxOf(cpuVals))
	}
	rss := row{label: "RSS", value: "–", spark: rssVals, hi: maxOf(rssVals)}
	if len(rssVals) > 0 {
		rss.value = panel.FormatBytes(rssVals[len(rssVals)-1])
		if m.snap.PeakRSS > 0 {
			rss.value += " · peak " + panel.FormatBytes(float64(m.snap.PeakRSS))
		}
	}
	rows = append(rows, cpu, rss)

	buildMS := make([]float64, len(m.builds))
	for i, b := range m.builds {
		buildMS[i] = b.ms
	}
	builds := row{label: "builds", value: "none yet", spark: buildMS, hi: maxOf(buildMS)}
	if len(buildMS) > 0 {
		builds.value = fmt.Sprintf("last %s · median %s · %d", panel.FormatMS(buildMS[len(buildMS)-1]), panel.FormatMS(median(buildMS)), m.nBuilds)
		if m.nFailed > 0 {
			builds.value += fmt.Sprintf(" (%d failed)", m.nFailed)
		}
	}
	totals := reloadValues(m.reloads, func(t devloop.Timing) float64 { return t.TotalMS })
	reload := row{label: "reload", value: "none yet", spark: totals, hi: maxOf(totals)}
	if len(totals) > 0 {
		reload.value = fmt.Sprintf("last %s · median %s", panel.FormatMS(totals[len(totals)-1]), panel.FormatMS(median(totals)))
	}
	rows = append(rows, builds, reload)

	valueW := 0
	for _, r := range rows {
		valueW = max(valueW, ansi.StringWidth(r.value))
	}
	sparkW := min(history, m.width-labelWidth-valueW-2)
	if sparkW < 8 {
		// Too narrow for both: the values matter more than the lines.
		sparkW = 0
	}
	lines := []string{head}
	for _, r := range rows {
		line := panel.PadRight(r.label, labelWidth)
		if sparkW > 0 {
			line += Sparkline(r.spark, sparkW, r.lo, r.hi) + "  "
		}
		lines = append(lines, line+r.value)
	}
	lines = append(lines, panel.PadRight("boots", labelWidth)+fmt.Sprint(m.boots))
	if len(m.reloads) > 0 {
		t := m.reloads[len(m.reloads)-1]
		lines = append(lines, st.Muted.Render(fmt.Sprintf("last reload: debounce %s · build %s · image %s · qemu %s · ukdev %s",
			panel.FormatMS(t.DebounceMS), panel.FormatMS(t.BuildMS), panel.FormatMS(t.ImageMS), panel.FormatMS(t.QEMUMS), panel.FormatMS(t.OverheadMS))))
	}
	if m.snap.AppError != "" {
		lines = append(lines, st.Warn.Render("app metrics: "+m.snap.AppError))
	}
	return lines
}

// lastValues returns the last n values of the series named name.
func lastValues(s metrics.Snapshot, name string, n int) []float64 {
	ser, ok := s.Find(name)
	if !ok {
		return nil
	}
	pts := ser.Points[max(0, len(ser.Points)-n):]
	out := make([]float64, len(pts))
	for i, p := range pts {
		out[i] = p.V
	}
	return out
}

func reloadValues(ts []devloop.Timing, f func(devloop.Timing) float64) []float64 {
	out := make([]float64, len(ts))
	for i, t := range ts {
		out[i] = f(t)
	}
	return out
}

// graphLines is the height of every graph, title and axis included, so
// scrolling moves evenly.
const graphLines = 3 + graphHeight

// graphCount is how many graphs the panel has: one per series, then the
// reload history.
func (m *Model) graphCount() int {
	if m.width < 24 {
		return 0 // no room for an axis and a line
	}
	n := 0
	if m.src != nil && m.running {
		n = len(m.snap.Series)
	}
	if len(m.reloads) > 0 {
		n++
	}
	return n
}

// graphs renders the graphs numbered first to last (below graphCount);
// the lines of the others are blank: nobody sees them, and drawing every
// series each second would cost more than sampling it.
func (m *Model) graphs(first, last int) []string {
	n := m.graphCount()
	lines := make([]string, 0, n*graphLines)
	for i := range n {
		switch {
		case i < first || i > last:
			lines = append(lines, make([]string, graphLines)...)
		case m.src != nil && m.running && i < len(m.snap.Series):
			lines = append(lines, m.seriesGraph(m.snap.Series[i])...)
		default:
			lines = append(lines, m.reloadGraph()...)
		}
	}
	return lines
}

// axisWidth is the width of the value labels left of a graph's axis.
const axisWidth = 8

// seriesGraph draws one series over the window the panel's width holds:
// one column per sampling interval, newest on the right, a gap where no
// sample was taken.
func (m *Model) seriesGraph(ser metrics.Series) []string {
	st := m.d.Styles
	interval := time.Duration(m.snap.IntervalMS) * time.Millisecond
	if interval <= 0 {
		interval = metrics.DefaultInterval
	}
	cols := m.width - axisWidth - 3
	span := time.Duration(cols) * interval
	last, _ := ser.Last()
	lo, hi, _ := ser.Stats()
	title := fmt.Sprintf("%s · %s  %s", ser.Name, metrics.Describe(ser.Name), metrics.FormatValue(last, ser.Unit))
	title += st.Muted.Render(fmt.Sprintf("  min %s · max %s · last %s",
		metrics.FormatValue(lo, ser.Unit), metrics.FormatValue(hi, ser.Unit), formatSpan(span)))

	data := make([]float64, cols)
	for i := range data {
		data[i] = math.NaN()
	}
	seen := false
	for _, p := range ser.Points {
		back := int(math.Round(float64(m.snap.At.Sub(p.T)) / float64(interval)))
		if back < 0 || back >= cols {
			continue
		}
		data[cols-1-back] = p.V
		seen = true
	}
	if !seen {
		return fitGraph([]string{title, st.Muted.Render("  (no point in the window)")})
	}
	secs := -span.Seconds()
	return fitGraph(append([]string{title}, m.plot(data, ser.Unit,
		asciigraph.XAxisRange(secs, 0), asciigraph.XAxisTickCount(ticks(cols)),
		asciigraph.XAxisValueFormatter(func(v float64) string {
			if v == 0 {
				return "now"
			}
			return formatSpan(time.Duration(-v * float64(time.Second)))
		}))...))
}

// reloadGraph draws the durations of the last reloads, one line each:
// save → running (─), build (•), image (+), boot → first line (×).
func (m *Model) reloadGraph() []string {
	st := m.d.Styles
	total := reloadValues(m.reloads, func(t devloop.Timing) float64 { return t.TotalMS })
	build := reloadValues(m.reloads, func(t devloop.Timing) float64 { return t.BuildMS })
	img := reloadValues(m.reloads, func(t devloop.Timing) float64 { return t.ImageMS })
	boot := reloadValues(m.reloads, func(t devloop.Timing) float64 { return t.QEMUMS })
	first := m.nReload - len(m.reloads) + 1
	title := fmt.Sprintf("reloads %d–%d · ms", first, m.nReload) +
		st.Muted.Render("  ─ save → running · • build · + image · × boot → first line")
	opts := []asciigraph.Option{
		asciigraph.SeriesChars(asciigraph.DefaultCharSet, asciigraph.CreateCharSet("•"), asciigraph.CreateCharSet("+"), asciigraph.CreateCharSet("×")),
	}
	cols := m.width - axisWidth - 3
	if len(total) > 1 {
		opts = append(opts, asciigraph.Width(cols), asciigraph.XAxisRange(float64(first), float64(m.nReload)),
			asciigraph.XAxisTickCount(min(len(total), ticks(cols))),
			asciigraph.XAxisValueFormatter(func(v float64) string { return fmt.Sprintf("#%.0f", v) }))
	}
	return fitGraph(append([]string{title}, m.plotMany([][]float64{total, build, img, boot}, "ms", opts...)...))
}

// ticks is how many labelled ticks a time axis of cols columns gets.
func ticks(cols int) int { return max(2, min(5, cols/16+1)) }

func (m *Model) plot(data []float64, unit string, opts ...asciigraph.Option) []string {
	return m.plotMany([][]float64{data}, unit, opts...)
}

// plotMany draws the series with asciigraph: values from zero, labels in
// the series' unit.
func (m *Model) plotMany(data [][]float64, unit string, opts ...asciigraph.Option) []string {
	hi := 0.0
	for _, d := range data {
		hi = math.Max(hi, maxOf(d))
	}
	base := []asciigraph.Option{
		asciigraph.Height(graphHeight - 1), asciigraph.Offset(2), asciigraph.LowerBound(0),
		asciigraph.YAxisValueFormatter(func(v float64) string { return axisLabel(v, unit) }),
	}
	if hi <= 0 {
		base = append(base, asciigraph.UpperBound(1))
	}
	if m.d.Styles.Color {
		base = append(base, asciigraph.SeriesColors(asciigraph.Green, asciigraph.Yellow, asciigraph.Blue, asciigraph.Magenta),
			asciigraph.AxisColor(asciigraph.DarkGray), asciigraph.LabelColor(asciigraph.DarkGray))
	}
	return strings.Split(asciigraph.PlotMany(data, append(base, opts...)...), "\n")
}

// fitGraph makes a graph's lines exactly 3+graphHeight: flat series draw
// fewer value rows.
func fitGraph(lines []string) []string {
	want := graphLines
	if len(lines) > want {
		return lines[:want]
	}
	for len(lines) < want {
		lines = append(lines, "")
	}
	return lines
}

// axisLabel renders a value label of axisWidth-1 cells.
func axisLabel(v float64, unit string) string {
	if math.Abs(v) < 1e-9 {
		v = 0 // not "-0ms" from the axis' arithmetic
	}
	var s string
	switch unit {
	case "%":
		s = fmt.Sprintf("%.0f%%", v)
	case "B", "B/s":
		s = strings.ReplaceAll(strings.ReplaceAll(panel.FormatBytes(v), "iB", ""), " ", "")
	case "ms":
		s = strings.ReplaceAll(panel.FormatMS(v), " ", "")
	default:
		s = strings.TrimSuffix(metrics.FormatValue(v, ""), ".00")
	}
	return fmt.Sprintf("%*s", axisWidth-1, s)
}

// formatSpan renders a time window: "45s", "5m", "1h30m".
func formatSpan(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%.0fs", d.Seconds())
	case d%time.Minute == 0 || d < 10*time.Minute:
		return strings.TrimSuffix(d.Round(time.Second).String(), "0s")
	}
	return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
}

// sparkLevels are the eight heights of a sparkline cell.
var sparkLevels = []rune("▁▂▃▄▅▆▇█")

// Sparkline draws the last width values scaled from lo to hi, one cell
// each, newest on the right; it is left-padded with spaces to width. A
// value at or below lo is the lowest bar, at or above hi the highest.
func Sparkline(values []float64, width int, lo, hi float64) string {
	if width <= 0 {
		return ""
	}
	if len(values) > width {
		values = values[len(values)-width:]
	}
	var sb strings.Builder
	sb.WriteString(strings.Repeat(" ", width-len(values)))
	top := len(sparkLevels) - 1
	for _, v := range values {
		level := 0
		if hi > lo {
			level = int(math.Round((v - lo) / (hi - lo) * float64(top)))
		}
		sb.WriteRune(sparkLevels[max(0, min(top, level))])
	}
	return sb.String()
}

func maxOf(vs []float64) float64 {
	m := 0.0
	for _, v := range vs {
		if !math.IsNaN(v) {
			m = math.Max(m, v)
		}
	}
	return m
}

// median of vs (not modified); 0 for none.
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := append([]float64(nil), vs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
