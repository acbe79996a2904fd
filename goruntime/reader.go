package goruntime

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ukdev/ukdev/symbols"
)

// ErrNotGo says the program has none of the runtime variables the
// statistics come from (not a Go program, or one without DWARF).
var ErrNotGo = errors.New("goruntime: no Go runtime statistics in this program")

// ref is one top-level member of a runtime variable ("memstats", "numgc");
// Member "" is the whole variable (a scalar such as runtime.allglen).
type ref struct{ Var, Member string }

// variant is one way a Go version keeps a statistic: the members it
// reads and how the statistic follows from their values.
type variant struct {
	needs []ref
	get   func(vals map[string]symbols.Value) (uint64, bool)
}

// path returns a variant that reads one number at a path of member names
// under a variable: path("gcController", "heapInUse").
func path(v string, members ...string) variant {
	return variant{needs: []ref{{v, members[0]}}, get: func(vals map[string]symbols.Value) (uint64, bool) {
		return number(member(vals[v], members...))
	}}
}

// variants lists, per statistic, the shapes the runtime's variables have
// had, newest first. The first one whose members the program's DWARF has
// is read.
var variants = [numStats][]variant{
	HeapInUse: {
		path("gcController", "heapInUse"), // Go 1.21+: a sysMemStat
		path("memstats", "heapInUse"),
		path("memstats", "heap_inuse"), // before Go 1.20
	},
	HeapObjects: {
		{needs: []ref{{"memstats", "heapStats"}}, get: heapObjects}, // Go 1.16+: consistent heap stats
		path("memstats", "heap_objects"),
	},
	GCCycles: {path("memstats", "numgc")},
	LastPause: {
		{needs: []ref{{"memstats", "pause_ns"}, {"memstats", "numgc"}}, get: lastPause},
	},
	Goroutines: {
		{needs: []ref{{"allglen", ""}, {"sched", "gFree"}, {"sched", "ngsys"}}, get: goroutines},
		{needs: []ref{{"allglen", ""}, {"sched", "gFree"}}, get: goroutines},
	},
	NextGC: {
		path("gcController", "gcPercentHeapGoal"), // Go 1.21+
		path("gcController", "heapGoal"),          // Go 1.18 to 1.20
		path("memstats", "next_gc"),
	},
	TotalAlloc: {
		path("gcController", "totalAlloc"), // Go 1.21+
		path("memstats", "total_alloc"),
	},
}

// runtimeVars maps the short names variants use to the runtime's symbols.
var runtimeVars = map[string]string{
	"memstats":     "runtime.memstats",
	"gcController": "runtime.gcController",
	"allglen":      "runtime.allglen",
	"sched":        "runtime.sched",
}

// Range is a span of the program's memory to read, at its symbol address.
type Range struct {
	Addr, Size uint64
}

// readGap is how far apart two members of one variable may be and still
// be read in one range.
const readGap = 256

// planned is one variable to read: the part of it the chosen variants
// need.
type planned struct {
	short   string
	v       symbols.Variable
	off, n  uint64
	members []string
}

// Reader reads the statistics of one program. It is safe for concurrent
// use: it holds only what New computed.
type Reader struct {
	t      *symbols.Table
	vars   []planned
	ranges []Range
	// chosen is, per statistic, the variant New found in the DWARF
	// (-1: none).
	chosen [numStats]int
}

