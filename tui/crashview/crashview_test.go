package crashview

import (
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/tui/panel"
	"github.com/ukdev/ukdev/tui/panel/paneltest"
)

// fakeInspector plays a frozen machine: its registers, and memory that
// holds code at the PC and a stack.
type fakeInspector struct {
	mu    sync.Mutex
	info  devloop.VMInfo
	live  bool
	regs  devloop.Registers
	mem   map[uint64][]byte // region start → bytes
	reads []string
}

func (f *fakeInspector) Current() (devloop.VMInfo, bool) { return f.info, f.live }
func (f *fakeInspector) MemorySize(context.Context) (uint64, error) {
	return 0, errors.New("not asked by the view")
}
func (f *fakeInspector) BalloonStats(context.Context) (devloop.BalloonStats, error) {
	return devloop.BalloonStats{}, errors.New("not asked by the view")
}
func (f *fakeInspector) HostStats() (devloop.HostStats, error) {
	return devloop.HostStats{}, errors.New("not asked by the view")
}
func (f *fakeInspector) Registers(context.Context) (devloop.Registers, error) {
	if !f.live {
		return devloop.Registers{}, devloop.ErrNoVM
	}
	return f.regs, nil
}

// ReadMemory reads virtual memory from the fake's regions; a read that
// leaves them fails, as an unmapped page does.
func (f *fakeInspector) ReadMemory(_ context.Context, addr, size uint64, virtual bool) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads = append(f.reads, "read")
	if !virtual {
		return nil, errors.New("the view reads virtual addresses")
	}
	for start, b := range f.mem {
		if addr >= start && addr+size <= start+uint64(len(b)) {
			return slices.Clone(b[addr-start : addr-start+size]), nil
		}
	}
	return nil, errors.New("page not mapped")
}

// fakeCore records D.
type fakeCore struct {
	calls int
	err   error
}

func (f *fakeCore) DumpCore(context.Context) (devloop.CoreDump, error) {
	f.calls++
	if f.err != nil {
		return devloop.CoreDump{}, f.err
	}
	return devloop.CoreDump{Path: "/state/boots/boot-000003.core",
		GDB: []string{"gdb", "-q", "/run/images/build-000002/kernel", "-ex", "core-file /state/boots/boot-000003.core"}}, nil
}

// crashingMachine is a 64-bit guest frozen at an int3 at 0x1004, its
// stack at 0x8000 holding one code address.
func crashingMachine() *fakeInspector {
	stack := make([]byte, 1024)
	stack[8], stack[9] = 0x01, 0x10 // 0x1001
	return &fakeInspector{
		info: devloop.VMInfo{Boot: 3, Build: 2},
		live: true,
		regs: devloop.Registers{RIP: 0x1004, RSP: 0x8000, RAX: 0x2a, CR0: 0x80000011, EFER: 0x500},
		mem: map[uint64][]byte{
			// mov $0x2a,%eax; int3; ret; then nops
			0x1000: append([]byte{0xb8, 0x2a, 0x00, 0x00}, append([]byte{0xcc, 0xc3}, make([]byte, 200)...)...),
			0x8000: stack,
		},
	}
}

func newView(in panel.Inspector, core panel.CoreDumper) *Model {
	m := New(panel.Deps{Core: core}, in)
	m.SetSize(100, 60) // all of it shows
	return m
}

func events(es ...devloop.Event) panel.EventsMsg { return panel.EventsMsg(es) }

func crashEvents(boot int, reason string) panel.EventsMsg {
	return events(
		devloop.Event{Type: devloop.TypeVMStart, Boot: boot, Build: 2},
		devloop.Event{Type: devloop.TypeVMCrash, Boot: boot, Build: 2, Detail: "page fault at 0x0 in handler+0x4",
			Frames: []string{"handler+0x4 (/src/app/handler.c:42)", "0xffffffff80001234"}},
		devloop.Event{Type: devloop.TypeVMExit, Boot: boot, Build: 2, Reason: reason, Detail: "triple fault"},
	)
}

// update gives msg to m and runs the commands it returns until none is
// left, feeding their messages back (editorMsg and tea.ExecProcess are
// kept, not run).
func update(t *testing.T, m *Model, msg tea.Msg) []tea.Msg {
	t.Helper()
	var kept []tea.Msg
	queue := []tea.Msg{msg}
	for len(queue) > 0 {
		msg, queue = queue[0], queue[1:]
		_, cmd := m.Update(msg)
		if cmd == nil {
			continue
		}
		switch out := cmd().(type) {
		case nil:
		case editorMsg, editorDoneMsg:
			kept = append(kept, out)
			if _, ok := out.(editorDoneMsg); ok {
				queue = append(queue, out)
			}
		default:
			queue = append(queue, out)
		}
	}
	return kept
}

