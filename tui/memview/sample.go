package memview

import (
	"context"
	"errors"
	"sort"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/tui/panel"
)

// sampleTimeout bounds one refresh: every QMP round trip and file read.
const sampleTimeout = 2 * time.Second

// errProcessSymbols says why a Linux program's variables are not shown:
// its addresses are mapped only while it runs, and QMP reads through the
// page tables of whatever the vCPU runs (the kernel, when idle).
var errProcessSymbols = errors.New("a process's virtual address: not readable from the host while the guest kernel schedules it")

// defaultSymbols is how many data objects are shown when the user has
// chosen none.
const defaultSymbols = 20

// Read limits: a struct is read whole up to maxStructRead (fields past it
// show "…"); anything else that is not a scalar shows its first
// dumpBytes bytes.
const (
	maxStructRead = 4096
	dumpBytes     = 64
	// maxSpan bounds one pmemsave: nearby variables are read together.
	maxSpan = 64 << 10
)

// sampleMsg is the result of one refresh.
type sampleMsg struct {
	at      time.Time
	running bool
	info    devloop.VMInfo

	// table is the symbol table for info.Symbols (reused or loaded).
	table    *devloop.SymbolTable
	tableErr error
	// defaults and entries are table's first watch list and browser
	// index (computed when it was loaded).
	defaults []string
	entries  []browseEntry
	// goReader reads table's Go runtime statistics (nil: not a Go
	// program); goStats is what it read, goErr why it could not.
	goReader *devloop.GoRuntimeReader
	goStats  devloop.GoStats
	goErr    error

	ramBytes uint64
	ramErr   error
	host     devloop.HostStats
	hostErr  error
	balloon  balloonState
	vars     []varValue
	known    vmKnown
	hex      hexResult
}

// vmKnown is what one sample learns about a boot that later samples need
// not ask again.
type vmKnown struct {
	boot     int
	ramBytes uint64
}

// balloonState is what the balloon device and the guest's stats say.
type balloonState struct {
	present bool
	actual  uint64
	// stats are the guest-reported values (bytes or counts), sorted by
	// name, only those the guest reports.
	stats []devloop.BalloonStat
	// updated is when the guest last reported (zero: never).
	updated time.Time
	err     error
}

// varValue is one watched symbol's value.
type varValue struct {
	name string
	v    devloop.Variable
	// phys is the address read; virtual is set when it had to be read
	// through the vCPU's page tables (no ELF segment maps it).
	phys    uint64
	virtual bool
	data    []byte
	err     error
}

// request is what Update hands a refresh: copies, never shared state.
type request struct {
	table    *devloop.SymbolTable
	defaults []string
	goReader *devloop.GoRuntimeReader
	// suggest is the flavor's suggestions (nil: none).
	suggest func(*devloop.SymbolTable) []string
	hex     hexRequest
	added   []string
	removed map[string]bool
	known   vmKnown
	// procStats reads QEMU's /proc entries (Inspector.HostStats; tests
	// fake it).
	procStats func() (devloop.HostStats, error)
}

// sampleCmd refreshes everything the panel shows. It runs outside Update
// and may block up to sampleTimeout.
func sampleCmd(ctx context.Context, in panel.Inspector, now func() time.Time, req request) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, sampleTimeout)
		defer cancel()
		return sample(ctx, in, now, req)
	}
}

func sample(ctx context.Context, in panel.Inspector, now func() time.Time, req request) sampleMsg {
	info, ok := in.Current()
	if !ok {
		return sampleMsg{at: now(), table: req.table}
	}
	msg := sampleMsg{running: true, info: info, table: req.table}
	known := req.known
	if known.boot != info.Boot {
		known = vmKnown{boot: info.Boot}
	}

	if info.Symbols == "" {
		msg.table = nil
	} else if msg.table == nil || msg.table.Path() != info.Symbols {
		msg.table, msg.tableErr = devloop.LoadSymbols(info.Symbols)
	}
	msg.defaults, msg.goReader = req.defaults, req.goReader
	if msg.table != req.table {
		msg.defaults, msg.entries, msg.goReader = nil, nil, nil
		if msg.table != nil {
			msg.defaults, msg.entries = firstList(msg.table, req.suggest)
			msg.goReader, _ = devloop.NewGoRuntimeReader(msg.table) // nil: not a Go program
		}
	}

	msg.host, msg.hostErr = req.procStats()

	switch {
	case known.ramBytes != 0:
		msg.ramBytes = known.ramBytes
	case info.MemoryMiB > 0:
		msg.ramBytes = uint64(info.MemoryMiB) << 20
	default:
		msg.ramBytes, msg.ramErr = in.MemorySize(ctx)
	}
	known.ramBytes = msg.ramBytes

	msg.balloon = readBalloon(ctx, in)

	if msg.table != nil {
		msg.vars = readVariables(ctx, in, msg.table, info.SymbolSpace, watchNames(msg.defaults, req.added, req.removed))
	}
	if msg.goReader != nil {
		msg.goStats, msg.goErr = devloop.ReadGoRuntime(ctx, msg.goReader, msg.table, info.SymbolSpace, in.ReadMemory)
	}
	msg.hex = readHex(ctx, in, info.SymbolSpace, req.hex)
	msg.known = known
	msg.at = now()
	return msg
}

