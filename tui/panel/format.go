package panel

import (
	"fmt"
	"time"
)

// FormatMS renders a duration given in milliseconds, the one way every
// panel shows build and reload times: "850ms", "1.24s", "2m05s".
func FormatMS(ms float64) string {
	switch {
	case ms < 1000:
		return fmt.Sprintf("%.0fms", ms)
	case ms < 60000:
		return fmt.Sprintf("%.2fs", ms/1000)
	}
	d := time.Duration(ms * float64(time.Millisecond))
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}

// FormatBytes renders a byte count in binary units, the one way every
// panel shows sizes: "512 B", "60.0 KiB", "64.0 MiB".
func FormatBytes(n float64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return fmt.Sprintf("%.0f B", n)
	}
	i := 0
	for n /= 1024; n >= 1024 && i < len(units)-1; n /= 1024 {
		i++
	}
	return fmt.Sprintf("%.1f %ciB", n, units[i])
}

// FormatUptime renders an uptime to the second, the one way every panel
// shows how long something runs: "42s", "3m07s", "1h02m". A negative
// duration is 0s.
func FormatUptime(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	d = d.Truncate(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}
