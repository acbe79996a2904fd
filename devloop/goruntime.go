package devloop

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ukdev/ukdev/goruntime"
	"github.com/ukdev/ukdev/metrics"
)

// GoStats is one reading of a Go program's runtime statistics (package
// goruntime).
type GoStats = goruntime.Stats

// GoRuntimeReader reads a Go program's runtime statistics: the reads they
// need and how their bytes decode.
type GoRuntimeReader = goruntime.Reader

// NewGoRuntimeReader finds the runtime's variables in t; an error wraps
// goruntime.ErrNotGo when t is not a Go program with DWARF.
func NewGoRuntimeReader(t *SymbolTable) (*GoRuntimeReader, error) { return goruntime.New(t) }

// ReadGoRuntime takes one reading of the statistics r knows, with read
// (the live VM's ReadMemory, or an Inspector's), at the addresses t's
// symbols have in the guest (space, as GuestAddress maps them). A read
// that fails leaves its statistics unknown; the error is returned when
// none could be read.
func ReadGoRuntime(ctx context.Context, r *GoRuntimeReader, t *SymbolTable, space string,
	read func(ctx context.Context, addr, size uint64, virtual bool) ([]byte, error)) (GoStats, error) {
	if space == SpaceNone {
		return GoStats{}, fmt.Errorf("devloop: go runtime: %w", ErrNotReadable)
	}
	ranges := r.Ranges()
	data := make([][]byte, len(ranges))
	var firstErr error
	for i, rg := range ranges {
		addr, virtual := GuestAddress(t, space, rg.Addr)
		b, err := read(ctx, addr, rg.Size, virtual)
		if err != nil {
			if errors.Is(err, ErrNoVM) || ctx.Err() != nil {
				return GoStats{}, fmt.Errorf("devloop: go runtime: %w", err)
			}
			if firstErr == nil {
				firstErr = fmt.Errorf("devloop: go runtime: read %#x: %w", addr, err)
			}
			continue
		}
		data[i] = b
	}
	s := r.Decode(data)
	if !s.Known() && firstErr != nil {
		return GoStats{}, firstErr
	}
	return s, nil
}

// goStats samples the running image's Go runtime statistics for the
// metrics sampler, with the symbols `ukdev mem` reads with (checked
// against the boot's memory once a boot). An image that is not a Go
// program gives no points and no error.
type goStats struct {
	ops memOps

	mu     sync.Mutex
	table  *SymbolTable // the table reader was made for
	reader *GoRuntimeReader
}

// Sample implements metrics.GuestSource.
func (g *goStats) Sample(ctx context.Context) ([]metrics.GuestPoint, error) {
	info, err := g.ops.current()
	if err != nil {
		return nil, err
	}
	if info.Symbols == "" {
		return nil, nil
	}
	t, err := g.ops.table(ctx, info, true)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	if g.table != t {
		g.table = t
		g.reader, _ = NewGoRuntimeReader(t) // nil: not a Go program
	}
	r := g.reader
	g.mu.Unlock()
	if r == nil {
		return nil, nil
	}
	s, err := ReadGoRuntime(ctx, r, t, info.SymbolSpace, g.ops.src.ReadMemory)
	if err != nil {
		return nil, err
	}
	pts := s.Points(goruntime.Graphed...)
	out := make([]metrics.GuestPoint, len(pts))
	for i, p := range pts {
		out[i] = metrics.GuestPoint{Name: p.Name, Unit: p.Unit, Value: p.Value, Counter: p.Counter}
	}
	return out, nil
}

var _ metrics.GuestSource = (*goStats)(nil)
