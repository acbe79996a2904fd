package metrics

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ukdev/ukdev/internal/procfs"
	"github.com/ukdev/ukdev/vm"
)

// Defaults of Options.
const (
	// DefaultInterval is the sampling interval.
	DefaultInterval = time.Second
	// DefaultWindow is how many points each series keeps: five minutes
	// at the default interval.
	DefaultWindow = 300
)

// kvmCounters are the KVM counters graphed as rates, of the many
// query-stats reports.
var kvmCounters = []string{"exits", "halt_exits", "io_exits", "mmio_exits", "irq_exits", "insn_emulation"}

// Machine is what a Sampler reads of a VM; vm.Machine has it.
type Machine interface {
	// PID is the host process id of the machine.
	PID() int
	// HostStats is a host-side snapshot of the machine's process.
	HostStats() (vm.HostStats, error)
	// Sample asks the machine for its guest's counters in one round.
	Sample(ctx context.Context) (vm.Sample, error)
}

// AppSource gives the application's own numbers, by series key
// ("go_goroutines", `http_requests_total{code="200"}`); the application
// metrics scraper has it.
type AppSource interface {
	Scrape(ctx context.Context) (map[string]float64, error)
}

// GuestSource gives numbers read from the guest's own memory (a Go
// program's runtime statistics), one point per series, named by the
// source ("go.heap_inuse").
type GuestSource interface {
	Sample(ctx context.Context) ([]GuestPoint, error)
}

// GuestPoint is one value of a guest series.
type GuestPoint struct {
	// Name is the series key ("go.goroutines"); Unit its unit ("B",
	// "ns", "" for a count).
	Name, Unit string
	Value      float64
	// Counter is set for a value that only grows: the series is its
	// rate, in Unit per second.
	Counter bool
}

// Options configure a Sampler.
type Options struct {
	// Interval is the time between samples; zero means DefaultInterval.
	Interval time.Duration
	// Window is how many points each series keeps; zero means
	// DefaultWindow.
	Window int
	// App is scraped once an interval while a VM runs; nil: no
	// application series.
	App AppSource
	// Guest is sampled once an interval while a VM runs, apart from the
	// VM's numbers; nil: no guest series.
	Guest GuestSource
	// Series names the application's series to graph (keys of App's
	// values); empty: a few that exist.
	Series []string
	// Log receives diagnostics; nil discards them.
	Log *slog.Logger
}

// Sampler samples the live VM while at least one consumer holds it
// (Acquire), and keeps a window of points per series. All methods are safe
// for concurrent use and never block for a sample: a sample runs in the
// Sampler's own goroutine, its QMP round bounded by the interval.
type Sampler struct {
	live     func() Machine
	interval time.Duration
	window   int
	app      AppSource
	guest    GuestSource
	series   []string
	log      *slog.Logger

	// Seams for tests: the clock and /proc.
	now       func() time.Time
	threadCPU func(pid, tid int) (int64, error)
	readIO    func(pid int) (procfs.IO, error)

	// sampleMu serialises samples: a goroutine that was released may
	// still finish its last one while the next hold's goroutine starts.
	sampleMu sync.Mutex

	holdMu sync.Mutex
	holds  int
	stop   context.CancelFunc // ends the sampling goroutine; nil when none runs
	ended  chan struct{}      // closed when that goroutine has returned

	mu      sync.Mutex
	data    map[string]*ring
	at      time.Time
	running bool
	pid     int
	peakRSS uint64
	vmErr   string
	appErr  string
	prev    prevSample
	prevApp prevApp
	// prevGuest is the last guest sample's counters, for their rates.
	prevGuest prevApp
	updated   chan struct{} // closed and replaced after each sample

	appBusy bool // a scrape runs (under mu)
}

// prevSample is what the last VM sample counted, for rates.
type prevSample struct {
	ok      bool
	at      time.Time
	host    vm.HostStats
	threads map[int]int64
	io      procfs.IO
	ioOK    bool
	block   map[string]vm.BlockStat
	kvm     map[string]uint64
}

// prevApp is the last application scrape, for the rates of its counters.
type prevApp struct {
	at     time.Time
	values map[string]float64
}

// ring is one series' points, oldest first, at most window of them.
type ring struct {
	unit   string
	order  int // insertion order, after the group rank
	points []Point
}

