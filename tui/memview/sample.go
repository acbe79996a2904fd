package memview

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/kernel"
	"github.com/ukdev/ukdev/tui/panel"
	"github.com/ukdev/ukdev/vm"
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

// guestStatsInterval is the balloon's stats polling period, in seconds,
// set once per boot when the guest has a balloon.
const guestStatsInterval = 2

// sampleMsg is the result of one refresh.
type sampleMsg struct {
	at      time.Time
	running bool
	info    devloop.VMInfo

	// table is the symbol table for info.Symbols (reused or loaded).
	table    *kernel.SymbolTable
	tableErr error

	ramBytes uint64
	ramErr   error
	host     vm.Stats
	hostErr  error
	balloon  balloonState
	vars     []varValue
	known    vmKnown
}

// vmKnown is what one sample learns about a boot that later samples need
// not ask again.
type vmKnown struct {
	boot     int
	ramBytes uint64
	// balloonPath is the balloon's QOM path once found; pollingSet is
	// true once stats polling was enabled on it.
	balloonPath string
	pollingSet  bool
	// balloonSearched is true once the QOM tree was searched, found or not.
	balloonSearched bool
}

// balloonState is what query-balloon and the guest's stats say.
type balloonState struct {
	present bool
	actual  uint64
	// stats are the guest-reported values (bytes or counts), by QEMU's
	// name without "stat-", only those the guest reports.
	stats []balloonStat
	// updated is when the guest last reported (zero: never).
	updated time.Time
	err     error
}

type balloonStat struct {
	name  string
	value uint64
}

// varValue is one watched symbol's value.
type varValue struct {
	name string
	v    kernel.Variable
	// phys is the address read; virtual is set when it had to be read
	// through the vCPU's page tables (no ELF segment maps it).
	phys    uint64
	virtual bool
	data    []byte
	err     error
}

// request is what Update hands a refresh: copies, never shared state.
type request struct {
	table   *kernel.SymbolTable
	added   []string
	removed map[string]bool
	known   vmKnown
	// procStats reads QEMU's /proc entries (vm.ProcStats; tests fake it).
	procStats func(pid int) (vm.Stats, error)
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
		msg.table, msg.tableErr = kernel.LoadSymbols(info.Symbols)
	}

	msg.host, msg.hostErr = req.procStats(info.PID)

	switch {
	case known.ramBytes != 0:
		msg.ramBytes = known.ramBytes
	case info.MemoryMiB > 0:
		msg.ramBytes = uint64(info.MemoryMiB) << 20
	default:
		var summary struct {
			Base    uint64 `json:"base-memory"`
			Plugged uint64 `json:"plugged-memory"`
		}
		if msg.ramErr = runQMP(ctx, in, "query-memory-size-summary", nil, &summary); msg.ramErr == nil {
			msg.ramBytes = summary.Base + summary.Plugged
		}
	}
	known.ramBytes = msg.ramBytes

	msg.balloon = readBalloon(ctx, in, &known)

	if msg.table != nil {
		msg.vars = readVariables(ctx, in, msg.table, info.SymbolSpace, watchNames(msg.table, req.added, req.removed))
	}
	msg.known = known
	msg.at = now()
	return msg
}

