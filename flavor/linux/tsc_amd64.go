package linux

// haveTSC says readTSC reads the CPU's time-stamp counter.
const haveTSC = true

// readTSC returns the time-stamp counter (RDTSC).
func readTSC() uint64