// A crash opens the view, which reads the frozen machine: the PC's
// instruction, the registers, the stack word that points into code,
// and the flavor's frames.
func TestOpensOnCrash(t *testing.T) {
	for _, reason := range []string{"crash", "panic"} {
		t.Run(reason, func(t *testing.T) {
			in := crashingMachine()
			m := newView(in, nil)
			update(t, m, crashEvents(3, reason))
			if !m.Active() || !m.Capturing() || !m.CanOpen() {
				t.Fatalf("the view did not open on a %s", reason)
			}
			paneltest.WantText(t, m.View(), "boot #3 "+reason+": triple fault", "report: page fault at 0x0",
				"PC 0000000000001004", "rax    000000000000002a", "→ 0000000000001004", "int3",
				"#0  handler+0x4 (/src/app/handler.c:42)", "D writes a core file")
		})
	}
}

// An exit, a stop, or a QEMU failure that leaves no machine opens
// nothing; a QEMU failure that leaves one (an accelerator's internal
// error) does.
func TestDoesNotOpen(t *testing.T) {
	for _, reason := range []string{"exit", "killed"} {
		m := newView(crashingMachine(), nil)
		update(t, m, events(devloop.Event{Type: devloop.TypeVMStart, Boot: 3},
			devloop.Event{Type: devloop.TypeVMExit, Boot: 3, Reason: reason}))
		if m.Active() || m.CanOpen() {
			t.Errorf("%s: the view opened", reason)
		}
	}
	gone := crashingMachine()
	gone.live = false
	m := newView(gone, nil)
	update(t, m, crashEvents(3, "qemu-error"))
	if m.Active() {
		t.Error("a QEMU error without a machine opened the view")
	}
	m = newView(crashingMachine(), nil)
	update(t, m, crashEvents(3, "qemu-error"))
	if !m.Active() {
		t.Error("a QEMU error that left the machine frozen did not open the view")
	}
}

// esc closes the view, Open reopens it while the crashed boot is the
// last; a new boot or a reset forgets it.
func TestCloseReopenForget(t *testing.T) {
	for _, next := range []devloop.EventType{devloop.TypeVMStart, devloop.TypeVMReset} {
		in := crashingMachine()
		m := newView(in, nil)
		update(t, m, crashEvents(3, "crash"))
		update(t, m, paneltest.Press("esc"))
		if m.Active() || !m.CanOpen() {
			t.Fatalf("after esc: active %v, can open %v", m.Active(), m.CanOpen())
		}
		reads := len(in.reads)
		update(t, m, tea.Msg(nil))
		if cmd := m.Open(); cmd == nil {
			t.Fatal("Open read nothing")
		} else {
			update(t, m, cmd())
		}
		if !m.Active() || len(in.reads) == reads {
			t.Errorf("Open: active %v, reads %d → %d", m.Active(), reads, len(in.reads))
		}
		update(t, m, events(devloop.Event{Type: next, Boot: 4}))
		if m.Active() || m.CanOpen() || m.Open() != nil {
			t.Errorf("after %s the view still shows the old crash", next)
		}
	}
}

// A snapshot of an older boot is dropped.
func TestOldSnapshotDropped(t *testing.T) {
	m := newView(crashingMachine(), nil)
	update(t, m, crashEvents(3, "crash"))
	update(t, m, snapshotMsg{boot: 2, regsErr: errors.New("old")})
	if strings.Contains(m.View(), "old") {
		t.Error("an older boot's snapshot replaced the current one")
	}
}

// D writes the core and shows where, and how gdb opens it; an error is
// shown as one.
func TestDumpCore(t *testing.T) {
	core := &fakeCore{}
	m := newView(crashingMachine(), core)
	update(t, m, crashEvents(3, "crash"))
	update(t, m, paneltest.Press("D"))
	if core.calls != 1 {
		t.Fatalf("DumpCore called %d times", core.calls)
	}
	paneltest.WantText(t, m.View(), "core: /state/boots/boot-000003.core",
		"gdb: gdb -q /run/images/build-000002/kernel -ex 'core-file /state/boots/boot-000003.core'")
	// At 80 columns the command wraps, and the view scrolls to it.
	m.SetSize(80, 24)
	update(t, m, paneltest.Press("D"))
	paneltest.WantText(t, m.View(), "gdb: gdb -q /run/images/build-000002/kernel -ex 'core-file /state/boots/",
		"     boot-000003.core'")

	core.err = errors.New("dump refused")
	update(t, m, paneltest.Press("D"))
	paneltest.WantText(t, m.View(), "core: dump refused")

	none := newView(crashingMachine(), nil)
	update(t, none, crashEvents(3, "crash"))
	update(t, none, paneltest.Press("D"))
	paneltest.WantText(t, none.View(), "this dashboard cannot write core files")
}

