// Package metricsview is the dashboard's metrics panel: QEMU's host CPU
// and resident memory as sparklines over the last minute, the boot count,
// and the history of build and reload (save → running) durations.
package metricsview

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"sort"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/tui/panel"
)

// history is how many samples (one a tick) and durations are kept.
const history = 60

// sampleMsg is one host-side snapshot of QEMU.
type sampleMsg struct {
	at      time.Time
	running bool
	info    devloop.VMInfo
	stats   devloop.HostStats
	err     error
}

// build is one finished build.
type build struct {
	ms float64
	ok bool
}

// Model is the metrics panel. It implements panel.Panel.
type Model struct {
	d  panel.Deps
	in panel.Inspector
	// procStats reads QEMU's /proc entries (Inspector.HostStats; tests
	// fake it).
	procStats func() (devloop.HostStats, error)

	width, height int
	inflight      bool

	running bool
	info    devloop.VMInfo
	last    sampleMsg // the last successful sample of a running VM
	hasLast bool
	err     error
	cpu     []float64 // percent of one host CPU
	rss     []float64 // bytes

	boots   int
	builds  []build
	nBuilds int
	nFailed int
	reloads []devloop.Timing
}

// New returns the metrics panel sampling the VM through in.
func New(d panel.Deps, in panel.Inspector) *Model {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Context == nil {
		d.Context = context.Background()
	}
	m := &Model{d: d, in: in}
	if in != nil {
		m.procStats = in.HostStats
	}
	return m
}

// Init takes the first sample.
func (m *Model) Init() tea.Cmd { return m.sample() }

// sample reads QEMU's CPU and memory in a command: /proc reads are I/O.
func (m *Model) sample() tea.Cmd {
	if m.in == nil || m.inflight {
		return nil
	}
	m.inflight = true
	in, now, procStats := m.in, m.d.Now, m.procStats
	return func() tea.Msg {
		info, ok := in.Current()
		if !ok {
			return sampleMsg{at: now()}
		}
		st, err := procStats()
		return sampleMsg{at: now(), running: true, info: info, stats: st, err: err}
	}
}

// Update takes samples on ticks and durations from events.
func (m *Model) Update(msg tea.Msg) (panel.Panel, tea.Cmd) {
	switch msg := msg.(type) {
	case panel.TickMsg:
		return m, m.sample()
	case sampleMsg:
		m.inflight = false
		m.applySample(msg)
	case panel.EventsMsg:
		for _, e := range msg {
			m.applyEvent(e)
		}
	}
	return m, nil
}

func (m *Model) applySample(s sampleMsg) {
	m.running, m.info, m.err = s.running, s.info, s.err
	if !s.running {
		m.hasLast = false
		return
	}
	if s.err != nil {
		// A QEMU that exited between Current and the read is just gone.
		if errors.Is(s.err, fs.ErrNotExist) || errors.Is(s.err, devloop.ErrNoVM) {
			m.running, m.err = false, nil
		}
		m.hasLast = false
		return
	}
	// The first sample of a process has nothing to compare with: it
	// starts the CPU line on the next tick.
	if m.hasLast && m.last.stats.PID == s.stats.PID && m.last.stats.StartTicks == s.stats.StartTicks {
		m.cpu = push(m.cpu, devloop.CPUPercent(m.last.stats, s.stats, s.at.Sub(m.last.at)))
	}
	m.rss = push(m.rss, float64(s.stats.RSSBytes))
	m.last, m.hasLast = s, true
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
			m.reloads = pushN(m.reloads, *e.Timing)
		}
	}
}

// push appends v, keeping the last history values.
func push(s []float64, v float64) []float64 { return pushN(s, v) }

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

// Focus is a no-op: the panel has no keys of its own.
func (m *Model) Focus(bool) {}

// Capturing is always false.
func (m *Model) Capturing() bool { return false }

// KeyBindings is empty: the panel only shows.
func (m *Model) KeyBindings() []key.Binding { return nil }

// labelWidth is the width of the row labels ("reload ").
const labelWidth = 7

// View renders exactly width×height cells.
func (m *Model) View() string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
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
	case m.err != nil:
		head = fmt.Sprintf("QEMU pid %d · boot %d · ", m.info.PID, m.info.Boot) + st.Error.Render(m.err.Error())
	default:
		head = fmt.Sprintf("QEMU pid %d · boot %d · %s %s", m.info.PID, m.info.Boot, m.info.Accel, m.info.Machine)
	}
	var rows []row
	cpu := row{label: "CPU", value: "–", spark: m.cpu, hi: math.Max(100, maxOf(m.cpu))}
	if len(m.cpu) > 0 {
		cpu.value = fmt.Sprintf("%5.1f%% · peak %.1f%%", m.cpu[len(m.cpu)-1], maxOf(m.cpu))
	}
	rss := row{label: "RSS", value: "–", spark: m.rss, hi: maxOf(m.rss)}
	if len(m.rss) > 0 {
		rss.value = panel.FormatBytes(m.rss[len(m.rss)-1])
		if m.hasLast && m.last.stats.PeakRSSBytes > 0 {
			rss.value += " · peak " + panel.FormatBytes(float64(m.last.stats.PeakRSSBytes))
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
	totals := make([]float64, len(m.reloads))
	for i, r := range m.reloads {
		totals[i] = r.TotalMS
	}
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
	return panel.FitBox(lines, m.width, m.height)
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
		m = math.Max(m, v)
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
