package vm

import (
	"math"
	"testing"
	"time"
)

func TestCPUPercent(t *testing.T) {
	base := HostStats{PID: 1, StartTicks: 10, UserTicks: 100, SystemTicks: 50}
	tests := []struct {
		name    string
		cur     HostStats
		elapsed time.Duration
		want    float64
	}{
		{"half a CPU", HostStats{PID: 1, StartTicks: 10, UserTicks: 140, SystemTicks: 60}, time.Second, 50},
		{"two CPUs", HostStats{PID: 1, StartTicks: 10, UserTicks: 300, SystemTicks: 50}, time.Second, 200},
		{"idle", base, time.Second, 0},
		{"pid reused", HostStats{PID: 1, StartTicks: 11, UserTicks: 500}, time.Second, 0},
		{"other pid", HostStats{PID: 2, StartTicks: 10, UserTicks: 500}, time.Second, 0},
		{"no time passed", HostStats{PID: 1, StartTicks: 10, UserTicks: 500}, 0, 0},
		{"backwards", HostStats{PID: 1, StartTicks: 10, UserTicks: 1}, time.Second, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CPUPercent(base, tt.cur, tt.elapsed); math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("CPUPercent = %v, want %v", got, tt.want)
			}
		})
	}
}
