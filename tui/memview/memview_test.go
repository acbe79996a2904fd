package memview

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/tui/panel"
	"github.com/ukdev/ukdev/tui/panel/paneltest"
)

// guestSource is a 32-bit freestanding kernel-like program: globals at
// fixed addresses, as in a kernel without paging.
const guestSource = `#include <stdint.h>
struct counters { uint32_t hits; int16_t delta; uint8_t flags; char tag[6]; };
volatile uint32_t ticks;
struct counters counters;
int64_t balance;
unsigned char buffer[80];
void _start(void) { for (;;) { ticks++; counters.hits++; balance--; buffer[0]++; } }
`

// guestELF builds guestSource.
func guestELF(t *testing.T) string {
	t.Helper()
	return buildGuest(t, guestSource)
}

// buildGuest builds the C source src as a 32-bit kernel-like ELF with its
// text at 0x100000, skipping the test without a compiler that can.
func buildGuest(t *testing.T, src string) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not installed")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "guest.c")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "guest.elf")
	cmd := exec.Command(gcc, "-g", "-O0", "-m32", "-ffreestanding", "-fno-pic", "-nostdlib", "-static", "-no-pie",
		"-Wl,--build-id=none", "-Wl,-Ttext=0x100000", "-o", out, file)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("cannot build a 32-bit ELF: %v\n%s", err, b)
	}
	return out
}

// fakeInspector plays a VM: scripted answers about its memory and
// balloon, and guest RAM that ReadMemory reads.
type fakeInspector struct {
	mu      sync.Mutex
	info    devloop.VMInfo
	running bool
	ram     map[uint64]byte
	memSize uint64
	balloon devloop.BalloonStats
	errs    map[string]error // method or QMP command → error
	calls   []string
	onRead  func() // called on each memory read, while it runs
}

func (f *fakeInspector) Registers(context.Context) (devloop.Registers, error) {
	return devloop.Registers{}, errors.New("the panel reads no registers")
}

func (f *fakeInspector) HostStats() (devloop.HostStats, error) {
	return devloop.HostStats{}, errors.New("the tests script host stats")
}

func (f *fakeInspector) Current() (devloop.VMInfo, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.info, f.running
}

func (f *fakeInspector) MemorySize(context.Context) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "MemorySize")
	return f.memSize, f.errs["MemorySize"]
}

func (f *fakeInspector) BalloonStats(context.Context) (devloop.BalloonStats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "BalloonStats")
	return f.balloon, f.errs["BalloonStats"]
}

// ReadMemory reads the fake's RAM, counted as the QMP command a VM runs
// for it (pmemsave, or memsave for a virtual address).
func (f *fakeInspector) ReadMemory(_ context.Context, addr, size uint64, virtual bool) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cmd := "pmemsave"
	if virtual {
		cmd = "memsave"
	}
	f.calls = append(f.calls, cmd)
	if f.onRead != nil {
		f.onRead()
	}
	if err := f.errs[cmd]; err != nil {
		return nil, err
	}
	buf := make([]byte, size)
	for i := range buf {
		buf[i] = f.ram[addr+uint64(i)]
	}
	return buf, nil
}

func (f *fakeInspector) count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c == name {
			n++
		}
	}
	return n
}

// poke writes v little-endian at addr.
func (f *fakeInspector) poke(addr uint64, b []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, c := range b {
		f.ram[addr+uint64(i)] = c
	}
}

var epoch = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// newFake returns a VM running guestELF with known values in memory.
func newFake(t *testing.T) (*fakeInspector, *devloop.SymbolTable) {
	t.Helper()
	path := guestELF(t)
	tab, err := devloop.LoadSymbols(path)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeInspector{
		info:    devloop.VMInfo{Boot: 3, Build: 3, PID: 4242, Machine: "microvm", Accel: "tcg", MemoryMiB: 64, Symbols: path},
		running: true,
		ram:     make(map[uint64]byte),
	}
	le := binary.LittleEndian
	sym := func(name string) uint64 {
		s, ok := tab.Lookup(name)
		if !ok {
			t.Fatalf("no %s in the test guest", name)
		}
		return s.Addr
	}
	f.poke(sym("ticks"), le.AppendUint32(nil, 1234))
	c := sym("counters")
	f.poke(c, le.AppendUint32(nil, 7))
	f.poke(c+4, le.AppendUint16(nil, 0xfffe)) // -2
	f.poke(c+6, []byte{0x81})
	f.poke(c+7, []byte("ukdev\x00"))
	f.poke(sym("balance"), le.AppendUint64(nil, 1<<40))
	buf := make([]byte, 80)
	for i := range buf {
		buf[i] = byte('A' + i%26)
	}
	f.poke(sym("buffer"), buf)
	return f, tab
}

