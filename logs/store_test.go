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
	type boot struct {
		size   int
		reason string
	}
	exits := func(sizes ...int) []boot {
		var out []boot
		for _, n := range sizes {
			out = append(out, boot{n, ReasonExit})
		}
		return out
	}
	tests := []struct {
		name  string
		opts  Options
		boots []boot // boots 1..n, in order
		want  []int
	}{
		{"under limits", Options{KeepBoots: 5, MaxBytes: 1000}, exits(10, 10, 10), []int{1, 2, 3}},
		{"by count", Options{KeepBoots: 3}, exits(1, 1, 1, 1, 1, 1), []int{4, 5, 6}},
		{"by size", Options{MaxBytes: 100}, exits(40, 40, 40, 30), []int{3, 4}},
		{"exactly max size", Options{MaxBytes: 80}, exits(40, 40), []int{1, 2}},
		{"the newest boot stays over the size", Options{MaxBytes: 10}, exits(5, 50), []int{2}},
		{"count and size", Options{KeepBoots: 3, MaxBytes: 25}, exits(10, 10, 10, 10, 10), []int{4, 5}},
		{"crashes and panics stay over the size", Options{MaxBytes: 100},
			[]boot{{40, ReasonCrash}, {40, ReasonKilled}, {40, ReasonPanic}, {30, ReasonExit}}, []int{1, 3, 4}},
		{"crashes go last by count", Options{KeepBoots: 2},
			[]boot{{1, ReasonCrash}, {1, ReasonExit}, {1, ReasonPanic}, {1, ReasonExit}, {1, ReasonExit}}, []int{3, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t, t.TempDir(), tt.opts)
			for i, b := range tt.boots {
				w, err := s.StartBoot(BootInfo{Boot: i + 1, Build: 1})
				if err != nil {
					t.Fatal(err)
				}
				mustWrite(t, w, strings.Repeat("x", b.size))
				if err := w.Finish(time.Now(), b.reason, nil); err != nil {
					t.Fatal(err)
				}
			}
			got := bootNumbers(t, s)
			if !slices.Equal(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Fatalf("boots = %v, want %v", got, tt.want)
			}
			for i := range tt.boots {
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
	if got := bootNumbers(t, s); !slices.Equal(got, []int{1, 3}) {
		t.Fatalf("boots = %v, want [1 3] (the running boot and the newest kept)", got)
	}
	if err := running.Finish(time.Now(), ReasonKilled, nil); err != nil {
		t.Fatal(err)
	}
	if got := bootNumbers(t, s); !slices.Equal(got, []int{3}) {
		t.Fatalf("boots after finishing = %v, want [3] (over both limits, the newest kept)", got)
	}
}

// numbered returns lines "<prefix> line <i>" for i in [from, to).
func numbered(prefix string, from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "%s line %04d\r\n", prefix, i)
	}
	return b.String()
}

// checkCut checks that a cut log keeps its first and last lines whole,
// with one marker between them that counts the bytes left out of total.
func checkCut(t *testing.T, data string, total int, first, last string, most int) {
	t.Helper()
	if len(data) > most {
		t.Errorf("file is %d bytes, want at most %d", len(data), most)
	}
	if !strings.HasPrefix(data, first) || !strings.HasSuffix(data, last) {
		t.Errorf("file does not keep its head %q and its tail %q:\n%s", first, last, data)
	}
	i := strings.Index(data, "[ukdev: ")
	if i < 0 || strings.Count(data, "[ukdev: ") != 1 {
		t.Fatalf("want one marker in the file:\n%s", data)
	}
	var cut int
	if _, err := fmt.Sscanf(data[i:], "[ukdev: %d bytes", &cut); err != nil {
		t.Fatalf("marker %q: %v", data[i:min(i+40, len(data))], err)
	}
	marker := data[i : i+strings.IndexByte(data[i:], '\n')+1]
	if kept := len(data) - len(marker); kept+cut != total {
		t.Errorf("marker says %d bytes cut, the file keeps %d: %d bytes, want %d", cut, kept, kept+cut, total)
	}
	// The cut falls between lines.
	if !strings.HasSuffix(data[:i], "\r\n") || !strings.HasPrefix(data[i+len(marker):], first[:5]) {
		t.Errorf("the cut splits a line:\n%s", data)
	}
}