// NewSampler returns a Sampler of the VM live returns (nil when none
// runs). It starts nothing until Acquire.
func NewSampler(live func() Machine, opts Options) *Sampler {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Window <= 0 {
		opts.Window = DefaultWindow
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Sampler{
		live: live, interval: opts.Interval, window: opts.Window, app: opts.App, guest: opts.Guest,
		series: slices.Clone(opts.Series), log: opts.Log,
		now: time.Now, threadCPU: procfs.ThreadCPU, readIO: procfs.ReadIO,
		data: make(map[string]*ring), updated: make(chan struct{}),
	}
}

// Interval is the time between samples.
func (s *Sampler) Interval() time.Duration { return s.interval }

// Acquire starts sampling, at once and then every interval, until every
// Acquire has been released. It never waits for a sample. release is
// idempotent; the last one returns once the sampling goroutine has ended
// (at most a sample's QMP round later), so a caller that must not wait
// calls it in a goroutine.
func (s *Sampler) Acquire() (release func()) {
	s.holdMu.Lock()
	s.holds++
	if s.holds == 1 {
		ctx, cancel := context.WithCancel(context.Background())
		s.stop, s.ended = cancel, make(chan struct{})
		go s.run(ctx, s.ended)
	}
	s.holdMu.Unlock()
	var once sync.Once
	return func() { once.Do(s.release) }
}

func (s *Sampler) release() {
	s.holdMu.Lock()
	s.holds--
	var ended chan struct{}
	if s.holds == 0 {
		s.stop()
		ended = s.ended
		s.stop, s.ended = nil, nil
	}
	s.holdMu.Unlock()
	if ended != nil {
		<-ended
	}
}

// Sampling reports whether someone holds the Sampler.
func (s *Sampler) Sampling() bool {
	s.holdMu.Lock()
	defer s.holdMu.Unlock()
	return s.holds > 0
}

// run samples every interval until ctx ends.
func (s *Sampler) run(ctx context.Context, ended chan<- struct{}) {
	defer close(ended)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		s.sampleOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Next waits for the next sample and returns the Snapshot after it. The
// caller must hold the Sampler, or Next waits until ctx ends.
func (s *Sampler) Next(ctx context.Context) (Snapshot, error) {
	s.mu.Lock()
	ch := s.updated
	s.mu.Unlock()
	select {
	case <-ch:
		return s.Snapshot(), nil
	case <-ctx.Done():
		return Snapshot{}, fmt.Errorf("metrics: waiting for a sample: %w", ctx.Err())
	}
}

// Collect holds the Sampler until a sample newer than the call, and a
// second one when that first sample of a running VM could give no rate
// yet (no CPU point), then returns the Snapshot: what a caller that does
// not look continuously (ukdev stats, the control socket's "stats" op)
// asks for. Between calls nothing is sampled; the rates of the next call
// run from the last sample of this one.
func (s *Sampler) Collect(ctx context.Context) (Snapshot, error) {
	s.mu.Lock()
	ch := s.updated
	s.mu.Unlock()
	release := s.Acquire()
	defer release()
	for first := true; ; first = false {
		select {
		case <-ch:
		case <-ctx.Done():
			return Snapshot{}, fmt.Errorf("metrics: waiting for a sample: %w", ctx.Err())
		}
		snap := s.Snapshot()
		if _, rated := snap.Find("cpu"); rated || !snap.Running || !first {
			return snap, nil
		}
		s.mu.Lock()
		ch = s.updated
		s.mu.Unlock()
	}
}

// Snapshot returns a copy of every series.
func (s *Sampler) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := Snapshot{At: s.at, IntervalMS: s.interval.Milliseconds(), Running: s.running, PID: s.pid, PeakRSS: s.peakRSS,
		VMError: s.vmErr, AppError: s.appErr, Series: make([]Series, 0, len(s.data))}
	for name, r := range s.data {
		if len(r.points) > 0 {
			snap.Series = append(snap.Series, Series{Name: name, Unit: r.unit, Points: slices.Clone(r.points)})
		}
	}
	sort.SliceStable(snap.Series, func(i, j int) bool {
		a, b := snap.Series[i].Name, snap.Series[j].Name
		if ga, gb := group(a), group(b); ga != gb {
			return ga < gb
		}
		return s.data[a].order < s.data[b].order
	})
	return snap
}

// group ranks a series name for the fixed order of Snapshot.Series.
func group(name string) int {
	switch {
	case name == "cpu":
		return 0
	case strings.HasPrefix(name, "cpu."):
		return 1
	case name == "rss":
		return 2
	case strings.HasPrefix(name, "block."):
		return 3
	case strings.HasPrefix(name, "qemu."):
		return 4
	case name == "dirty":
		return 5
	case strings.HasPrefix(name, "kvm."):
		return 6
	case strings.HasPrefix(name, "go."):
		return 7
	case strings.HasPrefix(name, "app."):
		return 8
	}
	return 9
}

// add appends a point to series name (under mu).
func (s *Sampler) add(name, unit string, at time.Time, v float64) {
	r := s.data[name]
	if r == nil {
		r = &ring{unit: unit, order: len(s.data)}
		s.data[name] = r
	}
	r.points = append(r.points, Point{T: at, V: v})
	if len(r.points) > s.window {
		// Shift in place: the backing array never grows past window+1.
		r.points = append(r.points[:0], r.points[len(r.points)-s.window:]...)
	}
}

// machineGone reports whether err means the VM is no longer there: not a
// failure to show.
func machineGone(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, vm.ErrExited)
}

