package qemu

import (
	"errors"
	"io/fs"
	"math"
	"os"
	"os/exec"
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

// TestProcFilesFollowAProcess reads a child through files kept open: the
// same stats as ProcStats while it runs, its CPU time growing between
// reads of the same files, fs.ErrNotExist once it is reaped, and after
// close the fresh reads of ProcStats.
func TestProcFilesFollowAProcess(t *testing.T) {
	cmd := exec.Command("sh", "-c", "while :; do :; done")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	pid := cmd.Process.Pid
	var f procFiles
	first, err := f.read(pid)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := ProcStats(pid)
	if err != nil {
		t.Fatal(err)
	}
	if first.PID != pid || first.StartTicks != fresh.StartTicks || first.State == "" || first.RSSBytes == 0 ||
		first.PeakRSSBytes < first.RSSBytes || first.Threads != fresh.Threads {
		t.Fatalf("read = %+v, ProcStats = %+v", first, fresh)
	}
	kept := f.stat
	deadline := time.Now().Add(10 * time.Second)
	for {
		cur, err := f.read(pid)
		if err != nil {
			t.Fatal(err)
		}
		if cur.CPUTime() > first.CPUTime() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the child's CPU time never grew from %v", first.CPUTime())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if f.stat != kept {
		t.Errorf("the files were opened again between reads of the same process")
	}

	// Another process: its own files.
	self, err := f.read(os.Getpid())
	if err != nil || self.PID != os.Getpid() {
		t.Fatalf("read(self) = %+v, %v", self, err)
	}
	if _, err := f.read(pid); err != nil {
		t.Fatal(err)
	}

	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if _, err := f.read(pid); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("read(reaped child) = %v, want fs.ErrNotExist", err)
	}
	f.close()
	if f.stat != nil {
		t.Errorf("close left the files open")
	}
	if st, err := f.read(os.Getpid()); err != nil || st.PID != os.Getpid() || f.stat != nil {
		t.Errorf("read after close = %+v, %v, files open: %v", st, err, f.stat != nil)
	}
	if _, err := f.read(1 << 30); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("read(no such pid) = %v, want fs.ErrNotExist", err)
	}
}