// New finds the runtime's variables and members in t's DWARF and plans
// the reads. It returns an error wrapping ErrNotGo when no statistic can
// be read.
func New(t *symbols.Table) (*Reader, error) {
	r := &Reader{t: t}
	found := make(map[string]symbols.Variable)
	for short, name := range runtimeVars {
		v, err := t.Variable(name)
		if err != nil || v.Type == "" || v.Size == 0 {
			continue
		}
		found[short] = v
	}
	need := make(map[string][]string)
	readable := false
	for st := range numStats {
		r.chosen[st] = -1
		for i, va := range variants[st] {
			if !has(found, va.needs) {
				continue
			}
			r.chosen[st], readable = i, true
			for _, n := range va.needs {
				if !slices.Contains(need[n.Var], n.Member) {
					need[n.Var] = append(need[n.Var], n.Member)
				}
			}
			break
		}
	}
	if !readable {
		return nil, fmt.Errorf("goruntime: %s: %w", t.Path(), ErrNotGo)
	}
	shorts := make([]string, 0, len(need))
	for s := range need {
		shorts = append(shorts, s)
	}
	slices.SortFunc(shorts, func(a, b string) int { return cmp.Compare(found[a].Addr, found[b].Addr) })
	for _, s := range shorts {
		v := found[s]
		lo, hi := v.Size, uint64(0)
		for _, m := range need[s] {
			mlo, mhi, _ := span(v, m)
			lo, hi = min(lo, mlo), max(hi, mhi)
		}
		r.vars = append(r.vars, planned{short: s, v: v, off: lo, n: hi - lo, members: need[s]})
	}
	// One range per variable, or per run of nearby variables.
	for _, p := range r.vars {
		addr := p.v.Addr + p.off
		if k := len(r.ranges) - 1; k >= 0 && addr >= r.ranges[k].Addr && addr <= r.ranges[k].Addr+r.ranges[k].Size+readGap {
			r.ranges[k].Size = max(r.ranges[k].Size, addr+p.n-r.ranges[k].Addr)
			continue
		}
		r.ranges = append(r.ranges, Range{Addr: addr, Size: p.n})
	}
	return r, nil
}

// has reports whether the variables found have every member needs names.
func has(found map[string]symbols.Variable, needs []ref) bool {
	for _, n := range needs {
		v, ok := found[n.Var]
		if !ok {
			return false
		}
		if _, _, ok := span(v, n.Member); !ok {
			return false
		}
	}
	return true
}

// span returns where a top-level member lies in v (by its flattened
// fields); member "" is the whole variable.
func span(v symbols.Variable, member string) (lo, hi uint64, ok bool) {
	if member == "" {
		return 0, v.Size, true
	}
	lo = v.Size
	prefix := "." + member
	for _, f := range v.Fields {
		rest, cut := strings.CutPrefix(f.Name, prefix)
		if !cut || (rest != "" && rest[0] != '.' && rest[0] != '[') {
			continue
		}
		lo, hi, ok = min(lo, f.Offset), max(hi, f.Offset+f.Size), true
	}
	return lo, hi, ok && hi <= v.Size
}

// Ranges returns the spans of memory one reading needs, at the program's
// symbol addresses (the caller maps them to the guest's), in address
// order: a few, each at most a few KiB.
func (r *Reader) Ranges() []Range { return slices.Clone(r.ranges) }

// Decode decodes one reading: data[i] holds the bytes read for
// Ranges()[i] (nil, or short, when that read failed: the statistics that
// needed it are unknown).
func (r *Reader) Decode(data [][]byte) Stats {
	vals := make(map[string]symbols.Value, len(r.vars))
	for _, p := range r.vars {
		buf := make([]byte, p.v.Size)
		ok := false
		addr := p.v.Addr + p.off
		for i, rg := range r.ranges {
			if i >= len(data) || addr < rg.Addr || addr+p.n > rg.Addr+rg.Size || uint64(len(data[i])) < addr+p.n-rg.Addr {
				continue
			}
			copy(buf[p.off:p.off+p.n], data[i][addr-rg.Addr:])
			ok = true
			break
		}
		if ok {
			vals[p.short] = r.t.Decode(p.v, buf)
		}
	}
	var s Stats
	for st := range numStats {
		if i := r.chosen[st]; i >= 0 {
			if v, ok := variants[st][i].get(vals); ok {
				s.set(st, v)
			}
		}
	}
	return s
}

// compute tries every variant of every statistic on decoded values.
func compute(vals map[string]symbols.Value) Stats {
	var s Stats
	for st := range numStats {
		for _, va := range variants[st] {
			if v, ok := va.get(vals); ok {
				s.set(st, v)
				break
			}
		}
	}
	return s
}

// member walks a struct value down a path of member names; a missing
// member, or one that was not read, yields a Value with Err set.
func member(v symbols.Value, names ...string) symbols.Value {
	for _, n := range names {
		if v.Err != "" || v.Kind != symbols.KindStruct {
			return symbols.Value{Err: "no member " + n}
		}
		i := slices.IndexFunc(v.Elems, func(e symbols.Value) bool { return e.Name == n })
		if i < 0 {
			return symbols.Value{Err: "no member " + n}
		}
		v = v.Elems[i]
	}
	return v
}

