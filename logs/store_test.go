package logs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func openStore(t *testing.T, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// runBoot writes one whole boot with the given console bytes.
func runBoot(t *testing.T, s *Store, boot, build int, data string) {
	t.Helper()
	w, err := s.StartBoot(BootInfo{Boot: boot, Build: build, Accel: "tcg", Machine: "microvm"})
	if err != nil {
		t.Fatalf("StartBoot(%d): %v", boot, err)
	}
	if _, err := w.Write([]byte(data)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	code := 0
	if err := w.Finish(time.Now(), ReasonExit, &code); err != nil {
		t.Fatalf("Finish(%d): %v", boot, err)
	}
}

func bootNumbers(t *testing.T, s *Store) []int {
	t.Helper()
	boots, err := s.Boots()
	if err != nil {
		t.Fatalf("Boots: %v", err)
	}
	var nums []int
	for _, b := range boots {
		nums = append(nums, b.Boot)
	}
	return nums
}

func TestOpenCreatesPrivateDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "logs")
	s := openStore(t, dir, Options{})
	if s.Dir() != dir {
		t.Fatalf("Dir() = %q, want %q", s.Dir(), dir)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Fatalf("dir mode = %o, want 700", perm)
	}
	if s.opts.KeepBoots != DefaultKeepBoots || s.opts.MaxBytes != DefaultMaxBytes {
		t.Fatalf("defaults not applied: %+v", s.opts)
	}
	boot, build, err := s.NextNumbers()
	if err != nil || boot != 1 || build != 1 {
		t.Fatalf("NextNumbers() = %d, %d, %v; want 1, 1, nil", boot, build, err)
	}
	if _, err := Open("", Options{}); err == nil {
		t.Fatal("Open(\"\") succeeded")
	}
}

func TestBootLifecycle(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	start := time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC)
	w, err := s.StartBoot(BootInfo{Boot: 1, Build: 4, Start: start, Accel: "tcg", Machine: "pc", Reason: "ignored"})
	if err != nil {
		t.Fatal(err)
	}
	boots, err := s.Boots()
	if err != nil {
		t.Fatal(err)
	}
	want := BootInfo{Boot: 1, Build: 4, Start: start, Accel: "tcg", Machine: "pc", File: "boot-000001.log"}
	if len(boots) != 1 || !boots[0].Start.Equal(start) || !boots[0].Running() {
		t.Fatalf("running boot = %+v, want %+v", boots, want)
	}
	boots[0].Start = start
	if fmt.Sprint(boots[0]) != fmt.Sprint(want) {
		t.Fatalf("running boot = %+v, want %+v", boots[0], want)
	}
	if _, err := s.StartBoot(BootInfo{Boot: 1}); !errors.Is(err, ErrBootExists) {
		t.Fatalf("second StartBoot(1) error = %v, want ErrBootExists", err)
	}
	for _, chunk := range []string{"Se", "aBIOS\r\n", "\x1b[2Jhello\n"} {
		if _, err := w.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	end := start.Add(3 * time.Second)
	code := 7
	if err := w.Finish(end, ReasonCrash, &code); err != nil {
		t.Fatal(err)
	}
	code = 99 // the store keeps its own copy
	if err := w.Finish(end, ReasonCrash, nil); !errors.Is(err, ErrFinished) {
		t.Fatalf("second Finish error = %v, want ErrFinished", err)
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, ErrFinished) {
		t.Fatalf("Write after Finish error = %v, want ErrFinished", err)
	}

	data, err := os.ReadFile(s.Path(1))
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "SeaBIOS\r\n\x1b[2Jhello\n" {
		t.Fatalf("log file = %q", data)
	}
	boots, err = s.Boots()
	if err != nil {
		t.Fatal(err)
	}
	b := boots[0]
	if !b.End.Equal(end) || b.Reason != ReasonCrash || b.ExitCode == nil || *b.ExitCode != 7 || b.Bytes != int64(len(data)) {
		t.Fatalf("finished boot = %+v (exit %v)", b, b.ExitCode)
	}
	boot, build, err := s.NextNumbers()
	if err != nil || boot != 2 || build != 5 {
		t.Fatalf("NextNumbers() = %d, %d, %v; want 2, 5, nil", boot, build, err)
	}
	if s.Path(1) != filepath.Join(dir, "boot-000001.log") {
		t.Fatalf("Path(1) = %q", s.Path(1))
	}
}

