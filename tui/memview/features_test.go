package memview

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/tui/panel"
	"github.com/ukdev/ukdev/tui/panel/paneltest"
)

// clock is a test clock that moves only when told.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// newClockedModel is newModel with a clock the test moves and a state dir.
func newClockedModel(in panel.Inspector, c *clock, stateDir string) *Model {
	d := panel.Deps{Styles: panel.NewStyles(false), Now: c.now, Context: context.Background(), StateDir: stateDir}
	m := New(d, in)
	m.procStats = func() (devloop.HostStats, error) {
		info, _ := in.Current()
		return fakeStats(info.PID)
	}
	return m
}

// run runs cmd and everything it leads to: batches, samples, the watch
// list's loads and saves.
func run(t *testing.T, m *Model, cmd tea.Cmd) {
	t.Helper()
	if cmd == nil {
		return
	}
	switch msg := cmd().(type) {
	case tea.BatchMsg:
		for _, c := range msg {
			run(t, m, c)
		}
	case sampleMsg, watchesLoadedMsg, watchesSavedMsg:
		_, next := m.Update(msg)
		run(t, m, next)
	}
}

// press sends keys to m, running what they start.
func press(t *testing.T, m *Model, keys ...string) {
	t.Helper()
	for _, k := range keys {
		_, cmd := m.Update(paneltest.Press(k))
		run(t, m, cmd)
	}
}

// tick moves the clock by d and refreshes.
func tick(t *testing.T, m *Model, c *clock, d time.Duration) {
	t.Helper()
	c.t = c.t.Add(d)
	_, cmd := m.Update(panel.TickMsg(c.t))
	run(t, m, cmd)
}

func rows(m *Model) []string {
	var out []string
	for _, v := range m.snap.vars {
		out = append(out, v.name)
	}
	return out
}

