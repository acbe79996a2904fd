package metrics

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestFormatValue(t *testing.T) {
	tests := []struct {
		v    float64
		unit string
		want string
	}{
		{12.345, "%", "12.3%"},
		{512, "B", "512 B"},
		{48 << 20, "B", "48.0 MiB"},
		{1.5 * (1 << 30), "B", "1.5 GiB"},
		{1536, "B/s", "1.5 KiB/s"},
		{2.25, "MiB/s", "2.2 MiB/s"},
		{12500, "/s", "12.5k/s"},
		{3, "/s", "3/s"},
		{0.5, "/s", "0.50/s"},
		{2.5e6, "", "2.5M"},
		{12, "", "12"},
		{123.4, "", "123"},
	}
	for _, tt := range tests {
		if got := FormatValue(tt.v, tt.unit); got != tt.want {
			t.Errorf("FormatValue(%v, %q) = %q, want %q", tt.v, tt.unit, got, tt.want)
		}
	}
}

func TestDescribe(t *testing.T) {
	for name, want := range map[string]string{
		"cpu": "QEMU CPU", "cpu.vcpu1": "vCPU 1 CPU", "block.virtio0.read": "disk virtio0 reads",
		"kvm.exits": "KVM exits", "app.go_goroutines": "app go_goroutines", "other": "other",
	} {
		if got := Describe(name); got != want {
			t.Errorf("Describe(%q) = %q, want %q", name, got, want)
		}
	}
}

func snapshot() Snapshot {
	at := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	pts := func(vs ...float64) []Point {
		var ps []Point
		for i, v := range vs {
			ps = append(ps, Point{T: at.Add(time.Duration(i) * time.Second), V: v})
		}
		return ps
	}
	return Snapshot{At: at.Add(2 * time.Second), IntervalMS: 1000, Running: true, PID: 4242,
		AppError: "metrics: scrape: connection refused",
		Series: []Series{
			{Name: "cpu", Unit: "%", Points: pts(10, 20, 60)},
			{Name: "rss", Unit: "B", Points: pts(40<<20, 41<<20)},
			{Name: "kvm.exits", Unit: "/s", Points: pts(12000)},
		}}
}

func TestWriteText(t *testing.T) {
	tests := []struct {
		name string
		snap Snapshot
		want string
	}{
		{name: "series", snap: snapshot(), want: `QEMU pid 4242 · 3 points of 1s
app: metrics: scrape: connection refused
SERIES     NOW       MIN       MEAN      MAX       WHAT
cpu        60.0%     10.0%     30.0%     60.0%     QEMU CPU
rss        41.0 MiB  40.0 MiB  40.5 MiB  41.0 MiB  QEMU resident memory
kvm.exits  12.0k/s   12.0k/s   12.0k/s   12.0k/s   KVM exits
`},
		{name: "no VM", snap: Snapshot{At: time.Now(), IntervalMS: 1000}, want: "no VM running\n"},
		{name: "nothing yet", snap: Snapshot{}, want: "no sample yet\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteText(&b, tt.snap); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("WriteText =\n%s\nwant\n%s", b.String(), tt.want)
			}
		})
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteTextError(t *testing.T) {
	if err := WriteText(failWriter{}, snapshot()); err == nil {
		t.Error("WriteText to a failing writer succeeded")
	}
}

// A Snapshot survives JSON unchanged: ukdev stats --json and the control
// socket carry it.
func TestSnapshotJSON(t *testing.T) {
	in := snapshot()
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out Snapshot
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip:\n%+v\nwant\n%+v", out, in)
	}
	if !bytes.Contains(data, []byte(`"name":"cpu","unit":"%","points":[{"t":"2026-12-05T08:00:00Z","v":10}`)) {
		t.Errorf("JSON = %s", data)
	}
}

func TestDescribeGo(t *testing.T) {
	tests := []struct{ name, want string }{
		{"go.heap_inuse", "Go heap in use"},
		{"go.gc_pause", "Go last GC pause"},
		{"go.other", "go.other"},
	}
	for _, tt := range tests {
		if got := Describe(tt.name); got != tt.want {
			t.Errorf("Describe(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
	if got := FormatValue(85000, "ns"); got != "85µs" {
		t.Errorf("FormatValue(85000, ns) = %q, want 85µs", got)
	}
}
