package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ukdev/ukdev/manager"
	"github.com/ukdev/ukdev/metrics"
)

// fakeStats returns snapshots whose CPU is 10, 20, 30 ... percent, and
// cancels its context after stopAfter calls (0: never).
type fakeStats struct {
	calls     int
	targets   []string
	stopAfter int
	cancel    context.CancelFunc
	err       error
}

func (f *fakeStats) get(_ context.Context, target string) (metrics.Snapshot, error) {
	f.calls++
	f.targets = append(f.targets, target)
	if f.stopAfter > 0 && f.calls >= f.stopAfter {
		f.cancel()
	}
	if f.err != nil {
		return metrics.Snapshot{}, f.err
	}
	at := time.Date(2026, 12, 5, 8, 0, f.calls, 0, time.UTC)
	return metrics.Snapshot{At: at, IntervalMS: 1, Running: true, PID: 4242,
		Series: []metrics.Series{{Name: "cpu", Unit: "%", Points: []metrics.Point{{T: at, V: float64(10 * f.calls)}}}}}, nil
}

func TestStats(t *testing.T) {
	stamp := func(sec int) string {
		return time.Date(2026, 12, 5, 8, 0, sec, 0, time.UTC).Local().Format("15:04:05")
	}
	table := func(sec int, cpu string) string {
		return stamp(sec) + " · QEMU pid 4242 · 1 points of 1ms\n" +
			"SERIES  NOW    MIN    MEAN   MAX    WHAT\n" +
			"cpu     " + cpu + "  " + cpu + "  " + cpu + "  " + cpu + "  QEMU CPU\n"
	}
	boom := errors.New("stats of hello: not available")
	tests := []struct {
		name      string
		json      bool
		watch     bool
		stopAfter int
		err       error
		want      string
		wantErr   error
		wantCalls int
	}{
		{name: "once", want: table(1, "10.0%"), wantCalls: 1},
		{name: "watch until interrupted", watch: true, stopAfter: 3, wantCalls: 3,
			want: table(1, "10.0%") + "\n" + table(2, "20.0%") + "\n" + table(3, "30.0%")},
		{name: "json", json: true, wantCalls: 1,
			want: `{"at":"2026-12-05T08:00:01Z","interval_ms":1,"running":true,"pid":4242,"series":[{"name":"cpu","unit":"%","points":[{"t":"2026-12-05T08:00:01Z","v":10}]}]}` + "\n"},
		{name: "json lines while watching", json: true, watch: true, stopAfter: 2, wantCalls: 2},
		{name: "an error ends it", err: boom, wantErr: boom, wantCalls: 1},
		{name: "an error while watching ends it too", watch: true, err: boom, wantErr: boom, wantCalls: 1},
		{name: "interrupted while asking is no error", watch: true, err: boom, stopAfter: 1, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			f := &fakeStats{stopAfter: tt.stopAfter, cancel: cancel, err: tt.err}
			var out bytes.Buffer
			a := &app{stdout: &out}
			err := a.stats(ctx, f.get, "hello", tt.json, tt.watch)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("stats = %v, want %v", err, tt.wantErr)
			}
			if f.calls != tt.wantCalls || f.targets[0] != "hello" {
				t.Errorf("asked %d times for %v, want %d times for hello", f.calls, f.targets, tt.wantCalls)
			}
			if tt.want != "" && out.String() != tt.want {
				t.Errorf("printed\n%s\nwant\n%s", out.String(), tt.want)
			}
			if tt.json {
				lines := strings.Split(strings.TrimSpace(out.String()), "\n")
				for _, l := range lines {
					var s metrics.Snapshot
					if err := json.Unmarshal([]byte(l), &s); err != nil || s.PID != 4242 {
						t.Errorf("line %q: %+v, %v", l, s, err)
					}
				}
				if len(lines) != tt.wantCalls {
					t.Errorf("%d JSON lines, want %d", len(lines), tt.wantCalls)
				}
			}
		})
	}
}

// Without a running ukdev for the project, stats says so.
func TestStatsWithoutRemote(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir()) // an empty registry
	var out bytes.Buffer
	a := &app{stdout: &out, stderr: &out}
	_, err := a.remoteStats(t.Context(), "hello")
	if !errors.Is(err, manager.ErrNotFound) {
		t.Errorf("remoteStats = %v, want manager.ErrNotFound", err)
	}
}
