package main

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/fsnotify/fsnotify"
)

// The dashboard's memory panel reads guest memory once a second through
// QEMU dumps: they go to one file per boot in the private runtime dir,
// never to the shared temp dir, and are removed when the VM ends.
func TestMemoryDumpsStayPrivate(t *testing.T) {
	dir, env := helloProject(t, "")
	tmp := t.TempDir()
	env = append(env, "TMPDIR="+tmp)
	runtime := runtimeDirOf(t, env)

	// Every file created in TMPDIR while the dashboard runs.
	w, err := fsnotify.NewWatcher()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Add(tmp); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var created []string
	go func() {
		for e := range w.Events {
			if e.Has(fsnotify.Create) {
				mu.Lock()
				created = append(created, filepath.Base(e.Name))
				mu.Unlock()
			}
		}
	}()

	s := startDashboard(t, "mem", dir, env, 140, 45, "")
	// The memory panel shows ticks read from the guest, twice: at least
	// two dumps.
	s.waitText("the guest's ticks in the memory panel", bootWait, "hello from ukdev", "ticks", "volatile uint32_t")
	first := s.last
	s.waitScreen("ticks read again", bootWait, func(screen string) bool {
		return strings.Contains(screen, "volatile uint32_t") && screen != first
	})

	dumps, _ := filepath.Glob(filepath.Join(runtime, "ukdev", "*", "mem-*.bin"))
	if len(dumps) != 1 {
		t.Errorf("dumps in the runtime dir: %v, want the boot's one file", dumps)
	}
	s.quit()

	mu.Lock()
	defer mu.Unlock()
	for _, name := range created {
		if strings.HasPrefix(name, "ukdev-mem-") {
			t.Errorf("guest memory was dumped into TMPDIR: %s (files created there: %v)", name, created)
			break
		}
	}
	if left, _ := filepath.Glob(filepath.Join(runtime, "ukdev", "*", "mem-*.bin")); len(left) > 0 {
		t.Errorf("dumps left in the runtime dir after ukdev ended: %v", left)
	}
}