// TestCrashLogSurvivesSmallStore is the case: logs.max_bytes = 4K,
// 100 echoed lines and a panic. The crashed boot's log must be kept, its
// head and its tail, not deleted with the boots before it.
func TestCrashLogSurvivesSmallStore(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{MaxBytes: 4 << 10})
	runBoot(t, s, 1, 1, numbered("older", 0, 250))
	w, err := s.StartBoot(BootInfo{Boot: 2, Build: 1})
	if err != nil {
		t.Fatal(err)
	}
	out := numbered("echo", 0, 300) + "panic: the end\r\n"
	mustWrite(t, w, out)
	if err := w.Finish(time.Now(), ReasonPanic, nil); err != nil {
		t.Fatal(err)
	}
	boots, err := s.Boots()
	if err != nil || len(boots) == 0 || boots[len(boots)-1].Boot != 2 {
		t.Fatalf("boots = %+v, %v; want the crashed boot 2 kept", boots, err)
	}
	var total int64
	for _, b := range boots {
		total += b.Bytes
	}
	if total > 4<<10 {
		t.Errorf("the store holds %d bytes, over its 4 KiB", total)
	}
	data, err := os.ReadFile(s.Path(2))
	if err != nil {
		t.Fatal(err)
	}
	checkCut(t, string(data), len(out), "echo line 0000\r\n", "echo line 0299\r\npanic: the end\r\n", 4<<10)
	if b := boots[len(boots)-1]; b.Bytes != int64(len(data)) || b.Reason != ReasonPanic {
		t.Errorf("index entry = %+v, want %d bytes, panic", b, len(data))
	}
}

// TestRunningBootBounded writes a long boot line by line: its file must
// stay near the limit while it runs, a whole log at every moment (what a
// SIGKILL of ukdev would leave), and end with its head and its tail.
func TestRunningBootBounded(t *testing.T) {
	const limit = 4 << 10
	s := openStore(t, t.TempDir(), Options{MaxBytes: limit})
	w, err := s.StartBoot(BootInfo{Boot: 1, Build: 1})
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for i := range 2000 {
		line := numbered("flood", i, i+1)
		mustWrite(t, w, line)
		total += len(line)
		fi, err := os.Stat(s.Path(1))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > limit+int64(len(line)) {
			t.Fatalf("after %d bytes the running boot's file is %d bytes, want at most about %d", total, fi.Size(), limit)
		}
	}
	// What a reader sees while it runs: a whole log, with head and marker.
	w.mu.Lock()
	err = w.buf.Flush()
	w.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(s.Path(1))
	if err != nil {
		t.Fatal(err)
	}
	checkCut(t, string(data), total, "flood line 0000\r\n", "flood line 1999\r\n", limit+20)
	if err := w.Finish(time.Now(), ReasonExit, nil); err != nil {
		t.Fatal(err)
	}
	data, err = os.ReadFile(s.Path(1))
	if err != nil {
		t.Fatal(err)
	}
	checkCut(t, string(data), total, "flood line 0000\r\n", "flood line 1999\r\n", limit)
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

// TestPruneCutsOlderCrashes: crashed boots that alone are over MaxBytes
// are cut to their head and tail, oldest first, instead of deleted.
func TestPruneCutsOlderCrashes(t *testing.T) {
	const limit = 4 << 10
	s := openStore(t, t.TempDir(), Options{MaxBytes: limit})
	outs := []string{
		numbered("first", 0, 200) + "crash one\r\n",
		numbered("second", 0, 200) + "crash two\r\n",
		"fine\r\n",
	}
	for i, out := range outs {
		w, err := s.StartBoot(BootInfo{Boot: i + 1, Build: 1})
		if err != nil {
			t.Fatal(err)
		}
		mustWrite(t, w, out)
		reason := ReasonCrash
		if i == 2 {
			reason = ReasonExit
		}
		if err := w.Finish(time.Now(), reason, nil); err != nil {
			t.Fatal(err)
		}
	}
	if got := bootNumbers(t, s); !slices.Equal(got, []int{1, 2, 3}) {
		t.Fatalf("boots = %v, want [1 2 3]", got)
	}
	var total int64
	for i, out := range outs {
		data, err := os.ReadFile(s.Path(i + 1))
		if err != nil {
			t.Fatal(err)
		}
		total += int64(len(data))
		if i < 2 {
			first := out[:strings.Index(out, "\r\n")+2]
			checkCut(t, string(data), len(out), first, out[strings.LastIndex(out[:len(out)-2], "\r\n")+2:], len(out))
		}
	}
	if total > limit {
		t.Errorf("the store holds %d bytes, over its %d", total, limit)
	}
}

func TestCutMapOffsets(t *testing.T) {
	m := &cutMap{head: 100, tail: 160, cut: 1000}
	tests := []struct {
		name     string
		m        *cutMap
		file     int64 // a byte of the file
		output   int64 // its offset in the output
		resumeAt int64 // where a reader that has seen output up to `output` goes on
	}{
		{"whole file", nil, 500, 500, 500},
		{"in the head", m, 40, 40, 40},
		{"end of the head", m, 100, 1100, 160},
		{"in the marker", m, 130, 1100, 160},
		{"in the tail", m, 200, 1140, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.m.outputOffset(tt.file); got != tt.output {
				t.Errorf("outputOffset(%d) = %d, want %d", tt.file, got, tt.output)
			}
			if got := tt.m.fileOffset(tt.output); got != tt.resumeAt {
				t.Errorf("fileOffset(%d) = %d, want %d", tt.output, got, tt.resumeAt)
			}
		})
	}
	if got := m.fileOffset(500); got != 100 {
		t.Errorf("a reader that saw up to 500, inside the cut, goes on at %d, want the marker at 100", got)
	}
}
