package linux

import (
	"strings"
	"testing"
	"time"

	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/image/imagetest"
)

func TestInvariantTSC(t *testing.T) {
	tests := []struct {
		name, cpuinfo string
		want          bool
	}{
		{"both flags", "processor\t: 0\nflags\t\t: fpu tsc constant_tsc nonstop_tsc x2apic\n", true},
		{"first CPU decides", "flags\t\t: tsc constant_tsc nonstop_tsc\nflags\t\t: tsc\n", true},
		{"no nonstop_tsc", "flags\t\t: fpu tsc constant_tsc\n", false},
		{"no constant_tsc", "flags\t\t: nonstop_tsc tsc\n", false},
		{"a flag's prefix is no flag", "flags\t\t: constant_tsc_x nonstop_tsc\n", false},
		{"no flags line (not x86)", "processor\t: 0\nFeatures\t: fp asimd\n", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := invariantTSC(strings.NewReader(tt.cpuinfo)); got != tt.want {
				t.Errorf("invariantTSC = %v, want %v", got, tt.want)
			}
		})
	}
}

// fakeClock is a clock that advances by step at each read, and a counter
// that ticks at khz on that clock.
type fakeClock struct {
	now  time.Time
	step time.Duration
	khz  uint64
	base uint64
	// stall makes the counter stand still.
	stall bool
}

func (c *fakeClock) read() time.Time {
	c.now = c.now.Add(c.step)
	return c.now
}

func (c *fakeClock) counter() uint64 {
	if c.stall {
		return c.base
	}
	return c.base + uint64(c.now.Sub(time.Unix(0, 0)).Nanoseconds())*c.khz/1_000_000
}

func (c *fakeClock) sleep(d time.Duration) { c.now = c.now.Add(d) }

func TestMeasureTSC(t *testing.T) {
	tests := []struct {
		name   string
		clock  fakeClock
		want   uint64
		wantOK bool
	}{
		{"2.69 GHz", fakeClock{step: 100 * time.Nanosecond, khz: 2694870}, 2694870, true},
		{"1 GHz from a high base", fakeClock{step: time.Microsecond, khz: 1_000_000, base: 1 << 60}, 1_000_000, true},
		{"a counter that stands still", fakeClock{step: time.Microsecond, khz: 1_000_000, stall: true}, 0, false},
		{"too slow to be a TSC", fakeClock{step: time.Microsecond, khz: 1000}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.clock
			c.now = time.Unix(0, 0).Add(time.Hour)
			got, ok := measureTSC(c.counter, c.read, c.sleep, 20*time.Millisecond)
			if ok != tt.wantOK || got != tt.want {
				t.Errorf("measureTSC = %d, %v, want %d, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestPrepareTSC(t *testing.T) {
	tests := []struct {
		name                 string
		khz                  int64
		wantCmdline          string
		wantMachine, wantOpt string
	}{
		{"given: microvm", 2694870, BaseCmdline + " " + NoNestedKVM + " tsc_early_khz=2694870", DefaultMachine, MachineOptions},
		{"none: q35, whose HPET the kernel calibrates against", -1, BaseCmdline + " " + NoNestedKVM, NoTSCMachine, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := New(Options{Kernel: fakeBzImage(t), TSCKHz: tt.khz})
			must(t, err)
			store := &image.Store{Dir: t.TempDir(), Keep: 1}
			program := imagetest.StaticProgram(t, t.TempDir(), "app")
			img, err := l.Prepare(t.Context(), store, 1, image.Artifacts{Kernel: program})
			must(t, err)
			if img.Cmdline != tt.wantCmdline || img.Machine != tt.wantMachine || img.MachineOptions != tt.wantOpt {
				t.Errorf("cmdline %q on %q (%q), want %q on %q (%q)", img.Cmdline, img.Machine, img.MachineOptions, tt.wantCmdline, tt.wantMachine, tt.wantOpt)
			}
		})
	}
}
