package qemu

import (
	"testing"
	"time"
)

func TestReadPacer(t *testing.T) {
	// read is one read: its size and the time since the previous one.
	type read struct {
		n     int
		after time.Duration
	}
	quick := func(count, n int) []read {
		r := make([]read, count)
		for i := range r {
			r[i] = read{n: n, after: 100 * time.Microsecond}
		}
		return r
	}
	tests := []struct {
		name  string
		reads []read
		want  time.Duration // the pause after the last read
	}{
		{"a boot's first lines", quick(40, 1), 0},
		{"the last read before a flood", quick(floodReads, 1), 0},
		{"a flood", quick(floodReads+1, 1), floodPause},
		{"a flood, paced", append(quick(floodReads+1, 1), read{300, floodPause + 100*time.Microsecond}), floodPause},
		{"a flood of big reads", append(quick(floodReads+1, 1), read{floodFull, 100 * time.Microsecond}), 0},
		{"a gap ends the flood", append(quick(floodReads+1, 1), read{1, floodGap}), 0},
		{"a flood again after a gap", append(append(quick(floodReads+1, 1), read{1, floodGap}), quick(floodReads, 1)...), floodPause},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p readPacer
			now := time.Unix(1000, 0)
			var got time.Duration
			for _, r := range tt.reads {
				now = now.Add(r.after)
				got = p.after(now, r.n)
			}
			if got != tt.want {
				t.Errorf("pause after the last read = %v, want %v", got, tt.want)
			}
		})
	}
}
