package main

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/metrics"
)

// TestAppHealthAndMetricsEndToEnd runs `ukdev dev --json` on
// examples/go-http-linux, whose ukdev.toml sets health.url and
// metrics.url: the boot reports health.ready, and the example's /metrics,
// read through the forwarded port, is Prometheus text the scraper reads
// with the series the example writes.
func TestAppHealthAndMetricsEndToEnd(t *testing.T) {
	port := freePort(t)
	dir := linuxProject(t, port)
	s := startDev(t, dir, testEnv(t))

	start := s.waitFor("the first boot", linuxWait, isType(devloop.TypeVMStart))
	ready := s.waitFor("health.ready of the boot", linuxWait, func(e jsonEvent) bool {
		return e.Type == devloop.TypeHealthReady && e.Boot == start.Boot
	})
	healthURL := fmt.Sprintf("http://127.0.0.1:%d/healthz", port)
	if ready.DurationMS == nil || *ready.DurationMS <= 0 || ready.URL != healthURL || ready.Build != start.Build {
		t.Errorf("health.ready lacks fields: %s", ready.raw)
	}
	t.Logf("boot %d ready in %.0f ms", ready.Boot, *ready.DurationMS)

	scraper := metrics.NewScraper(fmt.Sprintf("http://127.0.0.1:%d/metrics", port), nil)
	scraper.Timeout = 30 * time.Second // a guest under TCG on a loaded machine
	vals, err := scraper.Scrape(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`http_requests_total{handler="/"}`, `http_requests_total{handler="/metrics"}`, "go_goroutines", "go_memstats_heap_inuse_bytes"} {
		if _, ok := vals[key]; !ok {
			t.Errorf("no %s in the scraped metrics %v", key, vals)
		}
	}
	// ukdev's own health checks are requests the example counted.
	if n := vals[`http_requests_total{handler="/healthz"}`]; n < 1 {
		t.Errorf("http_requests_total{handler=\"/healthz\"} = %v, want at least ukdev's first check", n)
	}
	if vals["go_goroutines"] < 1 || vals["go_memstats_heap_inuse_bytes"] < 1 {
		t.Errorf("implausible runtime metrics: %v", vals)
	}
	if series := metrics.DefaultSeries(vals); !slices.Contains(series, "go_goroutines") || !slices.Contains(series, `http_requests_total{handler="/"}`) {
		t.Errorf("DefaultSeries = %q", series)
	}
	s.quit()
	if !canListen(port) {
		t.Errorf("port %d is still taken after ukdev quit", port)
	}
}