// sampleOnce takes one sample of the live VM and of the guest source and,
// in the background, one of the application.
func (s *Sampler) sampleOnce(ctx context.Context) {
	s.sampleMu.Lock()
	defer s.sampleMu.Unlock()
	defer s.notify()
	m := s.live()
	at := s.now()
	if m == nil {
		s.noVM(at)
		return
	}
	pid := m.PID()
	host, err := m.HostStats()
	if err != nil {
		if machineGone(err) {
			s.noVM(at)
			return
		}
		s.failed(at, pid, err)
		return
	}
	sctx, cancel := context.WithTimeout(ctx, s.interval)
	smp, err := m.Sample(sctx)
	cancel()
	if err != nil {
		if machineGone(err) {
			s.noVM(at)
			return
		}
		if ctx.Err() != nil {
			return // released while asking
		}
		// Host-side numbers are still worth showing.
		s.log.Debug("metrics: sample", "err", err)
	}
	threads := make(map[int]int64, len(smp.VCPUs))
	for _, c := range smp.VCPUs {
		if ticks, terr := s.threadCPU(pid, c.ThreadID); terr == nil {
			threads[c.ThreadID] = ticks
		}
	}
	pio, ioErr := s.readIO(pid)
	cur := prevSample{ok: true, at: at, host: host, threads: threads, io: pio, ioOK: ioErr == nil,
		block: make(map[string]vm.BlockStat, len(smp.Block)), kvm: smp.KVM}
	for _, b := range smp.Block {
		cur.block[b.Device] = b
	}

	s.mu.Lock()
	s.at, s.running, s.pid, s.peakRSS, s.vmErr = at, true, pid, host.PeakRSSBytes, ""
	if err != nil {
		s.vmErr = err.Error()
	}
	s.record(cur, smp)
	s.prev = cur
	s.mu.Unlock()

	s.scrapeApp(ctx)
	s.sampleGuest(ctx)
}

// record adds the points of one VM sample, rates against s.prev when it
// is of the same process (under mu).
func (s *Sampler) record(cur prevSample, smp vm.Sample) {
	at := cur.at
	s.add("rss", "B", at, float64(cur.host.RSSBytes))
	if smp.DirtyRateOK {
		s.add("dirty", "MiB/s", at, smp.DirtyRate)
	}
	p := s.prev
	if !p.ok || p.host.PID != cur.host.PID || p.host.StartTicks != cur.host.StartTicks {
		return
	}
	elapsed := at.Sub(p.at)
	if elapsed <= 0 {
		return
	}
	secs := elapsed.Seconds()
	s.add("cpu", "%", at, vm.CPUPercent(p.host, cur.host, elapsed))
	for _, c := range smp.VCPUs {
		now, ok1 := cur.threads[c.ThreadID]
		was, ok2 := p.threads[c.ThreadID]
		if ok1 && ok2 && now >= was {
			used := time.Duration(now-was) * time.Second / 100 // USER_HZ
			s.add("cpu.vcpu"+strconv.Itoa(c.Index), "%", at, 100*used.Seconds()/secs)
		}
	}
	for _, b := range smp.Block {
		if was, ok := p.block[b.Device]; ok {
			s.add("block."+b.Device+".read", "B/s", at, rate(was.ReadBytes, b.ReadBytes, secs))
			s.add("block."+b.Device+".write", "B/s", at, rate(was.WriteBytes, b.WriteBytes, secs))
		}
	}
	if cur.ioOK && p.ioOK {
		s.add("qemu.io.read", "B/s", at, rate(uint64(p.io.ReadChars), uint64(cur.io.ReadChars), secs))
		s.add("qemu.io.write", "B/s", at, rate(uint64(p.io.WriteChars), uint64(cur.io.WriteChars), secs))
	}
	for _, name := range kvmCounters {
		now, ok1 := cur.kvm[name]
		was, ok2 := p.kvm[name]
		if ok1 && ok2 {
			s.add("kvm."+name, "/s", at, rate(was, now, secs))
		}
	}
}

