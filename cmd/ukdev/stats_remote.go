package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/ukdev/ukdev/metrics"
)

// errStatsUnavailable says that this ukdev cannot reach another ukdev's
// metrics yet.
var errStatsUnavailable = errors.New("not available: this ukdev cannot ask a running ukdev for its metrics")

// remoteStats asks the ukdev that runs project (a project name, or a
// directory inside a project) for a Snapshot of its metrics sampler,
// sampled once more since the call. It is answered over the running
// ukdev's control socket (op "stats"), whose handler returns
// loop.Metrics().Collect(ctx).
func (a *app) remoteStats(_ context.Context, project string) (metrics.Snapshot, error) {
	return metrics.Snapshot{}, fmt.Errorf("stats of %s: %w", project, errStatsUnavailable)
}
