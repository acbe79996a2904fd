package metrics

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ukdev/ukdev/internal/procfs"
	"github.com/ukdev/ukdev/vm"
)

var epoch = time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)

// step is what the fake VM and /proc report at one sample.
type step struct {
	host    vm.HostStats
	hostErr error
	sample  vm.Sample
	sampErr error
	threads map[int]int64 // tid → ticks
	io      procfs.IO
	ioErr   error
}

// fakeVM plays a machine and its /proc entries, one step per sample.
type fakeVM struct {
	mu    sync.Mutex
	pid   int
	steps []step
	cur   step
}

func (f *fakeVM) next() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cur = f.steps[0]
	if len(f.steps) > 1 {
		f.steps = f.steps[1:]
	}
}

func (f *fakeVM) PID() int { return f.pid }

func (f *fakeVM) HostStats() (vm.HostStats, error) {
	f.next()
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cur.host, f.cur.hostErr
}

func (f *fakeVM) Sample(context.Context) (vm.Sample, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cur.sample, f.cur.sampErr
}

func (f *fakeVM) threadCPU(pid, tid int) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.cur.threads[tid]
	if pid != f.pid || !ok {
		return 0, fmt.Errorf("procfs: %w", fs.ErrNotExist)
	}
	return t, nil
}

func (f *fakeVM) readIO(int) (procfs.IO, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cur.io, f.cur.ioErr
}

// newTestSampler returns a Sampler of fake (nil: no VM) whose clock
// advances a second per sample.
func newTestSampler(fake *fakeVM, opts Options) *Sampler {
	live := func() Machine { return nil }
	if fake != nil {
		live = func() Machine { return fake }
	}
	s := NewSampler(live, opts)
	now := epoch
	s.now = func() time.Time { now = now.Add(time.Second); return now }
	if fake != nil {
		s.threadCPU, s.readIO = fake.threadCPU, fake.readIO
	}
	return s
}

// values returns each series' values by name.
func values(snap Snapshot) map[string][]float64 {
	out := make(map[string][]float64)
	for _, s := range snap.Series {
		for _, p := range s.Points {
			out[s.Name] = append(out[s.Name], p.V)
		}
	}
	return out
}

func names(snap Snapshot) []string {
	var out []string
	for _, s := range snap.Series {
		out = append(out, s.Name+" "+s.Unit)
	}
	return out
}

var twoVCPUs = []vm.VCPU{{Index: 0, ThreadID: 11}, {Index: 1, ThreadID: 12}}

// busy is a VM whose QEMU uses 50% then 100% of a CPU, its vCPUs 20/30%
// then 40/50%, reading a disk at 1 MiB/s and writing its console.
func busy() *fakeVM {
	at := func(i int, ticks uint64, t0, t1 int64, rd uint64, kvm uint64) step {
		return step{
			host:    vm.HostStats{PID: 7, StartTicks: 99, UserTicks: ticks, RSSBytes: uint64(40+i) << 20},
			sample:  vm.Sample{VCPUs: twoVCPUs, Block: []vm.BlockStat{{Device: "virtio0", ReadBytes: rd}}, DirtyRate: float64(i), DirtyRateOK: i > 0, KVM: map[string]uint64{"exits": kvm, "halt_exits": kvm / 2, "pages_4k": 5}},
			threads: map[int]int64{11: t0, 12: t1},
			io:      procfs.IO{ReadChars: int64(i) * 100, WriteChars: int64(i) * 2048},
		}
	}
	return &fakeVM{pid: 7, steps: []step{
		at(0, 1000, 500, 600, 0, 0),
		at(1, 1050, 520, 630, 1<<20, 1000),
		at(2, 1150, 560, 680, 2<<20, 1500),
	}}
}

func TestSamplerSeries(t *testing.T) {
	fake := busy()
	s := newTestSampler(fake, Options{})
	for range 3 {
		s.sampleOnce(t.Context())
	}
	snap := s.Snapshot()
	wantNames := []string{"cpu %", "cpu.vcpu0 %", "cpu.vcpu1 %", "rss B", "block.virtio0.read B/s", "block.virtio0.write B/s",
		"qemu.io.read B/s", "qemu.io.write B/s", "dirty MiB/s", "kvm.exits /s", "kvm.halt_exits /s"}
	if got := names(snap); !reflect.DeepEqual(got, wantNames) {
		t.Errorf("series = %q\nwant %q", got, wantNames)
	}
	want := map[string][]float64{
		"cpu": {50, 100}, "cpu.vcpu0": {20, 40}, "cpu.vcpu1": {30, 50},
		"rss":                {40 << 20, 41 << 20, 42 << 20},
		"block.virtio0.read": {1 << 20, 1 << 20}, "block.virtio0.write": {0, 0},
		"qemu.io.read": {100, 100}, "qemu.io.write": {2048, 2048},
		"dirty":     {1, 2},
		"kvm.exits": {1000, 500}, "kvm.halt_exits": {500, 250},
	}
	if got := values(snap); !reflect.DeepEqual(got, want) {
		t.Errorf("values = %v\nwant %v", got, want)
	}
	if !snap.Running || snap.PID != 7 || snap.VMError != "" || !snap.At.Equal(epoch.Add(3*time.Second)) || snap.IntervalMS != 1000 {
		t.Errorf("snapshot = %+v", snap)
	}
}

