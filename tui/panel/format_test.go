package panel

import (
	"testing"
	"time"
)

func TestFormatMS(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0ms"}, {830.4, "830ms"}, {999.4, "999ms"}, {1240, "1.24s"}, {1250, "1.25s"},
		{59990, "59.99s"}, {125000, "2m05s"}, {3723000, "62m03s"},
	}
	for _, tt := range tests {
		if got := FormatMS(tt.in); got != tt.want {
			t.Errorf("FormatMS(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	tests := []struct {
		n    float64
		want string
	}{
		{0, "0 B"}, {512.4, "512 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {60 << 10, "60.0 KiB"},
		{41 << 20, "41.0 MiB"}, {64 << 20, "64.0 MiB"}, {3 << 30, "3.0 GiB"}, {5 << 40, "5.0 TiB"},
		{1 << 60, "1.0 EiB"}, {1 << 70, "1024.0 EiB"},
	}
	for _, tt := range tests {
		if got := FormatBytes(tt.n); got != tt.want {
			t.Errorf("FormatBytes(%v) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestFormatUptime(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{-time.Second, "0s"}, {0, "0s"}, {1999 * time.Millisecond, "1s"}, {59 * time.Second, "59s"},
		{time.Minute, "1m00s"}, {3*time.Minute + 7*time.Second, "3m07s"}, {time.Hour + 2*time.Minute + 59*time.Second, "1h02m"},
		{50 * time.Hour, "50h00m"},
	}
	for _, tt := range tests {
		if got := FormatUptime(tt.in); got != tt.want {
			t.Errorf("FormatUptime(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
