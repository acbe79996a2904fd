package procfs

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name, line string
		want       Proc
		wantErr    bool
	}{
		{name: "plain",
			line: "42 (sleep) S 7 42 7 0 -1 4194304 100 0 0 0 3 5 0 0 20 0 1 0 100 1000 10",
			want: Proc{PID: 42, Comm: "sleep", State: 'S', PPID: 7, PGID: 42, CPUTicks: 8}},
		{name: "name with spaces and parentheses",
			line: "43 (a) b (c)) Z 1 9 9 0 -1 0 0 0 0 0 11 12 0 0 20 0 1 0 100 0 0",
			want: Proc{PID: 43, Comm: "a) b (c)", State: 'Z', PPID: 1, PGID: 9, CPUTicks: 23}},
		{name: "no name", line: "44 S 1 1", wantErr: true},
		{name: "too few fields", line: "45 (x) S 1 1", wantErr: true},
		{name: "bad number", line: "46 (x) S one 1 0 0 -1 0 0 0 0 0 1 1 0", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat(tt.want.PID, []byte(tt.line))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseMemory(t *testing.T) {
	rss, peak, err := parseMemory(1, []byte("Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\nThreads:\t1\n"))
	if err != nil || rss != 1024 || peak != 2048 {
		t.Errorf("got %d, %d, %v; want 1024, 2048, nil", rss, peak, err)
	}
	if _, _, err := parseMemory(1, []byte("VmRSS:\tlots kB\n")); err == nil {
		t.Error("a bad VmRSS parsed")
	}
}

func TestMatchingFindsAChild(t *testing.T) {
	marker := fmt.Sprintf("31.%09d", os.Getpid())
	cmd := exec.Command("sleep", marker)
	if err := cmd.Start(); err != nil {
		t.Skipf("no sleep: %v", err)
	}
	found := Matching(marker)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if len(found) != 1 || found[0].PID != cmd.Process.Pid || found[0].CommandLine() != "sleep "+marker || !found[0].Live() || found[0].IsQEMU() {
		t.Fatalf("Matching(%q) = %+v, want the sleep child (pid %d)", marker, found, cmd.Process.Pid)
	}
	if kids := Children(os.Getpid()); len(kids) != 0 {
		t.Errorf("Children of this test after its child was reaped = %v, want none", kids)
	}
	if len(Matching(marker)) != 0 {
		t.Error("Matching still finds the child after it was reaped")
	}
	self, err := Read(os.Getpid())
	if err != nil || self.PID != os.Getpid() || len(self.Args) == 0 || !self.Live() {
		t.Errorf("Read(self) = %+v, %v", self, err)
	}
	if rss, peak, err := Memory(os.Getpid()); err != nil || rss <= 0 || peak < rss {
		t.Errorf("Memory(self) = %d, %d, %v", rss, peak, err)
	}
}