func fakeStats(pid int) (devloop.HostStats, error) {
	return devloop.HostStats{PID: pid, RSSBytes: 41 << 20, PeakRSSBytes: 45 << 20, Threads: 5}, nil
}

func newModel(in panel.Inspector) *Model {
	d := panel.Deps{Styles: panel.NewStyles(false), Now: func() time.Time { return epoch }, Context: context.Background()}
	m := New(d, in)
	m.procStats = func() (devloop.HostStats, error) {
		info, _ := in.Current()
		return fakeStats(info.PID)
	}
	return m
}

// drive feeds msg to m and runs the commands it returns, feeding back
// samples, until none is left.
func drive(t *testing.T, m *Model, msg tea.Msg) {
	t.Helper()
	_, cmd := m.Update(msg)
	for cmd != nil {
		out := cmd()
		s, ok := out.(sampleMsg)
		if !ok {
			return
		}
		_, cmd = m.Update(s)
	}
}

func refresh(t *testing.T, m *Model) {
	t.Helper()
	drive(t, m, panel.TickMsg(epoch.Add(400*time.Millisecond)))
}

func plain(m *Model) string { return ansi.Strip(m.View()) }

func TestMemViewGolden(t *testing.T) {
	sizes := []struct{ w, h int }{{100, 30}, {56, 12}}
	for _, sz := range sizes {
		t.Run(fmt.Sprintf("%dx%d", sz.w, sz.h), func(t *testing.T) {
			f, _ := newFake(t)
			m := newModel(f)
			m.SetSize(sz.w, sz.h)
			drive(t, m, nil)
			refresh(t, m)
			v := plain(m)
			paneltest.CheckSize(t, v, sz.w, sz.h)
			paneltest.Golden(t, v)
		})
	}
}

func TestMemViewNoVM(t *testing.T) {
	m := newModel(&fakeInspector{})
	m.SetSize(40, 3)
	refresh(t, m)
	v := plain(m)
	paneltest.CheckSize(t, v, 40, 3)
	if !strings.HasPrefix(v, "no VM running") {
		t.Errorf("view = %q", v)
	}
}

func TestMemViewValues(t *testing.T) {
	f, _ := newFake(t)
	m := newModel(f)
	m.SetSize(120, 40)
	refresh(t, m)
	v := plain(m)
	paneltest.WantText(t, v,
		"boot 3 · pid 4242 · sampled 0.4s ago",
		"guest RAM 64.0 MiB · QEMU RSS 41.0 MiB (peak 45.0 MiB) · 5 threads",
		"balloon: no balloon device",
		"symbols: guest.elf · 4 watched",
		"volatile uint32_t  1234 (0x4d2)",
		"int64_t  1099511627776 (0x10000000000)",
		".delta +4     -2 (0xfffe)",
		".flags +6     129 (0x81)",
		`.tag   +7     "ukdev"`,
		"|ABCDEFGHIJKLMNOP|",
		"80 B (first 64 shown)",
	)
	// Four variables close together: one pmemsave.
	if n := f.count("pmemsave"); n != 1 {
		t.Errorf("pmemsave ran %d times, want 1", n)
	}
	f.poke(mustAddr(t, m, "ticks"), binary.LittleEndian.AppendUint32(nil, 1300))
	refresh(t, m)
	if v := plain(m); !strings.Contains(v, "1300 (0x514)") {
		t.Errorf("ticks did not refresh:\n%s", v)
	}
}

func mustAddr(t *testing.T, m *Model, name string) uint64 {
	t.Helper()
	s, ok := m.table.Lookup(name)
	if !ok {
		t.Fatalf("no %s", name)
	}
	return s.Addr
}

func TestMemViewReadError(t *testing.T) {
	f, _ := newFake(t)
	f.errs = map[string]error{"pmemsave": errors.New("vm: qmp pmemsave: GenericError: Could not open 'x'")}
	m := newModel(f)
	m.SetSize(120, 20)
	refresh(t, m)
	if v := plain(m); !strings.Contains(v, "Could not open 'x'") {
		t.Errorf("error not shown inline:\n%s", v)
	}
}

func TestMemViewBalloon(t *testing.T) {
	f, _ := newFake(t)
	f.balloon = devloop.BalloonStats{
		Present:     true,
		ActualBytes: 64 << 20,
		Guest:       []devloop.BalloonStat{{Name: "free-memory", Value: 1 << 20}, {Name: "major-faults", Value: 3}, {Name: "total-memory", Value: 60 << 20}},
		Updated:     time.Unix(1700000000, 0),
	}
	m := newModel(f)
	m.SetSize(160, 20)
	refresh(t, m)
	refresh(t, m)
	paneltest.WantText(t, plain(m), "balloon: 64.0 MiB · free-memory 1.0 MiB · major-faults 3 · total-memory 60.0 MiB")
}

