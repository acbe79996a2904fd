package procfs

import (
	"errors"
	"io/fs"
	"os"
	"testing"
)

func TestParseIO(t *testing.T) {
	tests := []struct {
		name, text string
		want       IO
		wantErr    bool
	}{
		{name: "Linux 6.1",
			text: "rchar: 6976\nwchar: 120\nsyscr: 10\nsyscw: 2\nread_bytes: 4096\nwrite_bytes: 8192\ncancelled_write_bytes: 0\n",
			want: IO{ReadChars: 6976, WriteChars: 120, ReadBytes: 4096, WriteBytes: 8192}},
		{name: "counters in another order, no final newline",
			text: "write_bytes: 1\nread_bytes: 2\nwchar: 3\nrchar: 4",
			want: IO{ReadChars: 4, WriteChars: 3, ReadBytes: 2, WriteBytes: 1}},
		{name: "a counter missing", text: "rchar: 1\nwchar: 2\nread_bytes: 3\n", wantErr: true},
		{name: "not a number", text: "rchar: x\nwchar: 2\nread_bytes: 3\nwrite_bytes: 4\n", wantErr: true},
		{name: "empty", text: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseIO(1, []byte(tt.text))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// The thread stat line has the process's layout: a real one from a
// shell's main thread.
func TestParseThreadStat(t *testing.T) {
	const line = "30058 (bash) S 30051 30058 30058 0 -1 4194560 9703 950385 0 563 20 32 3450 1708 20 0 1 0 1691737 5251072 1017 18446744073709551615 94347229376512 94347230165917 140732324623952 0 0 0 65536 4 1132560123 1 0 0 17 0 0 0 0 0 0 94347230399216 94347230447460 94348099932160 140732324629342 140732324629357 140732324629357 140732324630506 0"
	p, err := parseStat(30058, []byte(line))
	if err != nil || p.CPUTicks != 52 {
		t.Errorf("parseStat = %+v, %v; want 52 ticks", p, err)
	}
}

func TestThreadCPUAndIOOfSelf(t *testing.T) {
	pid := os.Getpid()
	if _, err := ThreadCPU(pid, pid); err != nil {
		t.Errorf("ThreadCPU(self, main thread): %v", err)
	}
	if _, err := ThreadCPU(pid, 1<<30); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ThreadCPU(self, no such thread) = %v, want fs.ErrNotExist", err)
	}
	if io, err := ReadIO(pid); err != nil || io.ReadChars <= 0 {
		t.Errorf("ReadIO(self) = %+v, %v; want some bytes read", io, err)
	}
}
