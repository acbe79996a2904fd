//go:build !amd64

package linux

// haveTSC says readTSC reads the CPU's time-stamp counter: not on this
// architecture.
const haveTSC = false

// readTSC returns 0: there is no x86 time-stamp counter to read.
func readTSC() uint64 { return 0 }