// Without a configured size the guest's RAM is asked of the VM, once per
// boot.
func TestMemViewMemorySize(t *testing.T) {
	f, _ := newFake(t)
	f.info.MemoryMiB = 0
	f.memSize = 96 << 20
	m := newModel(f)
	m.SetSize(120, 20)
	refresh(t, m)
	refresh(t, m)
	paneltest.WantText(t, plain(m), "guest RAM 96.0 MiB")
	if n := f.count("MemorySize"); n != 1 {
		t.Errorf("MemorySize asked %d times over two samples, want once", n)
	}
}

func TestMemViewKeys(t *testing.T) {
	tests := []struct {
		name          string
		keys          []string
		wantCapturing bool
		wantRows      []string
		wantNotice    string
	}{
		{name: "nothing", wantRows: []string{"ticks", "balance", "counters", "buffer"}},
		{name: "remove the first", keys: []string{"x"}, wantRows: []string{"balance", "counters", "buffer"}},
		{name: "remove the second", keys: []string{"j", "x"}, wantRows: []string{"ticks", "counters", "buffer"}},
		{name: "prompt open", keys: []string{"a", "t"}, wantCapturing: true, wantRows: []string{"ticks", "balance", "counters", "buffer"}},
		{name: "prompt cancelled", keys: []string{"a", "x", "esc"}, wantRows: []string{"ticks", "balance", "counters", "buffer"}},
		{name: "remove then add back", keys: []string{"x", "a", "t", "i", "c", "k", "s", "enter"}, wantRows: []string{"ticks", "balance", "counters", "buffer"}},
		{name: "unknown symbol", keys: []string{"a", "n", "o", "enter"}, wantNotice: `no symbol "no" in guest.elf`,
			wantRows: []string{"ticks", "balance", "counters", "buffer"}},
		{name: "a function", keys: []string{"a", "_", "s", "t", "a", "r", "t", "enter"}, wantRows: []string{"ticks", "balance", "counters", "buffer", "_start"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _ := newFake(t)
			m := newModel(f)
			m.SetSize(100, 40)
			m.Focus(true)
			refresh(t, m)
			for _, k := range tt.keys {
				drive(t, m, paneltest.Press(k))
			}
			refresh(t, m)
			if m.Capturing() != tt.wantCapturing {
				t.Errorf("Capturing = %v", m.Capturing())
			}
			var rows []string
			for _, v := range m.snap.vars {
				rows = append(rows, v.name)
			}
			if strings.Join(rows, ",") != strings.Join(tt.wantRows, ",") {
				t.Errorf("rows = %v, want %v", rows, tt.wantRows)
			}
			if m.notice != tt.wantNotice {
				t.Errorf("notice = %q, want %q", m.notice, tt.wantNotice)
			}
		})
	}
}

func TestMemViewOneRefreshAtATime(t *testing.T) {
	f, _ := newFake(t)
	m := newModel(f)
	_, first := m.Update(panel.TickMsg(epoch))
	_, second := m.Update(panel.TickMsg(epoch.Add(time.Second)))
	if first == nil || second != nil {
		t.Fatalf("ticks while a refresh runs: first %v, second %v; want one command", first != nil, second != nil)
	}
	// A change meanwhile asks for another refresh when this one returns.
	m.add("ticks")
	_, again := m.Update(first())
	if again == nil {
		t.Error("no second refresh after a change during the first")
	}
}

