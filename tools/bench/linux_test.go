package main

import (
	"testing"
	"time"

	"github.com/ukdev/ukdev/devloop"
)

func TestSplitLinuxBoot(t *testing.T) {
	base := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }
	tests := []struct {
		name    string
		bootMS  float64
		started int // ms after base of vm.start, 0 for none
		lines   []string
		times   []int // ms after base, one per line
		want    linuxBoot
		wantErr bool
	}{
		{
			name:    "quiet boot",
			bootMS:  1500, // spawn at base - 500 ms
			started: -300,
			lines:   []string{"[    0.200000] PCI: Fatal: No config space access function found", "ukbench: program start at 1.100000", "hello from linux"},
			times:   []int{1000, 1900, 2000},
			// kernel clock 0 at 1500 - 200 = 1300 ms after spawn
			want: linuxBoot{cont: 200, kernel: 1300, program: 2400, banner: 2500},
		},
		{
			name:   "unstamped lines first (firmware)",
			bootMS: 100,
			lines:  []string{"SeaBIOS", "[    0.000000] Linux version", "ukbench: program start at 0.900000", "bench boot 1"},
			times:  []int{0, 1000, 1900, 1950},
			want:   linuxBoot{cont: -1, kernel: 1100, program: 2000, banner: 2050},
		},
		{
			name:   "a line kept until the console came up gives a later zero",
			bootMS: 2000, // spawn at base
			lines:  []string{"[    0.200000] PCI: Fatal: No config space access function found", "ukbench: program start at 1.100000", "hello"},
			times:  []int{2000, 2350, 2400},
			// PCI: 2000 - 200 = 1800; probe: 2350 - 1100 = 1250
			want: linuxBoot{cont: -1, kernel: 1250, program: 2350, banner: 2400},
		},
		{
			name:    "no probe line",
			bootMS:  100,
			lines:   []string{"[    0.200000] x", "hello"},
			times:   []int{0, 10},
			wantErr: true,
		},
		{name: "no line", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := map[string]time.Time{}
			for i, l := range tt.lines {
				m[l] = at(tt.times[i])
			}
			var started time.Time
			if tt.started != 0 {
				started = at(tt.started)
			}
			got, err := splitLinuxBoot(devloop.Timing{BootMS: tt.bootMS}, tt.lines, m, started)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && got != tt.want {
				t.Errorf("split = %+v, want %+v", got, tt.want)
			}
		})
	}
}
