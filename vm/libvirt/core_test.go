package libvirt

import (
	"context"
	"debug/elf"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ukdev/ukdev/vm"
)

// The core of a running guest arrives here as an ELF core holding the
// kernel's data at its (physical, here identity-mapped) addresses,
// readable by the user only; the guest runs on and no dump stays in the
// host's pool.
func TestDumpCore(t *testing.T) {
	l := reachable(t)
	for _, over := range []string{"local", "ssh"} {
		t.Run(over, func(t *testing.T) {
			uri := ""
			if over == "ssh" {
				uri, _ = sshURI(t)
			}
			b := testBackend(t, l)
			b.URI = uri
			spec := helloSpec(t)
			con := newConsole()
			m, err := b.Start(t.Context(), spec, vm.StartOptions{Console: con})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = m.Stop(context.Background()) })
			con.wait(t, "hello from ukdev")
			path := filepath.Join(t.TempDir(), "core")
			if err := m.DumpCore(t.Context(), path); err != nil {
				t.Fatal(err)
			}
			f, err := elf.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Type != elf.ET_CORE {
				t.Errorf("ELF type %v, want a core", f.Type)
			}
			ticks := symbol(t, spec.Image.Kernel, "ticks")
			found := false
			for _, p := range f.Progs {
				if p.Type == elf.PT_LOAD && p.Vaddr <= ticks && ticks < p.Vaddr+p.Memsz {
					found = true
				}
			}
			if !found {
				t.Errorf("no PT_LOAD segment holds ticks at %#x", ticks)
			}
			if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("the core's mode: %v, %v; want 0600", fi.Mode(), err)
			}
			if st, err := m.Status(t.Context()); err != nil || st != vm.StatusRunning {
				t.Errorf("Status after the dump = %q, %v; want running", st, err)
			}
			pool, err := l.StoragePoolLookupByName(b.Pool)
			if err != nil {
				t.Fatal(err)
			}
			if err := l.StoragePoolRefresh(pool, 0); err != nil {
				t.Fatal(err)
			}
			vols, _, err := l.StoragePoolListAllVolumes(pool, 1, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range vols {
				if strings.HasPrefix(v.Name, "core-") {
					t.Errorf("the dump %s stayed in the pool", v.Name)
				}
			}
		})
	}
}