func TestStartBootRejectsBadNumbers(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	for _, n := range []int{0, -3} {
		if _, err := s.StartBoot(BootInfo{Boot: n}); err == nil {
			t.Errorf("StartBoot(%d) succeeded", n)
		}
	}
	// A stray file with the boot's name is never overwritten.
	if err := os.WriteFile(s.Path(5), []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartBoot(BootInfo{Boot: 5}); !errors.Is(err, ErrBootExists) {
		t.Fatalf("StartBoot over a stray file: %v, want ErrBootExists", err)
	}
	if boot, _, _ := s.NextNumbers(); boot != 6 {
		t.Fatalf("NextNumbers boot = %d, want 6 (stray files count)", boot)
	}
}

func TestPrune(t *testing.T) {
	tests := []struct {
		name  string
		opts  Options
		sizes []int // bytes written by boots 1..n, in order
		want  []int
	}{
		{"under limits", Options{KeepBoots: 5, MaxBytes: 1000}, []int{10, 10, 10}, []int{1, 2, 3}},
		{"by count", Options{KeepBoots: 3}, []int{1, 1, 1, 1, 1, 1}, []int{4, 5, 6}},
		{"by size", Options{MaxBytes: 100}, []int{40, 40, 40, 30}, []int{3, 4}},
		{"exactly max size", Options{MaxBytes: 80}, []int{40, 40}, []int{1, 2}},
		{"one boot over size", Options{MaxBytes: 10}, []int{5, 50}, []int{}},
		{"count and size", Options{KeepBoots: 3, MaxBytes: 25}, []int{10, 10, 10, 10, 10}, []int{4, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t, t.TempDir(), tt.opts)
			for i, n := range tt.sizes {
				runBoot(t, s, i+1, 1, strings.Repeat("x", n))
			}
			got := bootNumbers(t, s)
			if !slices.Equal(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Fatalf("boots = %v, want %v", got, tt.want)
			}
			for i := range tt.sizes {
				_, err := os.Stat(s.Path(i + 1))
				if kept := slices.Contains(tt.want, i+1); kept != (err == nil) {
					t.Errorf("boot %d: file present = %v, want %v", i+1, err == nil, kept)
				}
			}
		})
	}
}