// number reads an integer value: a plain one, or the one an atomic or a
// named wrapper holds (a struct with a member "value", or "u" around it).
func number(v symbols.Value) (uint64, bool) {
	for range 4 {
		if v.Err != "" {
			return 0, false
		}
		switch v.Kind {
		case symbols.KindUint:
			return v.Uint, true
		case symbols.KindInt:
			if v.Int < 0 {
				return 0, false
			}
			return uint64(v.Int), true
		case symbols.KindStruct:
			if w := member(v, "value"); w.Err == "" {
				v = w
				continue
			}
			v = member(v, "u")
			continue
		}
		return 0, false
	}
	return 0, false
}

// signed reads an integer that may be negative (a delta).
func signed(v symbols.Value) (int64, bool) {
	switch {
	case v.Err != "":
		return 0, false
	case v.Kind == symbols.KindInt:
		return v.Int, true
	case v.Kind == symbols.KindUint:
		return int64(v.Uint), true
	}
	return 0, false
}

// sum adds an array's elements.
func sum(v symbols.Value) (int64, bool) {
	if v.Err != "" || v.Kind != symbols.KindArray || int64(len(v.Elems)) != v.Len {
		return 0, false
	}
	var t int64
	for _, e := range v.Elems {
		n, ok := signed(e)
		if !ok {
			return 0, false
		}
		t += n
	}
	return t, true
}

// heapObjects sums the allocations less the frees over the consistent
// heap statistics' generations (memstats.heapStats.stats), as
// runtime.ReadMemStats does once the caches are flushed. Tiny
// allocations are counted in both and cancel out.
func heapObjects(vals map[string]symbols.Value) (uint64, bool) {
	gens := member(vals["memstats"], "heapStats", "stats")
	if gens.Err != "" || gens.Kind != symbols.KindArray || len(gens.Elems) == 0 || int64(len(gens.Elems)) != gens.Len {
		return 0, false
	}
	var objs int64
	for _, g := range gens.Elems {
		la, ok1 := signed(member(g, "largeAllocCount"))
		lf, ok2 := signed(member(g, "largeFreeCount"))
		sa, ok3 := sum(member(g, "smallAllocCount"))
		sf, ok4 := sum(member(g, "smallFreeCount"))
		if !ok1 || !ok2 || !ok3 || !ok4 {
			return 0, false
		}
		objs += la + sa - lf - sf
	}
	return uint64(max(objs, 0)), true
}

// lastPause is memstats.pause_ns[(numgc+255)%256]: the circular buffer's
// newest entry; 0 before the first GC.
func lastPause(vals map[string]symbols.Value) (uint64, bool) {
	ms := vals["memstats"]
	n, ok := number(member(ms, "numgc"))
	if !ok {
		return 0, false
	}
	p := member(ms, "pause_ns")
	if p.Err != "" || p.Kind != symbols.KindArray || p.Len == 0 || int64(len(p.Elems)) != p.Len {
		return 0, false
	}
	if n == 0 {
		return 0, true
	}
	return number(p.Elems[(n+uint64(p.Len)-1)%uint64(p.Len)])
}

// goroutines is what runtime.gcount computes, less the per-P free lists:
// every G ever made (allglen), less the free ones on the scheduler's
// global lists (gFree.stack and gFree.noStack sizes, or gFree.n in older
// runtimes), less the runtime's own (ngsys, when there).
func goroutines(vals map[string]symbols.Value) (uint64, bool) {
	all, ok := number(vals["allglen"])
	if !ok {
		return 0, false
	}
	sched := vals["sched"]
	var free uint64
	if n, ok := number(member(sched, "gFree", "n")); ok {
		free = n
	} else {
		s, ok1 := number(member(sched, "gFree", "stack", "size"))
		ns, ok2 := number(member(sched, "gFree", "noStack", "size"))
		if !ok1 || !ok2 {
			return 0, false
		}
		free = s + ns
	}
	sys, _ := number(member(sched, "ngsys"))
	if free+sys > all {
		return 0, false
	}
	return all - free - sys, true
}