// watchNames is the list of symbols shown: the default data objects the
// user has not removed, then the ones the user added.
func watchNames(t *kernel.SymbolTable, added []string, removed map[string]bool) []string {
	var names []string
	seen := make(map[string]bool)
	if t != nil {
		for _, s := range t.DataObjects(defaultSymbols) {
			if !removed[s.Name] && !seen[s.Name] {
				names = append(names, s.Name)
				seen[s.Name] = true
			}
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
func readLen(v kernel.Variable) uint64 {
	if len(v.Fields) == 1 && v.Fields[0].Encoding == kernel.EncBytes {
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
func readVariables(ctx context.Context, in panel.Inspector, t *kernel.SymbolTable, space string, names []string) []varValue {
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
		if space == image.SpaceNone {
			vals[i].err = errProcessSymbols
			continue
		}
		if p, ok := t.PhysAddr(v.Addr); ok && space != image.SpaceVirtual {
			vals[i].phys = p
			phys = append(phys, want{i, p, n})
		} else {
			vals[i].phys, vals[i].virtual = v.Addr, true
			virt = append(virt, want{i, v.Addr, n})
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

// runQMP runs one QMP command and decodes its "return" into out (unless
// out is nil). An error reply is a *vm.QMPError, whether the Inspector
// returned it as an error or as the reply itself.
func runQMP(ctx context.Context, in panel.Inspector, name string, args any, out any) error {
	cmd := map[string]any{"execute": name}
	if args != nil {
		cmd["arguments"] = args
	}
	raw, err := json.Marshal(cmd)
	if err != nil {
		return fmt.Errorf("memview: qmp %s: %w", name, err)
	}
	reply, err := in.QMP(ctx, raw)
	if err != nil {
		return err
	}
	var r struct {
		Return json.RawMessage `json:"return"`
		Error  *struct {
			Class string `json:"class"`
			Desc  string `json:"desc"`
		} `json:"error"`
	}
	if err := json.Unmarshal(reply, &r); err != nil {
		return fmt.Errorf("memview: qmp %s: decode reply: %w", name, err)
	}
	if r.Error != nil {
		return &vm.QMPError{Command: name, Class: r.Error.Class, Desc: r.Error.Desc}
	}
	if out == nil || len(r.Return) == 0 {
		return nil
	}
	if err := json.Unmarshal(r.Return, out); err != nil {
		return fmt.Errorf("memview: qmp %s: decode return: %w", name, err)
	}
	return nil
}

// readBalloon asks for the balloon's size and, once the guest reports
// them, its memory statistics. No balloon device is not an error.
func readBalloon(ctx context.Context, in panel.Inspector, known *vmKnown) balloonState {
	var b struct {
		Actual uint64 `json:"actual"`
	}
	if err := runQMP(ctx, in, "query-balloon", nil, &b); err != nil {
		var qe *vm.QMPError
		if errors.As(err, &qe) && qe.Class == "DeviceNotActive" {
			return balloonState{}
		}
		return balloonState{err: err}
	}
	st := balloonState{present: true, actual: b.Actual}
	if !known.balloonSearched {
		path, err := findBalloon(ctx, in)
		if err != nil {
			st.err = err
			return st
		}
		known.balloonPath, known.balloonSearched = path, true
	}
	if known.balloonPath == "" {
		return st
	}
	if !known.pollingSet {
		err := runQMP(ctx, in, "qom-set", map[string]any{
			"path": known.balloonPath, "property": "guest-stats-polling-interval", "value": guestStatsInterval}, nil)
		if err != nil {
			st.err = err
			return st
		}
		known.pollingSet = true
	}
	var gs struct {
		Stats      map[string]int64 `json:"stats"`
		LastUpdate int64            `json:"last-update"`
	}
	if err := runQMP(ctx, in, "qom-get", map[string]any{"path": known.balloonPath, "property": "guest-stats"}, &gs); err != nil {
		st.err = err
		return st
	}
	if gs.LastUpdate == 0 {
		return st
	}
	st.updated = time.Unix(gs.LastUpdate, 0)
	for name, v := range gs.Stats {
		if v >= 0 { // -1: the guest does not report this one
			st.stats = append(st.stats, balloonStat{strings.TrimPrefix(name, "stat-"), uint64(v)})
		}
	}
	sort.Slice(st.stats, func(i, j int) bool { return st.stats[i].name < st.stats[j].name })
	return st
}

// findBalloon returns the QOM path of the balloon device: a child of
// /machine/peripheral (with an id) or /machine/peripheral-anon whose type
// is a virtio-balloon. "" when none is found there.
func findBalloon(ctx context.Context, in panel.Inspector) (string, error) {
	for _, dir := range []string{"/machine/peripheral", "/machine/peripheral-anon"} {
		var props []struct {
			Name string `json:"name"`
			Type string `json:"type"`
		}
		if err := runQMP(ctx, in, "qom-list", map[string]any{"path": dir}, &props); err != nil {
			return "", err
		}
		for _, p := range props {
			if strings.HasPrefix(p.Type, "child<virtio-balloon") {
				return dir + "/" + p.Name, nil
			}
		}
	}
	return "", nil
}