// j/k move between the rows that have a source line (the report's
// frame here); enter opens $EDITOR there, or says why it cannot.
func TestEnterOpensEditor(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "handler.c")
	if err := os.WriteFile(src, []byte("int x;\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := newView(crashingMachine(), nil)
	m.getenv = func(string) string { return "true" }
	events := crashEvents(3, "crash")
	events[1].Frames = []string{"0xffffffff80001234", "handler+0x4 (" + src + ":42)", "main+0x10 (/nonexistent/main.c:7)"}
	update(t, m, events)
	if len(m.targets()) != 2 {
		t.Fatalf("targets %+v, want the two frames with a line", m.targets())
	}
	kept := update(t, m, paneltest.Press("enter"))
	want := []string{"true", "+42", src}
	if len(kept) != 1 {
		t.Fatalf("enter gave %v", kept)
	}
	if em, ok := kept[0].(editorMsg); !ok || !slices.Equal(em.argv, want) {
		t.Errorf("enter gave %#v, want the editor at %v", kept[0], want)
	}

	update(t, m, paneltest.Press("j"))
	update(t, m, paneltest.Press("j")) // stays on the last
	kept = update(t, m, paneltest.Press("enter"))
	if len(kept) != 1 {
		t.Fatalf("enter gave %v", kept)
	}
	if _, ok := kept[0].(editorDoneMsg); !ok {
		t.Errorf("enter on a missing file gave %#v", kept[0])
	}
	paneltest.WantText(t, m.View(), "editor: open /nonexistent/main.c:7")
	update(t, m, paneltest.Press("k"))
	if m.sel != 0 {
		t.Errorf("k: selection %d, want 0", m.sel)
	}
}

// With the program's symbols, the PC and the stack words that point
// into code are named with their lines; the stack is read to the end of
// the stack pointer's page when the whole read would leave its mapping.
func TestReadSymbolised(t *testing.T) {
	_, syms := testELF(t)
	leaf, _ := syms.Lookup("leaf")
	caller, _ := syms.Lookup("caller")
	f, err := elf.Open(syms.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	text := f.Section(".text")
	code, err := text.Data()
	if err != nil {
		t.Fatal(err)
	}
	const stackBase = 0x7000
	stack := make([]byte, 4096)
	sp := uint64(stackBase + 4096 - 64)
	binary.LittleEndian.PutUint64(stack[4096-64+16:], caller.Addr+caller.Size-1)
	in := &fakeInspector{
		info: devloop.VMInfo{Boot: 3, Symbols: syms.Path()},
		live: true,
		regs: devloop.Registers{RIP: leaf.Addr + 4, RSP: sp, CR0: 0x80000011, EFER: 0x500},
		// The code's page goes on past .text.
		mem: map[uint64][]byte{text.Addr: append(code, make([]byte, 4096)...), stackBase: stack},
	}
	s := read(t.Context(), in, 3)
	if s.regsErr != nil || s.symErr != nil || s.codeErr != nil || s.stackErr != nil {
		t.Fatalf("read: %+v", s)
	}
	if got := s.pc.String(); got != "leaf+0x4 (prog.c:1)" {
		t.Errorf("PC at %q", got)
	}
	var pcLine *codeLine
	for i := range s.code {
		if s.code[i].pc {
			pcLine = &s.code[i]
		}
	}
	if pcLine == nil || pcLine.addr != leaf.Addr+4 || pcLine.at != "leaf+0x4" || len(s.code) < 3 {
		t.Errorf("code %+v", s.code)
	}
	if len(s.stack) != 1 || s.stack[0].off != 16 || s.stack[0].loc.fn != "caller" || s.stack[0].loc.line != 2 {
		t.Errorf("stack %+v, want caller's return address at sp+0x10", s.stack)
	}

	in.info.Boot = 4
	if s := read(t.Context(), in, 3); s.live || s.regsErr == nil {
		t.Errorf("a replaced machine was read: %+v", s)
	}
}

// snapshotView is a view of a fixed snapshot, for golden tests: a 64-bit
// kernel frozen in a page fault, with the flavor's report.
func snapshotView(t *testing.T, w, h int) *Model {
	t.Helper()
	m := New(panel.Deps{}, nil)
	m.SetSize(w, h)
	m.crash = crashed{boot: 3, build: 2, reason: "crash", detail: "Unikraft crashed (QEMU status 85)",
		summary: "page fault at 0x10 in handler+0x4 (handler.c:42)", ended: true,
		frames: []string{"handler+0x4 (/src/app/handler.c:42)", "serve+0x2f (/src/app/server.c:118)", "0xffffffff80001234"}}
	m.open = true
	loc := func(fn string, off uint64, file string, line int) symLoc {
		return symLoc{fn: fn, off: off, file: file, line: line}
	}
	m.snap = &snapshot{boot: 3, live: true, mode: 64,
		regs: devloop.Registers{RAX: 0x10, RBX: 0x1, RCX: 0x7f, RSP: 0x3ffe00, RBP: 0x3ffe40, RIP: 0x10a234,
			RFLAGS: 0x246, CR0: 0x80010033, CR2: 0x10, CR3: 0x200000, CR4: 0x20, EFER: 0x500},
		pc: loc("handler", 0x4, "/src/app/handler.c", 42),
		code: []codeLine{
			{addr: 0x10a230, at: "handler", text: "push %rbp"},
			{addr: 0x10a231, at: "handler+0x1", text: "mov %rsp,%rbp"},
			{addr: 0x10a234, at: "handler+0x4", text: "mov (%rax),%eax", pc: true},
			{addr: 0x10a236, at: "handler+0x6", text: "pop %rbp"},
			{addr: 0x10a237, at: "handler+0x7", text: "ret"},
		},
		stack: []stackWord{
			{off: 0x8, value: 0x10b56f, loc: loc("serve", 0x2f, "/src/app/server.c", 118)},
			{off: 0x28, value: 0x10c010, loc: loc("main", 0x10, "/src/app/main.c", 9)},
		},
	}
	return m
}

func TestViewGolden(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		w, h := size[0], size[1]
		t.Run(fmt.Sprintf("frozen-%dx%d", w, h), func(t *testing.T) {
			paneltest.Golden(t, paneltest.Snapshot(t, snapshotView(t, w, h), w, h))
		})
		t.Run(fmt.Sprintf("core-%dx%d", w, h), func(t *testing.T) {
			m := snapshotView(t, w, h)
			m.core = &devloop.CoreDump{Path: "/home/u/.local/state/ukdev/app-1234/boots/boot-000003.core",
				GDB: []string{"gdb", "-q", "/run/user/1000/ukdev/app-1234/images/build-000002/kernel.dbg",
					"-ex", "core-file /home/u/.local/state/ukdev/app-1234/boots/boot-000003.core"}}
			m.scrollToEnd()
			paneltest.Golden(t, paneltest.Snapshot(t, m, w, h))
		})
	}
	t.Run("gone-80x24", func(t *testing.T) {
		m := snapshotView(t, 80, 24)
		m.snap = &snapshot{boot: 3, regsErr: errors.New("the machine of boot #3 is gone")}
		paneltest.Golden(t, paneltest.Snapshot(t, m, 80, 24))
	})
}

// pgdown and pgup scroll a view taller than the screen; j/k scroll to
// the frame they select.
func TestScroll(t *testing.T) {
	m := snapshotView(t, 80, 24)
	if strings.Contains(m.View(), "Report frames") {
		t.Fatal("the report frames fit already")
	}
	update(t, m, paneltest.Press("pgdown"))
	paneltest.WantText(t, m.View(), "Report frames", "#1  serve+0x2f")
	update(t, m, paneltest.Press("pgup"))
	paneltest.WantText(t, m.View(), "Registers")
	// PC, two stack words, then the report's frames: the fifth row with
	// a line is the report's second frame.
	for range 4 {
		update(t, m, paneltest.Press("j"))
	}
	if tg := m.targets()[m.sel]; tg.file != "/src/app/server.c" || tg.line != 118 {
		t.Errorf("selected %+v, want the report's second frame", tg)
	}
	paneltest.WantText(t, m.View(), "#1  serve+0x2f (/src/app/server.c:118)")
	for range 4 {
		update(t, m, paneltest.Press("k"))
	}
	paneltest.WantText(t, m.View(), "PC 000000000010a234")
}
