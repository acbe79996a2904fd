package metrics

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// DefaultReadyPoll is how often WaitReady tries when told no interval.
const DefaultReadyPoll = 100 * time.Millisecond

// firstTry bounds WaitReady's first attempt. A booting guest behind
// QEMU's user networking can leave a request hanging (its port accepted
// on the host, nobody answering yet): short attempts keep the time to
// ready precise, and doubling after each one that times out lets a slow
// endpoint answer all the same.
const firstTry = 200 * time.Millisecond

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
// the call. Each check is bounded by 200 ms at first, twice as long after
// each one that times out, up to DefaultTimeout (and the client's own
// timeout). It ends early, with ctx's error and the last check's, when
// ctx is done.
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
	try := firstTry
	for {
		tctx, cancel := context.WithTimeout(ctx, try)
		err := CheckHealth(tctx, client, url)
		cancel()
		if err == nil {
			return time.Since(start), nil
		}
		if ctx.Err() == nil || last == nil {
			last = err
		}
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			try = min(2*try, DefaultTimeout)
		}
		select {
		case <-ctx.Done():
			return time.Since(start), fmt.Errorf("metrics: wait for %s to be ready: %w (last check: %w)", url, ctx.Err(), last)
		case <-tick.C:
		}
	}
}