func TestPruneNeverDeletesRunningBoot(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{KeepBoots: 1, MaxBytes: 10})
	running, err := s.StartBoot(BootInfo{Boot: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := running.Write([]byte(strings.Repeat("r", 100))); err != nil {
		t.Fatal(err)
	}
	runBoot(t, s, 2, 1, "done")
	runBoot(t, s, 3, 1, "done")
	if got := bootNumbers(t, s); !slices.Equal(got, []int{1}) {
		t.Fatalf("boots = %v, want [1] (running boot kept)", got)
	}
	if err := running.Finish(time.Now(), ReasonKilled, nil); err != nil {
		t.Fatal(err)
	}
	if got := bootNumbers(t, s); len(got) != 0 {
		t.Fatalf("boots after finishing = %v, want none (over both limits)", got)
	}
}

func TestIndexRecovery(t *testing.T) {
	tests := []struct {
		name  string
		index string // "" leaves the index missing
	}{
		{"missing", ""},
		{"garbage", "{not json"},
		{"truncated", `{"version":1,"boots":[{"boot":1,`},
		{"wrong version", `{"version":99,"boots":[]}`},
		{"path escape", `{"version":1,"boots":[{"boot":1,"file":"../../victim"}]}`},
		{"bad number", `{"version":1,"boots":[{"boot":0,"file":"boot-000000.log"}]}`},
		{"duplicate", `{"version":1,"boots":[{"boot":2,"file":"boot-000002.log"},{"boot":2,"file":"boot-000002.log"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openStore(t, dir, Options{})
			runBoot(t, s, 1, 1, "one\n")
			runBoot(t, s, 2, 1, "two\n")
			os.WriteFile(filepath.Join(dir, "boot-7.log"), nil, 0o600) // not canonical: ignored
			os.WriteFile(filepath.Join(dir, "notes.txt"), nil, 0o600)
			victim := filepath.Join(filepath.Dir(dir), "victim")
			os.WriteFile(victim, []byte("keep"), 0o600)
			index := filepath.Join(dir, "index.json")
			if tt.index == "" {
				os.Remove(index)
			} else if err := os.WriteFile(index, []byte(tt.index), 0o600); err != nil {
				t.Fatal(err)
			}

			s, err := Open(dir, Options{KeepBoots: 2})
			var w *IndexWarning
			if !errors.As(err, &w) || s == nil {
				t.Fatalf("Open = %v, %v; want a store and an *IndexWarning", s, err)
			}
			if tt.index == "" && !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("warning for a missing index does not wrap fs.ErrNotExist: %v", err)
			}
			boots, err := s.Boots()
			if !errors.As(err, &w) {
				t.Fatalf("Boots error = %v, want *IndexWarning", err)
			}
			if len(boots) != 2 || boots[0].Boot != 1 || boots[1].Boot != 2 || boots[1].Bytes != 4 {
				t.Fatalf("rebuilt boots = %+v", boots)
			}
			boot, _, err := s.NextNumbers()
			if err != nil || boot != 3 {
				t.Fatalf("NextNumbers = %d, %v; want 3, nil", boot, err)
			}

			// The next change writes a good index and prunes from it.
			runBoot(t, s, 3, 2, "three\n")
			if got := bootNumbers(t, s); !slices.Equal(got, []int{2, 3}) {
				t.Fatalf("boots after recovery = %v, want [2 3]", got)
			}
			if data, err := os.ReadFile(victim); err != nil || string(data) != "keep" {
				t.Fatalf("file outside the store touched: %q, %v", data, err)
			}
			if tt.index != "" {
				if data, _ := os.ReadFile(index + ".corrupt"); string(data) != tt.index {
					t.Fatalf("corrupt index not kept aside: %q", data)
				}
			}
		})
	}
}

func TestFinishRecordsBootMissingFromIndex(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	w, err := s.StartBoot(BootInfo{Boot: 3, Build: 2})
	if err != nil {
		t.Fatal(err)
	}
	// The index is lost while the boot runs: Finish records the boot again.
	if err := os.WriteFile(filepath.Join(dir, "index.json"), []byte(`{"version":1,"boots":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := w.Finish(time.Now(), ReasonExit, nil); err != nil {
		t.Fatal(err)
	}
	if got := bootNumbers(t, s); !slices.Equal(got, []int{3}) {
		t.Fatalf("boots = %v, want [3]", got)
	}
}

// writeIndexFile writes an index with the given boots, as a ukdev that
// was killed left it.
func writeIndexFile(t *testing.T, dir string, boots ...BootInfo) {
	t.Helper()
	s := &Store{dir: dir}
	if err := s.writeIndex(boots); err != nil {
		t.Fatal(err)
	}
}

func TestBootOfKilledUkdevEnds(t *testing.T) {
	dir := t.TempDir()
	start := time.Now().Add(-time.Minute).Round(time.Millisecond)
	last := start.Add(5 * time.Second)
	// ukdev was killed while boot 2 ran: the index says it runs, and no
	// process holds its file.
	writeIndexFile(t, dir,
		BootInfo{Boot: 1, Build: 1, Start: start.Add(-time.Minute), End: start, Reason: ReasonExit, Bytes: 3, File: bootFileName(1)},
		BootInfo{Boot: 2, Build: 1, Start: start, File: bootFileName(2)})
	for n, data := range map[int]string{1: "one", 2: "hello\nworld\n"} {
		if err := os.WriteFile(filepath.Join(dir, bootFileName(n)), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chtimes(filepath.Join(dir, bootFileName(2)), last, last); err != nil {
		t.Fatal(err)
	}

	reader := openStore(t, dir, Options{})
	boots, err := reader.Boots()
	if err != nil {
		t.Fatal(err)
	}
	b := boots[1]
	if b.Running() || !b.End.Equal(last) || b.Reason != ReasonUnknown || b.Bytes != 12 || !b.Start.Equal(start) || b.Build != 1 {
		t.Fatalf("boot of the killed ukdev = %+v; want ended at its last write (%v), reason %q, 12 bytes, start and build kept",
			b, last, ReasonUnknown)
	}
	if boots[0].Reason != ReasonExit {
		t.Fatalf("a boot that ended normally changed: %+v", boots[0])
	}

	// The next ukdev records it in the index for good.
	writer := openStore(t, dir, Options{})
	runBoot(t, writer, 3, 2, "three\n")
	data, err := os.ReadFile(filepath.Join(dir, indexName))
	if err != nil {
		t.Fatal(err)
	}
	recorded, err := parseIndex(data)
	if err != nil || len(recorded) != 3 || recorded[1].Running() || recorded[1].Reason != ReasonUnknown || recorded[1].Bytes != 12 {
		t.Fatalf("index after the next boot = %+v, %v; want boot 2 recorded as ended", recorded, err)
	}
}

func TestRunningBootOfLiveUkdevStaysRunning(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	w, err := s.StartBoot(BootInfo{Boot: 1, Build: 1})
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, w, "still going\n")
	// Another process (ukdev logs --list) reads the store.
	reader := openStore(t, dir, Options{})
	for _, st := range []*Store{reader, s} {
		boots, err := st.Boots()
		if err != nil {
			t.Fatal(err)
		}
		if len(boots) != 1 || !boots[0].Running() || boots[0].Reason != "" {
			t.Fatalf("boot of a live writer = %+v, want running", boots)
		}
	}
	if err := w.Finish(time.Now(), ReasonExit, nil); err != nil {
		t.Fatal(err)
	}
	boots, err := reader.Boots()
	if err != nil || boots[0].Reason != ReasonExit || boots[0].Bytes != 12 {
		t.Fatalf("finished boot = %+v, %v", boots, err)
	}
}

// needBirthTime skips a test on a file system that does not record when a
// file was created.
func needBirthTime(t *testing.T, dir string) {
	t.Helper()
	p := filepath.Join(dir, "probe")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(p)
	if birthTime(p).IsZero() {
		t.Skip("the file system does not record creation times")
	}
}

func TestRebuiltIndexKeepsTimes(t *testing.T) {
	dir := t.TempDir()
	needBirthTime(t, dir)
	s := openStore(t, dir, Options{})
	before := time.Now().Add(-time.Second)
	runBoot(t, s, 1, 1, "one\n")
	w, err := s.StartBoot(BootInfo{Boot: 2, Build: 3, Start: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, w, "two\n")
	after := time.Now().Add(time.Second)
	if err := os.Remove(filepath.Join(dir, indexName)); err != nil {
		t.Fatal(err)
	}

	reader, err := Open(dir, Options{})
	if reader == nil {
		t.Fatalf("Open: %v", err)
	}
	boots, err := reader.Boots()
	var warn *IndexWarning
	if !errors.As(err, &warn) || len(boots) != 2 {
		t.Fatalf("Boots = %+v, %v; want 2 boots and an IndexWarning", boots, err)
	}
	for _, b := range boots {
		if b.Start.Before(before) || b.Start.After(after) {
			t.Errorf("boot %d: rebuilt start %v, want between %v and %v", b.Boot, b.Start, before, after)
		}
	}
	if boots[0].Running() || boots[0].Reason != ReasonUnknown || !boots[1].Running() {
		t.Errorf("rebuilt boots = %+v; want 1 ended (reason unknown) and 2 running", boots)
	}

	// The writer records its boot again with what it knows.
	if err := w.Finish(time.Now(), ReasonPanic, nil); err != nil {
		t.Fatal(err)
	}
	boots, err = s.Boots()
	if err != nil || boots[1].Build != 3 || boots[1].Reason != ReasonPanic || boots[1].Start.IsZero() {
		t.Fatalf("boot 2 after Finish = %+v, %v; want build 3, panic, its start", boots, err)
	}
}
