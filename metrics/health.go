package metrics

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// DefaultReadyPoll is how often WaitReady tries when told no interval.
const DefaultReadyPoll = 100 * time.Millisecond

// CheckHealth asks url once whether the application is healthy: any 2xx
// answer is, anything else is not. A nil client makes a new connection,
// bounded by DefaultTimeout. A failure is wrapped as "metrics: health
// check: ...": a *StatusError for an answer other than 2xx (with the start
// of its body, which usually says why), or the transport's error
// (refused, timed out).
func CheckHealth(ctx context.Context, client *http.Client, url string) error {
	if client == nil {
		client = oneShotClient()
	}
	if _, _, err := get(ctx, client, url, "*/*", 64<<10); err != nil {
		return fmt.Errorf("metrics: health check: %w", err)
	}
	return nil
}

// WaitReady checks url every interval (DefaultReadyPoll when every is not
// positive) until it answers healthy, and returns how long that took from
// the call. It ends early, with ctx's error and the last check's, when ctx
// is done.
func WaitReady(ctx context.Context, client *http.Client, url string, every time.Duration) (time.Duration, error) {
	if client == nil {
		client = oneShotClient()
	}
	if every <= 0 {
		every = DefaultReadyPoll
	}
	start := time.Now()
	tick := time.NewTicker(every)
	defer tick.Stop()
	var last error
	for {
		err := CheckHealth(ctx, client, url)
		if err == nil {
			return time.Since(start), nil
		}
		if ctx.Err() == nil || last == nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return time.Since(start), fmt.Errorf("metrics: wait for %s to be ready: %w (last check: %w)", url, ctx.Err(), last)
		case <-tick.C:
		}
	}
}