func TestSamplerEdges(t *testing.T) {
	qemu := func(start, ticks uint64) vm.HostStats {
		return vm.HostStats{PID: 7, StartTicks: start, UserTicks: ticks, RSSBytes: 1 << 20}
	}
	tests := []struct {
		name      string
		steps     []step
		noVM      bool
		samples   int
		want      map[string][]float64
		wantErr   string
		wantRun   bool
		wantEmpty bool
	}{
		{name: "no VM", noVM: true, samples: 2, want: map[string][]float64{}},
		{name: "QEMU gone between Current and the read", samples: 2, want: map[string][]float64{},
			steps: []step{{hostErr: fmt.Errorf("qemu: process stats: %w", fs.ErrNotExist)}}},
		{name: "VM exited while asked", samples: 2, want: map[string][]float64{},
			steps: []step{{host: qemu(1, 0), sampErr: fmt.Errorf("qemu: qmp query-cpus-fast: %w", vm.ErrExited)}}},
		{name: "QMP fails: host numbers still shown", samples: 2, wantRun: true,
			steps:   []step{{host: qemu(1, 0), sampErr: errors.New("qemu: qmp query-cpus-fast: no reply")}, {host: qemu(1, 100), sampErr: errors.New("qemu: qmp query-cpus-fast: no reply")}},
			want:    map[string][]float64{"cpu": {100}, "rss": {1 << 20, 1 << 20}, "qemu.io.read": {0}, "qemu.io.write": {0}},
			wantErr: "qemu: qmp query-cpus-fast: no reply"},
		{name: "host stats fail", samples: 1, wantRun: true, want: map[string][]float64{},
			steps: []step{{hostErr: errors.New("qemu: process stats: permission denied")}}, wantErr: "qemu: process stats: permission denied"},
		{name: "a new QEMU starts the rates over", samples: 3, wantRun: true,
			steps: []step{{host: qemu(1, 0)}, {host: qemu(2, 500)}, {host: qemu(2, 600)}},
			want:  map[string][]float64{"cpu": {100}, "rss": {1 << 20, 1 << 20, 1 << 20}, "qemu.io.read": {0}, "qemu.io.write": {0}}},
		{name: "a thread that is gone has no point", samples: 2, wantRun: true,
			steps: []step{
				{host: qemu(1, 0), sample: vm.Sample{VCPUs: twoVCPUs}, threads: map[int]int64{11: 0, 12: 0}},
				{host: qemu(1, 0), sample: vm.Sample{VCPUs: twoVCPUs}, threads: map[int]int64{11: 10}}},
			want: map[string][]float64{"cpu": {0}, "cpu.vcpu0": {10}, "rss": {1 << 20, 1 << 20}, "qemu.io.read": {0}, "qemu.io.write": {0}}},
		{name: "unreadable /proc io leaves QEMU I/O out", samples: 2, wantRun: true,
			steps: []step{{host: qemu(1, 0), ioErr: fs.ErrPermission}},
			want:  map[string][]float64{"cpu": {0}, "rss": {1 << 20, 1 << 20}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fake *fakeVM
			if !tt.noVM {
				fake = &fakeVM{pid: 7, steps: tt.steps}
			}
			s := newTestSampler(fake, Options{})
			for range tt.samples {
				s.sampleOnce(t.Context())
			}
			snap := s.Snapshot()
			if got := values(snap); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("values = %v, want %v", got, tt.want)
			}
			if snap.VMError != tt.wantErr || snap.Running != tt.wantRun {
				t.Errorf("running %v, error %q; want %v, %q", snap.Running, snap.VMError, tt.wantRun, tt.wantErr)
			}
		})
	}
}

func TestSamplerWindow(t *testing.T) {
	fake := &fakeVM{pid: 7, steps: []step{{host: vm.HostStats{PID: 7, RSSBytes: 1}}}}
	s := newTestSampler(fake, Options{Window: 5})
	for range 12 {
		s.sampleOnce(t.Context())
	}
	rss, _ := s.Snapshot().Find("rss")
	if len(rss.Points) != 5 || !rss.Points[4].T.Equal(epoch.Add(12*time.Second)) || !rss.Points[0].T.Equal(epoch.Add(8*time.Second)) {
		t.Errorf("rss keeps %d points from %v to %v; want the last 5", len(rss.Points), rss.Points[0].T, rss.Points[len(rss.Points)-1].T)
	}
}

