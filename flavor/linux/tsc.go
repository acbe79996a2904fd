package linux

import (
	"bufio"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// TSCParam is the kernel parameter that gives Linux its TSC frequency
// (in kHz) instead of calibrating the TSC against the PIT.
//
// Under TCG a guest's TSC is the host's own (QEMU reads the host's
// counter), and the calibration against the emulated PIT fails on a busy
// host: its timing checks see the emulation's jitter as disturbance. On
// q35 the kernel then falls back to the HPET or the ACPI PM timer; on
// microvm there is neither, so it marks the TSC unstable and waits for
// timer ticks that never come, and hangs before its first console line.
// Giving it the host's frequency skips the calibration.
const TSCParam = "tsc_early_khz"

// tscWindow is how long HostTSCKHz counts the TSC: long enough that the
// clock reads around it err by well under 0.1%.
const tscWindow = 20 * time.Millisecond

// HostTSCKHz returns the frequency of the host's time-stamp counter in
// kHz, measured against the monotonic clock, and whether it could be
// measured: on amd64, when /proc/cpuinfo says the TSC runs at a constant
// rate (constant_tsc and nonstop_tsc). It takes about 20 ms.
func HostTSCKHz() (uint64, bool) {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	if !invariantTSC(f) || !haveTSC {
		return 0, false
	}
	return measureTSC(readTSC, time.Now, time.Sleep, tscWindow)
}

// invariantTSC reports whether the first flags line of /proc/cpuinfo
// says the TSC ticks at one rate whatever the CPU's frequency or sleep
// state.
func invariantTSC(cpuinfo io.Reader) bool {
	sc := bufio.NewScanner(cpuinfo)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(key) != "flags" {
			continue
		}
		var constant, nonstop bool
		for _, flag := range strings.Fields(value) {
			constant = constant || flag == "constant_tsc"
			nonstop = nonstop || flag == "nonstop_tsc"
		}
		return constant && nonstop
	}
	return false
}

// measureTSC counts the ticks of counter over window on clock and
// returns their rate in kHz. Each end of the window is the counter read
// between the closest pair of clock reads of a few tries, so a
// preemption between two reads does not count. A rate outside 100 MHz to
// 20 GHz is no rate.
func measureTSC(counter func() uint64, now func() time.Time, sleep func(time.Duration), window time.Duration) (uint64, bool) {
	read := func() (uint64, time.Time) {
		var best time.Duration = math.MaxInt64
		var c uint64
		var at time.Time
		for range 5 {
			t0 := now()
			v := counter()
			t1 := now()
			if d := t1.Sub(t0); d < best {
				best, c, at = d, v, t0.Add(d/2)
			}
		}
		return c, at
	}
	c0, t0 := read()
	sleep(window)
	c1, t1 := read()
	ns := t1.Sub(t0).Nanoseconds()
	if c1 <= c0 || ns <= 0 {
		return 0, false
	}
	khz := uint64(math.Round(float64(c1-c0) * 1e6 / float64(ns)))
	if khz < 100_000 || khz > 20_000_000 {
		return 0, false
	}
	return khz, true
}

// tscWord returns the TSCParam word for a frequency in kHz.
func tscWord(khz uint64) string {
	return TSCParam + "=" + strconv.FormatUint(khz, 10)
}