// firstList returns the first watch list of t, up to defaultSymbols: the
// flavor's suggestions, then the program's own data objects before the
// libraries' (never merely the first by address); and the browser's
// index of every data symbol, ranked the same way.
func firstList(t *devloop.SymbolTable, suggest func(*devloop.SymbolTable) []string) ([]string, []browseEntry) {
	origins, _ := t.Origins() // without them: unknown origin, DataObjects' order
	var names []string
	seen := make(map[string]bool)
	addName := func(n string) {
		if !seen[n] && len(names) < defaultSymbols {
			names = append(names, n)
			seen[n] = true
		}
	}
	if suggest != nil {
		for _, n := range suggest(t) {
			if _, ok := t.Lookup(n); ok {
				addName(n)
			}
		}
	}
	ranked := t.RankData(origins)
	for _, s := range ranked {
		addName(s.Name)
	}
	return names, browseIndex(t, ranked)
}

// watchNames is the list of symbols shown: the first list less what the
// user removed, then the ones the user added.
func watchNames(defaults, added []string, removed map[string]bool) []string {
	var names []string
	seen := make(map[string]bool)
	for _, n := range defaults {
		if !removed[n] && !seen[n] {
			names = append(names, n)
			seen[n] = true
		}
	}
	for _, n := range added {
		if !removed[n] && !seen[n] {
			names = append(names, n)
			seen[n] = true
		}
	}
	return names
}

// readLen is how many bytes of v are read.
func readLen(v devloop.Variable) uint64 {
	if len(v.Fields) == 1 && v.Fields[0].Encoding == devloop.EncBytes {
		return min(v.Size, dumpBytes)
	}
	return min(v.Size, maxStructRead)
}

// readVariables reads the named variables' bytes from guest memory. Nearby
// variables share one pmemsave; each variable carries its own error.
//
// space says how the addresses reach guest memory: physical (identity-
// mapped kernels: through the ELF's load segments), virtual (memsave
// through the vCPU's page tables) or none (not readable from the host).
func readVariables(ctx context.Context, in panel.Inspector, t *devloop.SymbolTable, space string, names []string) []varValue {
	vals := make([]varValue, len(names))
	type want struct {
		i      int
		addr   uint64
		length uint64
	}
	var phys, virt []want
	for i, name := range names {
		vals[i].name = name
		v, err := t.Variable(name)
		if err != nil {
			vals[i].err = err
			continue
		}
		vals[i].v = v
		n := readLen(v)
		if n == 0 {
			continue
		}
		if space == devloop.SpaceNone {
			vals[i].err = errProcessSymbols
			continue
		}
		addr, virtual := devloop.GuestAddress(t, space, v.Addr)
		vals[i].phys, vals[i].virtual = addr, virtual
		if virtual {
			virt = append(virt, want{i, addr, n})
		} else {
			phys = append(phys, want{i, addr, n})
		}
	}
	read := func(ws []want, virtual bool) {
		sort.Slice(ws, func(a, b int) bool { return ws[a].addr < ws[b].addr })
		for start := 0; start < len(ws); {
			lo, hi := ws[start].addr, ws[start].addr+ws[start].length
			end := start + 1
			for end < len(ws) && ws[end].addr+ws[end].length-lo <= maxSpan {
				hi = max(hi, ws[end].addr+ws[end].length)
				end++
			}
			data, err := readGuest(ctx, in, lo, hi-lo, virtual)
			for _, w := range ws[start:end] {
				if err != nil {
					vals[w.i].err = err
					continue
				}
				off := w.addr - lo
				vals[w.i].data = data[off : off+w.length]
			}
			start = end
		}
	}
	read(phys, false)
	read(virt, true)
	return vals
}

// readGuest reads size bytes of guest memory at addr, physical or
// (virtual) through the vCPU's page tables.
func readGuest(ctx context.Context, in panel.Inspector, addr, size uint64, virtual bool) ([]byte, error) {
	return in.ReadMemory(ctx, addr, size, virtual)
}

// readBalloon asks for the balloon's size and, once the guest reports
// them, its memory statistics. No balloon device is not an error.
func readBalloon(ctx context.Context, in panel.Inspector) balloonState {
	b, err := in.BalloonStats(ctx)
	return balloonState{present: b.Present, actual: b.ActualBytes, stats: b.Guest, updated: b.Updated, err: err}
}
