package qemu

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/ukdev/ukdev/vm"
)

// ReadMemory reads guest memory through the one dump file it was given,
// reused by every read, and never through a file in the shared temp dir.
func TestMachineReadMemory(t *testing.T) {
	spec := bootSpec(t, echoKernel())
	dump := filepath.Join(filepath.Dir(spec.QMPSocket), "mem.bin")
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	console := newConsoleRecorder()
	m, err := Start(t.Context(), spec, vm.StartOptions{Console: console, StartTimeout: deadline, DumpFile: dump})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = m.Stop(t.Context()) })
	console.waitCount(t, "READY", 1)

	code := echoKernel()
	var inode uint64
	for i, virtual := range []bool{false, true, false} {
		// The code is identity-mapped (no paging yet): the same bytes
		// at the same address, physical or virtual.
		got, err := m.ReadMemory(t.Context(), pvhCodeAddr, uint64(len(code)), virtual)
		if err != nil {
			t.Fatalf("ReadMemory (virtual %v): %v", virtual, err)
		}
		if !bytes.Equal(got, code) {
			t.Fatalf("ReadMemory (virtual %v) = % x, want the kernel's code % x", virtual, got, code)
		}
		var st syscall.Stat_t
		if err := syscall.Stat(dump, &st); err != nil {
			t.Fatalf("the dump is not at %s: %v", dump, err)
		}
		if i > 0 && st.Ino != inode {
			t.Errorf("read %d used a new dump file (inode %d, was %d)", i, st.Ino, inode)
		}
		inode = st.Ino
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("TMPDIR holds %v after reading guest memory", left)
	}

	none, _ := start(t, bootSpec(t, echoKernel()))
	if _, err := none.ReadMemory(t.Context(), pvhCodeAddr, 4, false); err == nil {
		t.Error("ReadMemory without a dump file succeeded")
	}
}
