package qemu

import (
	"context"
	"debug/elf"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// DumpCore asks QEMU for a detached, paged ELF dump into the file and
// follows it to its end; a failed dump leaves no file and an error.
func TestMachineDumpCore(t *testing.T) {
	for _, tc := range []struct {
		name    string
		replies []string // query-dump's replies, in order
		wantErr bool
	}{
		{"at once", []string{`"return": {"status": "completed", "completed": 10, "total": 10}`}, false},
		{"after progress", []string{
			`"return": {"status": "active", "completed": 1, "total": 10}`,
			`"return": {"status": "active", "completed": 5, "total": 10}`,
			`"return": {"status": "completed", "completed": 10, "total": 10}`}, false},
		{"failed", []string{`"return": {"status": "failed", "completed": 1, "total": 10}`}, true},
		{"refused", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, server := qmpMachine(t)
			path := filepath.Join(t.TempDir(), "boot-000001.core")
			// An old core is replaced: QEMU cannot open a read-only file.
			if err := os.WriteFile(path, []byte("old"), 0o400); err != nil {
				t.Fatal(err)
			}
			dump := step{cmd: "dump-guest-memory", args: `{"paging": true, "protocol": "file:` + path + `", "detach": true}`, reply: `"return": {}`}
			if tc.replies == nil {
				dump.reply = `"error": {"class": "GenericError", "desc": "dump: failed to save memory"}`
			}
			script := []step{dump}
			for _, r := range tc.replies {
				script = append(script, step{cmd: "query-dump", reply: r})
			}
			done := serve(t, server, script)
			err := m.DumpCore(t.Context(), path)
			<-done
			if (err != nil) != tc.wantErr {
				t.Fatalf("DumpCore = %v, want error %v", err, tc.wantErr)
			}
			if _, serr := os.Stat(path); !errors.Is(serr, os.ErrNotExist) {
				t.Errorf("the old file is still at %s (stat: %v)", path, serr)
			}
		})
	}
}

// A dump still running when ctx ends returns the context's error.
func TestMachineDumpCoreCanceled(t *testing.T) {
	m, server := qmpMachine(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		server.reply(server.expect("dump-guest-memory"), "{}")
		server.reply(server.expect("query-dump"), `{"status": "active", "completed": 1, "total": 10}`)
		cancel()
	}()
	if err := m.DumpCore(ctx, filepath.Join(t.TempDir(), "core")); !errors.Is(err, context.Canceled) {
		t.Errorf("DumpCore = %v, want the context's end", err)
	}
}

// On real QEMU the core is an ELF core file with the guest's memory.
func TestMachineDumpCoreReal(t *testing.T) {
	spec := bootSpec(t, tripleFaultKernel())
	m, console := start(t, spec)
	console.waitCount(t, "BOOT", 1)
	waitClosed(t, m.Ended(), "the boot's end")
	path := filepath.Join(t.TempDir(), "core")
	if err := m.DumpCore(t.Context(), path); err != nil {
		t.Fatalf("DumpCore: %v", err)
	}
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("the core is no ELF file: %v", err)
	}
	defer f.Close()
	if f.Type != elf.ET_CORE {
		t.Errorf("ELF type %v, want ET_CORE", f.Type)
	}
	var loads int
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			loads++
		}
	}
	if loads == 0 {
		t.Error("the core has no memory (no PT_LOAD)")
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		t.Errorf("the core's mode is %v: others may read guest memory", st.Mode().Perm())
	}
}
