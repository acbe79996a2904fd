package qmpcmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ukdev/ukdev/vm"
)

// guestStatsInterval is the balloon's stats polling period, in seconds,
// set once per Machine when the guest has a balloon.
const guestStatsInterval = 2

// Balloon is what a machine learns about its balloon device once, so that
// later Stats calls need not ask again. The zero value is ready to use.
type Balloon struct {
	mu sync.Mutex
	// path is the balloon's QOM path once found; searched is true once
	// the QOM tree was searched, found or not; pollingSet is true once
	// stats polling was enabled on it.
	path       string
	searched   bool
	pollingSet bool
	// absent is true once QEMU said it has no balloon: ukdev never
	// hot-plugs one, so it is not asked again (the memory panel asks
	// every second).
	absent bool
}

// MemorySize returns the guest's RAM in bytes: base plus hot-plugged
// memory (QMP query-memory-size-summary).
func MemorySize(ctx context.Context, ex Executor) (uint64, error) {
	ret, err := ex.Execute(ctx, "query-memory-size-summary", nil)
	if err != nil {
		return 0, err
	}
	var summary struct {
		Base    uint64 `json:"base-memory"`
		Plugged uint64 `json:"plugged-memory"`
	}
	if err := json.Unmarshal(ret, &summary); err != nil {
		return 0, fmt.Errorf("qemu: qmp query-memory-size-summary: decode: %w", err)
	}
	return summary.Base + summary.Plugged, nil
}

// Stats asks for the balloon's size and, once the guest reports
// them, its memory statistics. No balloon device is not an error: it
// yields a BalloonStats that is not Present, and later calls ask QEMU
// nothing (ukdev never hot-plugs a balloon). The first call finds the
// balloon in the QOM tree and enables the guest's stats polling; later
// calls reuse both. On an error after the balloon answered, the returned
// BalloonStats still holds its Present and ActualBytes. Calls are
// serialised.
func (bs *Balloon) Stats(ctx context.Context, ex Executor) (vm.BalloonStats, error) {
	bs.mu.Lock()
	absent := bs.absent
	bs.mu.Unlock()
	if absent {
		return vm.BalloonStats{}, nil
	}
	ret, err := ex.Execute(ctx, "query-balloon", nil)
	if err != nil {
		var qe *Error
		if errors.As(err, &qe) && qe.Class == "DeviceNotActive" {
			bs.mu.Lock()
			bs.absent = true
			bs.mu.Unlock()
			return vm.BalloonStats{}, nil
		}
		return vm.BalloonStats{}, err
	}
	var b struct {
		Actual uint64 `json:"actual"`
	}
	if err := json.Unmarshal(ret, &b); err != nil {
		return vm.BalloonStats{}, fmt.Errorf("qemu: qmp query-balloon: decode: %w", err)
	}
	st := vm.BalloonStats{Present: true, ActualBytes: b.Actual}

	bs.mu.Lock()
	defer bs.mu.Unlock()
	if !bs.searched {
		path, err := findBalloon(ctx, ex)
		if err != nil {
			return st, err
		}
		bs.path, bs.searched = path, true
	}
	if bs.path == "" {
		return st, nil
	}
	if !bs.pollingSet {
		_, err := ex.Execute(ctx, "qom-set", map[string]any{
			"path": bs.path, "property": "guest-stats-polling-interval", "value": guestStatsInterval})
		if err != nil {
			return st, err
		}
		bs.pollingSet = true
	}
	ret, err = ex.Execute(ctx, "qom-get", map[string]any{"path": bs.path, "property": "guest-stats"})
	if err != nil {
		return st, err
	}
	var gs struct {
		Stats      map[string]int64 `json:"stats"`
		LastUpdate int64            `json:"last-update"`
	}
	if err := json.Unmarshal(ret, &gs); err != nil {
		return st, fmt.Errorf("qemu: qmp qom-get guest-stats: decode: %w", err)
	}
	if gs.LastUpdate == 0 {
		return st, nil
	}
	st.Updated = time.Unix(gs.LastUpdate, 0)
	for name, v := range gs.Stats {
		if v >= 0 { // -1: the guest does not report this one
			st.Guest = append(st.Guest, vm.BalloonStat{Name: strings.TrimPrefix(name, "stat-"), Value: uint64(v)})
		}
	}
	sort.Slice(st.Guest, func(i, j int) bool { return st.Guest[i].Name < st.Guest[j].Name })
	return st, nil
}

// findBalloon returns the QOM path of the balloon device: a child of
// /machine/peripheral (with an id) or /machine/peripheral-anon whose type
// is a virtio-balloon. "" when none is found there.
func findBalloon(ctx context.Context, ex Executor) (string, error) {
	for _, dir := range []string{"/machine/peripheral", "/machine/peripheral-anon"} {
		ret, err := ex.Execute(ctx, "qom-list", map[string]any{"path": dir})
		if err != nil {
			return "", err
		}
		var props []struct {
			Name string `json:"name"`
			Type string `json:"type"`
		}
		if err := json.Unmarshal(ret, &props); err != nil {
			return "", fmt.Errorf("qemu: qmp qom-list %s: decode: %w", dir, err)
		}
		for _, p := range props {
			if strings.HasPrefix(p.Type, "child<virtio-balloon") {
				return dir + "/" + p.Name, nil
			}
		}
	}
	return "", nil
}
