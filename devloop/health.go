package devloop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"syscall"
	"time"

	"github.com/ukdev/ukdev/metrics"
)

// readyPoll is how often a new boot's health.url is tried until it first
// answers: often, so that "ready in N ms" is close to the truth.
const readyPoll = 50 * time.Millisecond

// healthWatch is the health checking of one boot; the loop's goroutine
// owns it.
type healthWatch struct {
	stop    context.CancelFunc // ends the checking goroutine; nil when none runs
	gen     int                // counts the goroutines started for the boot: reports of an older one are dropped
	since   time.Time          // when the guest started: its QEMU's spawn, or its reset
	ready   bool               // health.ready was sent
	failing bool               // the last health.status said failing
}

// healthReport is what a boot's checking goroutine tells the loop: the
// first 2xx (ready), then the result of every later check.
type healthReport struct {
	b     *bootState
	gen   int
	ready bool
	at    time.Time
	err   error // the check's failure; nil: 2xx
}

// startHealth starts checking b's health.url, the guest having started at
// since, replacing any checking of b already running. Without health.url
// it does nothing.
func (l *Loop) startHealth(ctx context.Context, b *bootState, since time.Time) {
	if l.healthURL == "" {
		return
	}
	l.stopHealth(b)
	hctx, cancel := context.WithCancel(ctx)
	b.health = healthWatch{stop: cancel, gen: b.health.gen + 1, since: since}
	go l.watchHealth(hctx, b, b.health.gen)
}

// stopHealth stops checking b's health; its reports still queued are
// dropped by onHealth.
func (l *Loop) stopHealth(b *bootState) {
	if b != nil && b.health.stop != nil {
		b.health.stop()
		b.health.stop = nil
	}
}

// watchHealth polls the health URL until it answers 2xx, then checks it
// every metrics.interval, reporting to the loop until ctx ends. It never
// emits itself: the loop decides what a report means for the boot that
// is current by then.
func (l *Loop) watchHealth(ctx context.Context, b *bootState, gen int) {
	client := metrics.NewClient()
	defer client.CloseIdleConnections()
	if _, err := metrics.WaitReady(ctx, client, l.healthURL, readyPoll); err != nil {
		return // the boot ended first
	}
	if !l.reportHealth(ctx, healthReport{b: b, gen: gen, ready: true, at: time.Now()}) {
		return
	}
	tick := time.NewTicker(l.cfg.Metrics.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		err := metrics.CheckHealth(ctx, client, l.healthURL)
		if ctx.Err() != nil {
			return
		}
		if !l.reportHealth(ctx, healthReport{b: b, gen: gen, at: time.Now(), err: err}) {
			return
		}
	}
}

// reportHealth hands r to the loop, or gives up when ctx ends first.
func (l *Loop) reportHealth(ctx context.Context, r healthReport) bool {
	select {
	case l.healthCh <- r:
		return true
	case <-ctx.Done():
		return false
	}
}

// onHealth turns a report about the current boot into health.ready, or
// into health.status when the answer changed. Reports about a boot that
// ended or was replaced, and failures while the VM is paused, say
// nothing.
func (l *Loop) onHealth(r healthReport) {
	b := r.b
	if b != l.current || b.ended || r.gen != b.health.gen || b.health.stop == nil {
		return
	}
	h := &b.health
	if r.ready {
		h.ready = true
		d := r.at.Sub(h.since)
		l.emit(Event{Type: TypeHealthReady, Boot: b.n, Build: b.build, DurationMS: ptr(ms(d)), URL: l.healthURL,
			Message: fmt.Sprintf("boot #%d ready in %.0f ms (%s answered)", b.n, ms(d), l.healthURL)})
		return
	}
	failing := r.err != nil
	if !h.ready || failing == h.failing || failing && b.paused {
		return
	}
	h.failing = failing
	e := Event{Type: TypeHealthStatus, Boot: b.n, Build: b.build, OK: ptr(!failing), URL: l.healthURL,
		Message: fmt.Sprintf("boot #%d healthy again", b.n)}
	if failing {
		e.Detail = healthReason(r.err)
		e.Message = fmt.Sprintf("boot #%d health failing: %s", b.n, e.Detail)
	}
	l.emit(e)
}

// healthReason says in a few words why a health check failed.
func healthReason(err error) string {
	var se *metrics.StatusError
	var ue *url.Error
	switch {
	case errors.As(err, &se):
		if se.Body != "" {
			return se.Status + ": " + se.Body
		}
		return se.Status
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("no answer within %v", metrics.DefaultTimeout)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		return "connection closed without an answer"
	case errors.As(err, &ue):
		return ue.Err.Error()
	}
	return err.Error()
}