func TestSamplerApp(t *testing.T) {
	tests := []struct {
		name    string
		series  []string
		scrapes []map[string]float64
		err     error
		want    map[string][]float64
		units   map[string]string
		wantErr string
	}{
		{name: "default: the first few, counters as rates",
			scrapes: []map[string]float64{
				{"a_total": 10, "b_bytes": 2048, "c": 1, "d": 2, "e": 3},
				{"a_total": 30, "b_bytes": 4096, "c": 1, "d": 2, "e": 3},
			},
			want:  map[string][]float64{"app.a_total": {20}, "app.b_bytes": {2048, 4096}, "app.c": {1, 1}, "app.d": {2, 2}},
			units: map[string]string{"app.a_total": "/s", "app.b_bytes": "B", "app.c": "", "app.d": ""}},
		{name: "named series, a labelled counter, one missing",
			series: []string{`http_requests_total{code="200"}`, "go_goroutines", "nope"},
			scrapes: []map[string]float64{
				{`http_requests_total{code="200"}`: 5, "go_goroutines": 8},
				{`http_requests_total{code="200"}`: 4, "go_goroutines": 9}, // a restart: no negative rate
				{`http_requests_total{code="200"}`: 6, "go_goroutines": 9},
			},
			want: map[string][]float64{`app.http_requests_total{code="200"}`: {2}, "app.go_goroutines": {8, 9, 9}}},
		{name: "a failing scrape is shown", err: errors.New("metrics: scrape http://127.0.0.1:8080/metrics: 500 Internal Server Error"),
			scrapes: []map[string]float64{nil}, want: map[string][]float64{},
			wantErr: "metrics: scrape http://127.0.0.1:8080/metrics: 500 Internal Server Error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestSampler(nil, Options{Series: tt.series})
			for _, vals := range tt.scrapes {
				s.mu.Lock()
				s.recordApp(s.now(), vals, tt.err)
				s.mu.Unlock()
			}
			snap := s.Snapshot()
			if got := values(snap); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("values = %v, want %v", got, tt.want)
			}
			for name, unit := range tt.units {
				if ser, _ := snap.Find(name); ser.Unit != unit {
					t.Errorf("%s unit = %q, want %q", name, ser.Unit, unit)
				}
			}
			if snap.AppError != tt.wantErr {
				t.Errorf("app error = %q, want %q", snap.AppError, tt.wantErr)
			}
		})
	}
}

// app counts its scrapes.
type app struct {
	mu sync.Mutex
	n  int
}

func (a *app) Scrape(context.Context) (map[string]float64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n++
	return map[string]float64{"go_goroutines": float64(a.n)}, nil
}

func (a *app) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n
}

// Sampling runs only while held: two holders share one goroutine, and
// nothing is sampled once both released.
func TestSamplerAcquire(t *testing.T) {
	var calls sync.Map
	fake := &fakeVM{pid: 7, steps: []step{{host: vm.HostStats{PID: 7, RSSBytes: 1}}}}
	a := &app{}
	s := NewSampler(func() Machine { calls.Store(time.Now(), true); return fake }, Options{Interval: 10 * time.Millisecond, App: a})
	s.threadCPU, s.readIO = fake.threadCPU, fake.readIO
	if s.Sampling() {
		t.Fatal("sampling before Acquire")
	}
	r1 := s.Acquire()
	r2 := s.Acquire()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for range 3 {
		if _, err := s.Next(ctx); err != nil {
			t.Fatal(err)
		}
	}
	r1()
	r1() // idempotent: still held by r2
	if !s.Sampling() {
		t.Fatal("not sampling while r2 holds it")
	}
	if _, err := s.Next(ctx); err != nil {
		t.Fatal(err)
	}
	r2()
	if s.Sampling() {
		t.Fatal("sampling after both released")
	}
	n := 0
	calls.Range(func(any, any) bool { n++; return true })
	snap := s.Snapshot()
	if rss, _ := snap.Find("rss"); len(rss.Points) < 4 || len(rss.Points) != n {
		t.Errorf("%d rss points for %d samples, want at least 4 and one per sample", len(rss.Points), n)
	}
	// No sample runs once released: Next waits in vain.
	short, stop := context.WithTimeout(t.Context(), 3*s.Interval())
	defer stop()
	if _, err := s.Next(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Next after release = %v, want a timeout", err)
	}
	if a.count() == 0 {
		t.Error("the app was never scraped")
	}
}