func TestFormatField(t *testing.T) {
	le := binary.LittleEndian
	tests := []struct {
		name string
		f    devloop.Field
		data []byte
		want string
	}{
		{"u8", devloop.Field{Size: 1, Encoding: devloop.EncUnsigned}, []byte{200}, "200 (0xc8)"},
		{"u16 at offset", devloop.Field{Offset: 2, Size: 2, Encoding: devloop.EncUnsigned}, []byte{0, 0, 0x34, 0x12}, "4660 (0x1234)"},
		{"u32", devloop.Field{Size: 4, Encoding: devloop.EncUnsigned}, le.AppendUint32(nil, 1234), "1234 (0x4d2)"},
		{"s32 negative", devloop.Field{Size: 4, Encoding: devloop.EncSigned}, le.AppendUint32(nil, 0xffffffff), "-1 (0xffffffff)"},
		{"s64", devloop.Field{Size: 8, Encoding: devloop.EncSigned}, le.AppendUint64(nil, 42), "42 (0x2a)"},
		{"bool", devloop.Field{Size: 1, Encoding: devloop.EncBool}, []byte{1}, "true"},
		{"pointer", devloop.Field{Size: 4, Encoding: devloop.EncPointer}, le.AppendUint32(nil, 0x1052a0), "0x001052a0"},
		{"float32", devloop.Field{Size: 4, Encoding: devloop.EncFloat}, le.AppendUint32(nil, 0x3fc00000), "1.5"},
		{"float64", devloop.Field{Size: 8, Encoding: devloop.EncFloat}, le.AppendUint64(nil, 0x4004000000000000), "2.5"},
		{"bit field", devloop.Field{Size: 4, Encoding: devloop.EncUnsigned, BitOffset: 3, BitSize: 5}, le.AppendUint32(nil, 0b10110_101), "22 (0x16)"},
		{"signed bit field", devloop.Field{Size: 4, Encoding: devloop.EncSigned, BitOffset: 0, BitSize: 3}, le.AppendUint32(nil, 0b111), "-1 (0x7)"},
		{"bytes", devloop.Field{Size: 4, Encoding: devloop.EncBytes}, []byte("hi\x00\x1b"), "68 69 00 1b  |hi..|"},
		{"long bytes", devloop.Field{Size: 18, Encoding: devloop.EncBytes}, []byte("abcdefghijklmnopqr"),
			"61 62 63 64 65 66 67 68 69 6a 6b 6c 6d 6e 6f 70 …  |abcdefghijklmnop|"},
		{"not read", devloop.Field{Offset: 4, Size: 4, Encoding: devloop.EncUnsigned}, []byte{1, 2, 3, 4}, "…"},
		{"odd size", devloop.Field{Size: 3, Encoding: devloop.EncUnsigned}, []byte{1, 2, 3}, "01 02 03  |...|"},
		{"empty", devloop.Field{Size: 0}, nil, "(empty)"},
		{"c string", devloop.Field{Size: 8, Encoding: devloop.EncCString}, []byte("hi\x1b\x00junk"), `"hi\x1b"`},
		{"c string without NUL", devloop.Field{Size: 3, Encoding: devloop.EncCString}, []byte("abc"), `"abc"`},
		{"enum", devloop.Field{Size: 4, Encoding: devloop.EncUnsigned, Enum: []devloop.Enumerator{{Name: "RED", Value: 0}, {Name: "BLUE", Value: 2}}},
			le.AppendUint32(nil, 2), "BLUE (2)"},
		{"signed enum unnamed", devloop.Field{Size: 4, Encoding: devloop.EncSigned, Enum: []devloop.Enumerator{{Name: "NEG", Value: -1}}},
			le.AppendUint32(nil, 0xfffffffe), "-2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := formatField(tt.f, tt.data, le, nil); got != tt.want {
				t.Errorf("formatField = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestHexDump(t *testing.T) {
	got := hexDump(0x1000, []byte("ABCDEFGHIJ\x00\x7f"), 8)
	want := []string{
		"00001000  41 42 43 44 45 46 47 48  |ABCDEFGH|",
		"00001008  49 4a 00 7f              |IJ..|",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("hexDump:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestFormatAge(t *testing.T) {
	ages := []struct {
		d    time.Duration
		want string
	}{{-time.Second, "0.0s"}, {400 * time.Millisecond, "0.4s"}, {42 * time.Second, "42s"}, {125 * time.Second, "2m05s"}}
	for _, tt := range ages {
		if got := formatAge(tt.d); got != tt.want {
			t.Errorf("formatAge(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

// The flavor says how symbol addresses reach guest memory: Nanos maps its
// program on the one page table (memsave, virtual), a Linux process is not
// readable from the host (no read, a reason instead).
func TestMemViewSymbolSpace(t *testing.T) {
	tests := []struct {
		space     string
		wantCmd   string
		wantShown string
	}{
		{devloop.SpacePhysical, "pmemsave", "1234 (0x4d2)"},
		{devloop.SpaceVirtual, "memsave", "1234 (0x4d2)"},
		{devloop.SpaceNone, "", "symbols: guest.elf · a process's virtual address: not readable from the host"},
	}
	for _, tt := range tests {
		t.Run("space "+tt.space, func(t *testing.T) {
			f, _ := newFake(t)
			f.info.SymbolSpace = tt.space
			m := newModel(f)
			m.SetSize(140, 20)
			refresh(t, m)
			paneltest.WantText(t, plain(m), tt.wantShown)
			for _, cmd := range []string{"pmemsave", "memsave"} {
				want := 0
				if cmd == tt.wantCmd {
					want = 1
				}
				if n := f.count(cmd); n != want {
					t.Errorf("%s ran %d times, want %d", cmd, n, want)
				}
			}
		})
	}
}