func TestMemViewWatchListPersists(t *testing.T) {
	f, _ := newFake(t)
	state := filepath.Join(t.TempDir(), "state")
	c := &clock{epoch}
	m := newClockedModel(f, c, state)
	m.SetSize(100, 40)
	m.Focus(true)
	if cmd := m.refresh(); cmd != nil {
		t.Fatal("a refresh started before the saved list was read")
	}
	run(t, m, m.Init())
	// Remove ticks, watch _start by name (a function: no browser match).
	press(t, m, "x", "a", "_", "s", "t", "a", "r", "t", "enter")
	tick(t, m, c, time.Second)
	want := "balance,counters,buffer,_start"
	if got := strings.Join(rows(m), ","); got != want {
		t.Fatalf("rows = %s, want %s", got, want)
	}
	b, err := os.ReadFile(filepath.Join(state, watchFileName))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"_start"`) || !strings.Contains(string(b), `"ticks"`) {
		t.Errorf("saved list:\n%s", b)
	}

	again := newClockedModel(f, c, state)
	again.SetSize(100, 40)
	run(t, again, again.Init())
	if got := strings.Join(rows(again), ","); got != want {
		t.Errorf("after a restart rows = %s, want %s", got, want)
	}

	// Adding back a removed default forgets the removal.
	press(t, again, "a", "t", "i", "c", "k", "s", "enter")
	third := newClockedModel(f, c, state)
	third.SetSize(100, 40)
	run(t, third, third.Init())
	if got := strings.Join(rows(third), ","); got != "ticks,balance,counters,buffer,_start" {
		t.Errorf("after adding ticks back rows = %s", got)
	}
}

func TestMemViewWatchListCorrupt(t *testing.T) {
	f, _ := newFake(t)
	state := t.TempDir()
	if err := os.WriteFile(filepath.Join(state, watchFileName), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := newClockedModel(f, &clock{epoch}, state)
	m.SetSize(100, 30)
	run(t, m, m.Init())
	paneltest.WantText(t, plain(m), "memview: read watch list")
	if got := strings.Join(rows(m), ","); got != "ticks,balance,counters,buffer" {
		t.Errorf("rows = %s: the first list should still show", got)
	}
}

func TestMemViewChangesAndRates(t *testing.T) {
	f, tab := newFake(t)
	c := &clock{epoch}
	m := newClockedModel(f, c, "")
	m.SetSize(120, 40)
	run(t, m, m.Init())
	ticks, _ := tab.Lookup("ticks")
	counters, _ := tab.Lookup("counters")
	f.poke(ticks.Addr, binary.LittleEndian.AppendUint32(nil, 1244))
	f.poke(counters.Addr+4, binary.LittleEndian.AppendUint16(nil, 0xfffc)) // -2 → -4
	tick(t, m, c, time.Second)
	changed := fieldKey{"ticks", ""}
	if !m.changes.changed[changed] || m.changes.rates[changed] != 10 {
		t.Errorf("ticks: changed %v rate %v, want true 10", m.changes.changed[changed], m.changes.rates[changed])
	}
	if r := m.changes.rates[fieldKey{"counters", ".delta"}]; r != -2 {
		t.Errorf("counters.delta rate = %v, want -2 (signed)", r)
	}
	if m.changes.changed[fieldKey{"balance", ""}] {
		t.Error("balance did not change but is marked")
	}
	paneltest.WantText(t, plain(m), "1244 (0x4dc)  +10/s", "-4 (0xfffc)  -2/s")
	// Unchanged at the next refresh: no highlight, no rate.
	tick(t, m, c, time.Second)
	if len(m.changes.changed) != 0 {
		t.Errorf("changed after a quiet refresh: %v", m.changes.changed)
	}
	if strings.Contains(plain(m), "/s") {
		t.Errorf("a rate shows after a quiet refresh:\n%s", plain(m))
	}
	// A new boot starts afresh.
	f.poke(ticks.Addr, binary.LittleEndian.AppendUint32(nil, 3))
	f.info.Boot++
	tick(t, m, c, time.Second)
	if len(m.changes.changed) != 0 {
		t.Errorf("changed on a new boot: %v", m.changes.changed)
	}
}

func TestFormatRate(t *testing.T) {
	for r, want := range map[float64]string{10: "+10/s", 1: "+1/s", 0.5: "+0.5/s", -2: "-2/s", 1234.4: "+1234/s", -0.25: "-0.2/s"} {
		if got := formatRate(r); got != want {
			t.Errorf("formatRate(%v) = %q, want %q", r, got, want)
		}
	}
}

func TestMemViewBrowser(t *testing.T) {
	f, _ := newFake(t)
	m := newClockedModel(f, &clock{epoch}, "")
	m.SetSize(120, 30)
	m.Focus(true)
	run(t, m, m.Init())
	press(t, m, "x", "/")
	if !m.Capturing() || m.Title() != "memory · watch a symbol" {
		t.Fatalf("browser not open: capturing %v, title %q", m.Capturing(), m.Title())
	}
	// Empty filter: every data symbol, the program's own first.
	if n := len(m.browser.matches); n != len(m.entries) || n < 4 {
		t.Fatalf("%d matches of %d entries", n, len(m.entries))
	}
	v := plain(m)
	paneltest.WantText(t, v, "ticks     0x00102000     4 B  .bss     volatile uint32_t",
		"counters  0x00102004    16 B  .bss     struct counters", "of 4 data symbols")
	press(t, m, "t", "k")
	if len(m.browser.matches) != 1 || m.entries[m.browser.matches[0]].name != "ticks" {
		t.Fatalf("matches for tk: %v", m.browser.matches)
	}
	paneltest.WantText(t, plain(m), "1 of 4 data symbols")
	press(t, m, "enter")
	if m.Capturing() || !strings.Contains(strings.Join(rows(m), ","), "ticks") {
		t.Errorf("enter did not watch ticks: capturing %v rows %v", m.Capturing(), rows(m))
	}

	// Moving through the matches; esc closes without watching.
	press(t, m, "x", "a", "down", "down", "up")
	if m.browser.sel != 1 {
		t.Errorf("selection = %d, want 1", m.browser.sel)
	}
	press(t, m, "esc")
	if m.Capturing() || m.mode != modeList {
		t.Error("esc did not close the browser")
	}
}

func TestMemViewHex(t *testing.T) {
	f, tab := newFake(t)
	c := &clock{epoch}
	m := newClockedModel(f, c, "")
	m.SetSize(120, 30)
	m.Focus(true)
	run(t, m, m.Init())
	counters, _ := tab.Lookup("counters")
	buffer, _ := tab.Lookup("buffer")

	// enter on counters (third row) opens the hex view there.
	press(t, m, "j", "j", "enter")
	if m.mode != modeHex || m.hex.pos.cursor != counters.Addr || m.hex.pos.virtual {
		t.Fatalf("mode %v pos %+v, want the hex view at counters (physical)", m.mode, m.hex.pos)
	}
	v := plain(m)
	paneltest.WantText(t, v, "00102000  d2 04 00 00 07 00 00 00", "|...........ukdev|  ticks, counters",
		"|................|  counters+0xc, balance", "  buffer+0x10")
	if m.Title() != "memory · hex 0x00102000 phys" {
		t.Errorf("title = %q", m.Title())
	}

	// A byte that changes is marked at the next refresh.
	f.poke(counters.Addr, []byte{8})
	tick(t, m, c, time.Second)
	off := counters.Addr - m.hex.have.req.addr
	if !m.hex.changed[off] || m.hex.changed[off+1] {
		t.Errorf("changed bytes = %v, want only byte %d", m.hex.changed, off)
	}

	// A pointer in buffer leads to counters; backspace comes back.
	f.poke(buffer.Addr, binary.LittleEndian.AppendUint32(nil, uint32(counters.Addr)))
	press(t, m, "o")
	if m.Title() != "memory · go to" || !m.Capturing() {
		t.Fatalf("go to prompt not open: %q", m.Title())
	}
	press(t, m, strings.Split("buffer+0", "")...)
	press(t, m, "enter")
	if m.hex.pos.cursor != buffer.Addr {
		t.Fatalf("cursor = %#x, want buffer %#x", m.hex.pos.cursor, buffer.Addr)
	}
	paneltest.WantText(t, plain(m), fmt.Sprintf("cursor 0x%08x = 0x%08x → counters", buffer.Addr, counters.Addr))
	memsaves := f.count("memsave")
	press(t, m, "enter")
	if m.hex.pos.cursor != counters.Addr || !m.hex.pos.virtual {
		t.Errorf("after following: %+v, want counters, virtual", m.hex.pos)
	}
	if f.count("memsave") <= memsaves {
		t.Error("a followed pointer was not read through the page tables")
	}
	press(t, m, "backspace")
	if m.hex.pos.cursor != buffer.Addr {
		t.Errorf("back: cursor %#x, want %#x", m.hex.pos.cursor, buffer.Addr)
	}

	// Moving: a word right, a page down and back up.
	press(t, m, "l")
	if m.hex.pos.cursor != buffer.Addr+4 {
		t.Errorf("l: cursor %#x", m.hex.pos.cursor)
	}
	addr := m.hex.pos.addr
	press(t, m, "pgdown")
	page := uint64(m.hexRows()) * m.hexPerLine()
	if m.hex.pos.addr != addr+page || m.hex.have.req.addr != addr+page {
		t.Errorf("pgdown: addr %#x (read %#x), want %#x", m.hex.pos.addr, m.hex.have.req.addr, addr+page)
	}
	if m.hex.have.req.size > maxHexRead {
		t.Errorf("read %d bytes, more than %d", m.hex.have.req.size, maxHexRead)
	}
	press(t, m, "pgup")
	if m.hex.pos.addr != addr {
		t.Errorf("pgup: addr %#x, want %#x", m.hex.pos.addr, addr)
	}
	press(t, m, "v")
	if !m.hex.pos.virtual {
		t.Error("v did not switch to virtual")
	}

	// Bad targets say why.
	press(t, m, "o", "n", "o", "p", "e", "enter")
	paneltest.WantText(t, plain(m), `no symbol "nope"`)
	// A VM that is gone leaves no bytes on screen.
	press(t, m, "esc")
	press(t, m, "o", "t", "i", "c", "k", "s", "enter")
	f.running = false
	tick(t, m, c, time.Second)
	if v := plain(m); !strings.Contains(v, "nothing to read: no VM running") || strings.Contains(v, "00102000  d2") {
		t.Errorf("hex bytes of a gone VM still show:\n%s", v)
	}
	f.running = true

	press(t, m, "esc")
	if m.mode != modeList || m.hex.open {
		t.Error("esc did not close the hex view")
	}
}

func TestParseTarget(t *testing.T) {
	f, tab := newFake(t)
	m := newClockedModel(f, &clock{epoch}, "")
	run(t, m, m.Init())
	ticks, _ := tab.Lookup("ticks")
	tests := []struct {
		in      string
		want    uint64
		virtual bool
		err     bool
	}{
		{"0x1000", 0x1000, true, false},
		{"1000", 0x1000, true, false},
		{"ticks", ticks.Addr, false, false},
		{"ticks+0x10", ticks.Addr + 16, false, false},
		{"ticks+16", ticks.Addr + 16, false, false},
		{"ticks+zz", 0, false, true},
		{"nope", 0, false, true},
	}
	for _, tt := range tests {
		p, err := m.parseTarget(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("parseTarget(%q) error %v", tt.in, err)
			continue
		}
		if !tt.err && (p.cursor != tt.want || p.virtual != tt.virtual) {
			t.Errorf("parseTarget(%q) = %#x virtual %v, want %#x %v", tt.in, p.cursor, p.virtual, tt.want, tt.virtual)
		}
	}
}

// suggestingInspector is a VM whose flavor suggests watches.
type suggestingInspector struct {
	*fakeInspector
	suggest []string
}

func (s suggestingInspector) SuggestWatches(*devloop.SymbolTable) []string { return s.suggest }

// rankTree is a kernel whose library variables come first by address and
// are smaller than the program's: the first list must still start with
// the flavor's suggestion, then the program's own.
var rankTree = map[string]string{
	".unikraft/unikraft/lib/ukalloc/stats.c": "struct alloc_stats { unsigned long cur, max; } alloc_stats_global;\nchar h_errno_like;\nint opterr_like;\n",
	"app/main.c":                             "volatile unsigned ticks;\nstruct stats { unsigned a, b, c; } stats;\nvoid _start(void) { for (;;) ticks++; }\n",
}

func TestMemViewFirstListRanking(t *testing.T) {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not installed")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "k.elf")
	// The library first on the command line: its variables get the lower
	// addresses.
	args := []string{"-g", "-O0", "-nostdlib", "-static", "-no-pie", "-o", out}
	for _, name := range []string{".unikraft/unikraft/lib/ukalloc/stats.c", "app/main.c"} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(rankTree[name]), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	if b, err := exec.Command(gcc, args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, b)
	}
	tests := []struct {
		name    string
		suggest []string
		want    string
	}{
		{"own before library", nil, "ticks,stats,h_errno_like,opterr_like,alloc_stats_global"},
		{"the flavor's first", []string{"alloc_stats_global", "no_such_symbol"}, "alloc_stats_global,ticks,stats,h_errno_like,opterr_like"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeInspector{info: devloop.VMInfo{Boot: 1, PID: 1, MemoryMiB: 64, Symbols: out}, running: true, ram: map[uint64]byte{}}
			var in panel.Inspector = f
			if tt.suggest != nil {
				in = suggestingInspector{f, tt.suggest}
			}
			m := newClockedModel(in, &clock{epoch}, "")
			m.SetSize(120, 40)
			run(t, m, m.Init())
			if got := strings.Join(rows(m), ","); got != tt.want {
				t.Errorf("first list = %s, want %s", got, tt.want)
			}
		})
	}
}

// The panel at the dashboard's usual sizes: the watch list with a value
// that changed, the browser, the hex view.
func TestMemViewScreens(t *testing.T) {
	for _, sz := range []struct{ w, h int }{{80, 24}, {120, 40}} {
		for _, screen := range []string{"list", "browser", "hex"} {
			t.Run(fmt.Sprintf("%s %dx%d", screen, sz.w, sz.h), func(t *testing.T) {
				f, tab := newFake(t)
				c := &clock{epoch}
				m := newClockedModel(f, c, "")
				m.SetSize(sz.w, sz.h)
				m.Focus(true)
				run(t, m, m.Init())
				ticks, _ := tab.Lookup("ticks")
				f.poke(ticks.Addr, binary.LittleEndian.AppendUint32(nil, 1244))
				tick(t, m, c, time.Second)
				switch screen {
				case "browser":
					press(t, m, "a", "c")
				case "hex":
					press(t, m, "j", "j", "enter")
					f.poke(ticks.Addr, binary.LittleEndian.AppendUint32(nil, 1254))
					tick(t, m, c, time.Second)
				}
				c.t = c.t.Add(400 * time.Millisecond)
				m.now = c.t
				paneltest.Golden(t, ansiStripSnapshot(t, m, sz.w, sz.h))
			})
		}
	}
}

// ansiStripSnapshot is paneltest.Snapshot without the styles.
func ansiStripSnapshot(t *testing.T, m *Model, w, h int) string {
	t.Helper()
	v := plain(m)
	paneltest.CheckSize(t, v, w, h)
	return "title: " + m.Title() + "\n" + v + "\n"
}

// Saves run as concurrent commands: the newest list wins whatever order
// they run in.
func TestSaveOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), watchFileName)
	s := &saver{}
	older := s.saveCmd(path, watchFile{Added: []string{"old"}})
	newer := s.saveCmd(path, watchFile{Added: []string{"new"}})
	newer()
	older()
	f, err := loadWatches(path)
	if err != nil || len(f.Added) != 1 || f.Added[0] != "new" {
		t.Errorf("saved %+v, %v; want the newer list", f, err)
	}
}
