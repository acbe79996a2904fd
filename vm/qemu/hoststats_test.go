package qemu

import (
	"errors"
	"io/fs"
	"math"
	"os"
	"testing"
	"time"

	"github.com/ukdev/ukdev/vm"
)

func TestProcStatsSelf(t *testing.T) {
	first, err := ProcStats(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if first.PID != os.Getpid() || first.Threads < 1 || first.RSSBytes == 0 || first.PeakRSSBytes < first.RSSBytes ||
		first.StartTicks == 0 || first.State == "" {
		t.Fatalf("ProcStats(self) = %+v", first)
	}
	// Burn CPU until the kernel has accounted at least one more tick.
	deadline := time.Now().Add(10 * time.Second)
	x := 1.0
	for {
		for range 100000 {
			x = math.Sqrt(x + 1)
		}
		cur, err := ProcStats(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if cur.CPUTime() > first.CPUTime() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CPU time never grew from %v (x=%v)", first.CPUTime(), x)
		}
	}
}

func TestProcStatsGone(t *testing.T) {
	// pid_max is at most 2^22, so this pid never exists.
	_, err := ProcStats(1 << 30)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ProcStats(no such pid) = %v, want fs.ErrNotExist", err)
	}
}

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    vm.HostStats
		wantErr bool
	}{
		{
			name: "plain",
			in:   "4242 (qemu-system-x86) S 1 4242 4242 0 -1 4194560 1000 0 0 0 150 25 0 0 20 0 7 0 123456 1000000 2000 18446744073709551615",
			want: vm.HostStats{PID: 4242, State: "S", UserTicks: 150, SystemTicks: 25, Threads: 7, StartTicks: 123456},
		},
		{
			name: "name with spaces and parens",
			in:   "7 (a (b) c) R 1 7 7 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 99 0 0",
			want: vm.HostStats{PID: 7, State: "R", UserTicks: 3, SystemTicks: 4, Threads: 1, StartTicks: 99},
		},
		{name: "truncated", in: "7 (x) R 1 2 3", wantErr: true},
		{name: "no name", in: "7 x R", wantErr: true},
		{name: "bad number", in: "7 (x) R 1 7 7 0 -1 0 0 0 0 0 abc 4 0 0 20 0 1 0 99", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcStat([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseProcStatus(t *testing.T) {
	in := "Name:\tqemu\nState:\tS (sleeping)\nVmHWM:\t   51200 kB\nVmRSS:\t   40960 kB\nThreads:\t5\n"
	var s vm.HostStats
	if err := parseProcStatus([]byte(in), &s); err != nil {
		t.Fatal(err)
	}
	if s.RSSBytes != 40960<<10 || s.PeakRSSBytes != 51200<<10 || s.Threads != 5 {
		t.Errorf("got %+v", s)
	}
	if err := parseProcStatus([]byte("VmRSS:\tlots kB\n"), &s); err == nil {
		t.Error("bad VmRSS accepted")
	}
}