// rate is the per-second rate of a counter; 0 when it went backwards (a
// reset).
func rate(was, now uint64, secs float64) float64 {
	if now < was {
		return 0
	}
	return float64(now-was) / secs
}

// noVM records a sample without a VM: rates start over with the next one.
func (s *Sampler) noVM(at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.at, s.running, s.pid, s.peakRSS, s.vmErr, s.appErr = at, false, 0, 0, "", ""
	s.prev, s.prevApp, s.prevGuest = prevSample{}, prevApp{}, prevApp{}
}

// failed records a VM that could not be sampled.
func (s *Sampler) failed(at time.Time, pid int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.at, s.running, s.pid, s.vmErr = at, true, pid, err.Error()
	s.prev = prevSample{}
}

// notify wakes Next's waiters.
func (s *Sampler) notify() {
	s.mu.Lock()
	close(s.updated)
	s.updated = make(chan struct{})
	s.mu.Unlock()
}

// scrapeApp scrapes the application in its own goroutine, at most one at
// a time, so a slow endpoint never delays the VM's numbers.
func (s *Sampler) scrapeApp(ctx context.Context) {
	if s.app == nil {
		return
	}
	s.mu.Lock()
	if s.appBusy {
		s.mu.Unlock()
		return
	}
	s.appBusy = true
	s.mu.Unlock()
	go func() {
		actx, cancel := context.WithTimeout(ctx, s.interval)
		defer cancel()
		vals, err := s.app.Scrape(actx)
		at := s.now()
		s.mu.Lock()
		defer s.mu.Unlock()
		s.appBusy = false
		if ctx.Err() != nil {
			return
		}
		s.recordApp(at, vals, err)
	}()
}

// sampleGuest samples the guest source after the VM's numbers, in the
// same round: its reads go through the same monitor, and a Snapshot
// after the round holds both.
func (s *Sampler) sampleGuest(ctx context.Context) {
	if s.guest == nil {
		return
	}
	gctx, cancel := context.WithTimeout(ctx, s.interval)
	pts, err := s.guest.Sample(gctx)
	cancel()
	at := s.now()
	if ctx.Err() != nil {
		return // released while reading
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.log.Debug("metrics: guest sample", "err", err)
		s.prevGuest = prevApp{}
		return
	}
	s.recordGuest(at, pts)
}

// recordGuest adds the points of one guest sample (under mu): a counter
// as its rate against the previous sample.
func (s *Sampler) recordGuest(at time.Time, pts []GuestPoint) {
	p := s.prevGuest
	vals := make(map[string]float64, len(pts))
	for _, pt := range pts {
		vals[pt.Name] = pt.Value
		if !pt.Counter {
			s.add(pt.Name, pt.Unit, at, pt.Value)
			continue
		}
		if was, ok := p.values[pt.Name]; ok && at.After(p.at) && pt.Value >= was {
			s.add(pt.Name, pt.Unit+"/s", at, (pt.Value-was)/at.Sub(p.at).Seconds())
		}
	}
	s.prevGuest = prevApp{at: at, values: vals}
}

// recordApp adds the points of one application scrape (under mu). A
// counter (a key whose name ends in _total) is graphed as a rate.
func (s *Sampler) recordApp(at time.Time, vals map[string]float64, err error) {
	if err != nil {
		s.appErr = err.Error()
		return
	}
	s.appErr = ""
	p := s.prevApp
	for _, key := range s.appKeys(vals) {
		v, ok := vals[key]
		if !ok {
			continue
		}
		if !isCounter(key) {
			s.add("app."+key, appUnit(key), at, v)
			continue
		}
		if was, ok := p.values[key]; ok && at.After(p.at) && v >= was {
			s.add("app."+key, "/s", at, (v-was)/at.Sub(p.at).Seconds())
		}
	}
	s.prevApp = prevApp{at: at, values: vals}
}

// appKeys returns the application keys to graph: Options.Series, else a
// few that exist (DefaultSeries).
func (s *Sampler) appKeys(vals map[string]float64) []string {
	if len(s.series) > 0 {
		return s.series
	}
	return DefaultSeries(vals)
}

// metricName is a key without its labels.
func metricName(key string) string {
	name, _, _ := strings.Cut(key, "{")
	return name
}

// isCounter reports whether key names a counter by the Prometheus naming
// convention.
func isCounter(key string) bool { return strings.HasSuffix(metricName(key), "_total") }

// appUnit guesses a gauge's unit from its name (Prometheus convention).
func appUnit(key string) string {
	if strings.HasSuffix(metricName(key), "_bytes") {
		return "B"
	}
	return ""
}
