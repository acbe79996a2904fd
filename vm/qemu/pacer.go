package qemu

import "time"

// The console copier's pacing during a serial flood (readPacer).
const (
	// floodReads is how many reads in a row, none after a gap of floodGap,
	// make a flood: far more than a boot's first lines take.
	floodReads = 256
	// floodGap is a pause in the guest's output that ends a flood.
	floodGap = 10 * time.Millisecond
	// floodPause is the wait after each read of a flood.
	floodPause = 2 * time.Millisecond
	// floodFull is a read big enough to need no pause: bytes come faster
	// than pausing would help.
	floodFull = 16 << 10
)

// readPacer spaces the console copier's reads while the guest floods its
// serial port. QEMU hands the pty the UART's bytes one write at a time, so
// a reader that wakes as soon as a byte is there reads a few bytes per
// system call: during a flood the copier then spends most of a core in
// epoll and read, a core QEMU's TCG thread needs to run the guest. After
// floodReads reads with no gap of floodGap between them, each read is
// followed by a pause of floodPause, so the next one takes what came
// meanwhile (the pty holds far more than a pause's worth: QEMU never
// blocks on it). A gap ends the flood; the first lines of a boot are never
// delayed.
type readPacer struct {
	last  time.Time // when the previous read returned
	reads int       // reads in a row without a gap
}

// after records a read of n bytes that returned at now and returns how
// long to wait before the next read.
func (p *readPacer) after(now time.Time, n int) time.Duration {
	if now.Sub(p.last) >= floodGap {
		p.reads = 0
	}
	p.last = now
	p.reads++
	if p.reads <= floodReads || n >= floodFull {
		return 0
	}
	return floodPause
}