// Collect samples twice on a first call, for rates, and once on later
// calls; nothing is sampled in between.
func TestSamplerCollect(t *testing.T) {
	var calls atomic.Int32
	fake := &fakeVM{pid: 7, steps: []step{
		{host: vm.HostStats{PID: 7, UserTicks: 0, RSSBytes: 1}},
		{host: vm.HostStats{PID: 7, UserTicks: 10, RSSBytes: 1}},
		{host: vm.HostStats{PID: 7, UserTicks: 20, RSSBytes: 1}},
	}}
	s := NewSampler(func() Machine { calls.Add(1); return fake }, Options{Interval: 5 * time.Millisecond})
	s.threadCPU, s.readIO = fake.threadCPU, fake.readIO
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	snap, err := s.Collect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// On a busy machine the sampler may take one more sample before
	// Collect releases it: at least the one point a rate needs.
	cpu, ok := snap.Find("cpu")
	if !ok || len(cpu.Points) < 1 || s.Sampling() {
		t.Fatalf("first Collect: cpu %+v (found %v), still sampling %v; want a CPU point and no hold", cpu, ok, s.Sampling())
	}
	first := len(cpu.Points)
	before := calls.Load()
	time.Sleep(4 * s.Interval()) // nothing may sample now
	if calls.Load() != before {
		t.Errorf("%d samples while nobody held the sampler", calls.Load()-before)
	}
	if snap, err = s.Collect(ctx); err != nil {
		t.Fatal(err)
	}
	if cpu, _ := snap.Find("cpu"); len(cpu.Points) <= first {
		t.Errorf("second Collect: cpu %+v, want a point more than the first's %d", cpu, first)
	}
	// A context that ends first is an error.
	done, stop := context.WithCancel(t.Context())
	stop()
	if _, err := s.Collect(done); !errors.Is(err, context.Canceled) {
		t.Errorf("Collect with an ended context = %v", err)
	}
}

// guest plays a guest source: one answer per sample.
type guest struct {
	mu      sync.Mutex
	answers [][]GuestPoint
	err     error
}

func (g *guest) Sample(context.Context) ([]GuestPoint, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.answers) == 0 {
		return nil, g.err
	}
	pts := g.answers[0]
	g.answers = g.answers[1:]
	return pts, g.err
}

func TestSamplerGuest(t *testing.T) {
	gauge := func(name, unit string, v float64) GuestPoint { return GuestPoint{Name: name, Unit: unit, Value: v} }
	counter := func(name, unit string, v float64) GuestPoint {
		return GuestPoint{Name: name, Unit: unit, Value: v, Counter: true}
	}
	tests := []struct {
		name      string
		answers   [][]GuestPoint
		err       error
		want      map[string][]float64
		units     map[string]string
		wantNames []string
	}{
		{name: "gauges as they are, counters as rates",
			answers: [][]GuestPoint{
				{gauge("go.heap_inuse", "B", 4096), counter("go.gc_cycles", "", 2), gauge("go.gc_pause", "ns", 900)},
				{gauge("go.heap_inuse", "B", 8192), counter("go.gc_cycles", "", 5), gauge("go.gc_pause", "ns", 1200)},
			},
			// The test clock moves 2s between two guest samples.
			want:  map[string][]float64{"go.heap_inuse": {4096, 8192}, "go.gc_cycles": {1.5}, "go.gc_pause": {900, 1200}},
			units: map[string]string{"go.heap_inuse": "B", "go.gc_cycles": "/s", "go.gc_pause": "ns"}},
		{name: "a counter that went back (a new boot) has no rate",
			answers: [][]GuestPoint{{counter("go.gc_cycles", "", 9)}, {counter("go.gc_cycles", "", 1)}, {counter("go.gc_cycles", "", 3)}},
			want:    map[string][]float64{"go.gc_cycles": {1}}},
		{name: "a failed sample adds nothing", answers: [][]GuestPoint{nil, nil}, err: errors.New("devloop: boot 1: page not mapped"),
			want: map[string][]float64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &guest{answers: tt.answers, err: tt.err}
			s := newTestSampler(busy(), Options{Guest: g})
			for range tt.answers {
				s.sampleOnce(t.Context())
			}
			snap := s.Snapshot()
			got := make(map[string][]float64)
			for name, vs := range values(snap) {
				if len(name) > 3 && name[:3] == "go." {
					got[name] = vs
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("values = %v, want %v", got, tt.want)
			}
			for name, unit := range tt.units {
				if ser, _ := snap.Find(name); ser.Unit != unit {
					t.Errorf("%s unit = %q, want %q", name, ser.Unit, unit)
				}
			}
			// The Go runtime's series come after the VM's.
			if ns := names(snap); len(got) > 0 && ns[len(ns)-1][:3] != "go." {
				t.Errorf("series order %q: the go ones are not last", ns)
			}
		})
	}
}
