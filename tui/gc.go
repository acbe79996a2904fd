package tui

import (
	"os"
	"runtime/debug"
	"sync"
)

// dashboardGCPercent is the garbage collector's target while a dashboard
// runs. Most of a dashboard's heap is its scrollback (the logs panel's
// 50,000 lines, the console's 10,000, the loop's ring): capped, long-lived
// data that no collection frees. The default target (100) lets the heap
// grow to twice it before collecting, so a serial flood that fills the
// scrollback cost twice its bytes again in resident memory (make bench:
// 64-byte lines for 30 s, +26 MB at 100 against +17 MB at 50, with no
// measurable change in ukdev's CPU, 46% against 41%, or in key latency).
const dashboardGCPercent = 50

var gcTune struct {
	mu   sync.Mutex
	n    int // dashboards running
	prev int // the target before the first
}

// tuneGC sets the collector's target to dashboardGCPercent while a
// dashboard runs, unless the user chose one with $GOGC. The returned
// function puts the previous target back once the last dashboard ends.
func tuneGC() (restore func()) {
	if _, set := os.LookupEnv("GOGC"); set {
		return func() {}
	}
	gcTune.mu.Lock()
	defer gcTune.mu.Unlock()
	if gcTune.n == 0 {
		gcTune.prev = debug.SetGCPercent(dashboardGCPercent)
	}
	gcTune.n++
	var once sync.Once
	return func() {
		once.Do(func() {
			gcTune.mu.Lock()
			defer gcTune.mu.Unlock()
			gcTune.n--
			if gcTune.n == 0 {
				debug.SetGCPercent(gcTune.prev)
			}
		})
	}
}
