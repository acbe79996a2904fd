package metrics_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ukdev/ukdev/metrics"
)

// promText has a counter with labels, a gauge, an untyped sample, a
// histogram and a summary, as a Prometheus client writes them.
const promText = `# HELP http_requests_total Requests served.
# TYPE http_requests_total counter
http_requests_total{code="200",method="get"} 1027
http_requests_total{code="500",method="post"} 3
# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 8
# A comment line.
odd_untyped{path="a\"b\\c"} 1.5e3
# HELP request_seconds Request latency.
# TYPE request_seconds histogram
request_seconds_bucket{handler="/",le="0.1"} 90
request_seconds_bucket{handler="/",le="1"} 99
request_seconds_bucket{handler="/",le="+Inf"} 100
request_seconds_sum{handler="/"} 12.5
request_seconds_count{handler="/"} 100
# HELP gc_seconds GC pauses.
# TYPE gc_seconds summary
gc_seconds{quantile="0.5"} 0.001
gc_seconds{quantile="0.99"} NaN
gc_seconds_sum 0.25
gc_seconds_count 40
`

// expvarJSON is what Go's expvar serves: memstats nested, arrays and
// strings beside numbers.
const expvarJSON = `{
"cmdline": ["/app", "-addr", ":8080"],
"requests": 42,
"memstats": {"Alloc": 1048576, "HeapInuse": 2097152, "NumGC": 7, "EnableGC": true,
  "PauseNs": [1, 2, 3], "BySize": [{"Size": 8, "Mallocs": 1}], "Nested": {"Deep": 3.5}},
"name": "app"
}`

// serve starts a test server answering every request with h.
func serve(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// page answers with body and the Content-Type ct (none when empty).
func page(ct, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if ct != "" {
			w.Header().Set("Content-Type", ct)
		} else {
			w.Header()["Content-Type"] = nil // no sniffing by net/http either
		}
		_, _ = w.Write([]byte(body))
	}
}

func TestScrape(t *testing.T) {
	prom := map[string]float64{
		`http_requests_total{code="200",method="get"}`:  1027,
		`http_requests_total{code="500",method="post"}`: 3,
		`go_goroutines`:                                 8,
		`odd_untyped{path="a\"b\\c"}`:                   1500,
		`request_seconds_bucket{handler="/",le="0.1"}`:  90,
		`request_seconds_bucket{handler="/",le="1"}`:    99,
		`request_seconds_bucket{handler="/",le="+Inf"}`: 100,
		`request_seconds_sum{handler="/"}`:              12.5,
		`request_seconds_count{handler="/"}`:            100,
		`gc_seconds{quantile="0.5"}`:                    0.001,
		`gc_seconds_sum`:                                0.25,
		`gc_seconds_count`:                              40,
	}
	expvar := map[string]float64{
		"requests": 42, "memstats.Alloc": 1 << 20, "memstats.HeapInuse": 2 << 20, "memstats.NumGC": 7,
		"memstats.Nested.Deep": 3.5,
	}
	tests := []struct {
		name string
		ct   string
		body string
		want map[string]float64
	}{
		{"prometheus text 0.0.4", "text/plain; version=0.0.4; charset=utf-8", promText, prom},
		{"text/plain without a version", "text/plain", promText, prom},
		{"prometheus text sniffed", "", promText, prom},
		{"prometheus text under a wrong type", "application/octet-stream", promText, prom},
		{"openmetrics", "application/openmetrics-text; version=1.0.0; charset=utf-8",
			"# TYPE jobs counter\njobs_total{queue=\"a\"} 5\n# TYPE temp gauge\ntemp 21.5\n# EOF\n",
			map[string]float64{`jobs_total{queue="a"}`: 5, "temp": 21.5}},
		{"expvar json", "application/json; charset=utf-8", expvarJSON, expvar},
		{"expvar sniffed", "", "\n  " + expvarJSON, expvar},
		{"empty text page", "text/plain", "", map[string]float64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := serve(t, page(tt.ct, tt.body))
			got, err := metrics.NewScraper(url, nil).Scrape(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %v\nwant %v", got, tt.want)
			}
		})
	}
}

// The scraper asks for the text format first and keeps connections of a
// client it was given.
func TestScrapeRequest(t *testing.T) {
	var accept []string
	var remotes []string
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		accept = append(accept, r.Header.Get("Accept"))
		remotes = append(remotes, r.RemoteAddr)
		page("text/plain", "up 1\n")(w, r)
	})
	client := metrics.NewClient()
	defer client.CloseIdleConnections()
	s := metrics.NewScraper(url, client)
	if s.URL() != url {
		t.Errorf("URL() = %q", s.URL())
	}
	for range 2 {
		if _, err := s.Scrape(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.HasPrefix(accept[0], "text/plain;version=0.0.4") {
		t.Errorf("Accept %q does not ask for the text format first", accept[0])
	}
	if remotes[0] != remotes[1] {
		t.Errorf("two scrapes used two connections: %v", remotes)
	}
}

// refusedURL returns a URL on a loopback port that was just listened on
// and closed again: connecting to it is refused.
func refusedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/metrics"
}

func TestScrapeErrors(t *testing.T) {
	tests := []struct {
		name  string
		url   func(t *testing.T) string
		check func(t *testing.T, err error)
	}{
		{"500 with a reason",
			func(t *testing.T) string {
				return serve(t, func(w http.ResponseWriter, r *http.Request) {
					http.Error(w, "registry broken\x1b[2J\nsecond line", http.StatusInternalServerError)
				})
			},
			func(t *testing.T, err error) {
				var se *metrics.StatusError
				if !errors.As(err, &se) || se.Code != 500 || se.Status != "500 Internal Server Error" || se.Body != "registry broken?[2J" {
					t.Errorf("got %#v", err)
				}
				if !strings.HasPrefix(err.Error(), "metrics: scrape: http://127.0.0.1:") || !strings.HasSuffix(err.Error(), ": 500 Internal Server Error: registry broken?[2J") {
					t.Errorf("message %q", err)
				}
			}},
		{"404",
			func(t *testing.T) string { return serve(t, http.NotFound) },
			func(t *testing.T, err error) {
				var se *metrics.StatusError
				if !errors.As(err, &se) || se.Code != 404 {
					t.Errorf("got %v", err)
				}
			}},
		{"garbage text",
			func(t *testing.T) string { return serve(t, page("text/html", "<html><body>hello</body></html>\n")) },
			func(t *testing.T, err error) {
				var fe *metrics.FormatError
				if !errors.As(err, &fe) || fe.Format != metrics.FormatPrometheus || fe.Err == nil {
					t.Errorf("got %v", err)
				}
			}},
		{"text with a bad value on line 2",
			func(t *testing.T) string { return serve(t, page("text/plain", "ok 1\nbad one\n")) },
			func(t *testing.T, err error) {
				var fe *metrics.FormatError
				if !errors.As(err, &fe) || !strings.Contains(err.Error(), "line 2") {
					t.Errorf("got %v", err)
				}
			}},
		{"garbage json",
			func(t *testing.T) string { return serve(t, page("application/json", `{"memstats": {`)) },
			func(t *testing.T, err error) {
				var fe *metrics.FormatError
				if !errors.As(err, &fe) || fe.Format != metrics.FormatExpvar {
					t.Errorf("got %v", err)
				}
			}},
		{"json that is not an object",
			func(t *testing.T) string { return serve(t, page("application/json", `[1, 2]`)) },
			func(t *testing.T, err error) {
				var fe *metrics.FormatError
				if !errors.As(err, &fe) || fe.Format != metrics.FormatExpvar {
					t.Errorf("got %v", err)
				}
			}},
		{"connection refused",
			refusedURL,
			func(t *testing.T, err error) {
				if !errors.Is(err, syscall.ECONNREFUSED) {
					t.Errorf("got %v, want ECONNREFUSED", err)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vals, err := metrics.NewScraper(tt.url(t), nil).Scrape(context.Background())
			if err == nil {
				t.Fatalf("no error; values %v", vals)
			}
			if vals != nil {
				t.Errorf("values %v beside the error", vals)
			}
			tt.check(t, err)
		})
	}
}

// A slow endpoint fails the scrape at the scraper's timeout, and the next
// scrape works again.
func TestScrapeTimeout(t *testing.T) {
	release := make(chan struct{})
	var slow atomic.Bool
	slow.Store(true)
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if slow.Load() {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		page("text/plain", "up 1\n")(w, r)
	})
	defer close(release)
	s := metrics.NewScraper(url, nil)
	s.Timeout = 100 * time.Millisecond
	start := time.Now()
	_, err := s.Scrape(context.Background())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the scrape took %v with a 100ms timeout", d)
	}
	slow.Store(false)
	if vals, err := s.Scrape(context.Background()); err != nil || vals["up"] != 1 {
		t.Errorf("after the slow one: %v, %v", vals, err)
	}
}

func TestScrapeTooLarge(t *testing.T) {
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		line := []byte(strings.Repeat("x", 1023) + "\n")
		for range 17 << 10 {
			if _, err := w.Write(line); err != nil {
				return
			}
		}
	})
	if _, err := metrics.NewScraper(url, nil).Scrape(context.Background()); !errors.Is(err, metrics.ErrTooLarge) {
		t.Errorf("got %v, want ErrTooLarge", err)
	}
}

func TestDefaultSeries(t *testing.T) {
	tests := []struct {
		name string
		keys []string
		want []string
	}{
		{"prometheus client",
			[]string{"go_memstats_heap_inuse_bytes", "process_resident_memory_bytes", "go_goroutines", "go_threads",
				`http_requests_total{code="500"}`, `http_requests_total{code="200"}`},
			[]string{"go_goroutines", "process_resident_memory_bytes", "go_memstats_heap_inuse_bytes", `http_requests_total{code="200"}`}},
		{"expvar",
			[]string{"memstats.Alloc", "memstats.HeapInuse", "memstats.NumGC", "memstats.HeapAlloc", "requests"},
			[]string{"memstats.HeapInuse", "memstats.HeapAlloc", "memstats.NumGC"}},
		{"a request counter alone", []string{"b", "api_requests_total", "a"}, []string{"api_requests_total"}},
		{"nothing known: the first sorted, without buckets",
			[]string{"e", `d{le="1"}`, "c", `b{quantile="0.5"}`, "a", "f", "g"},
			[]string{"a", "c", "e", "f"}},
		{"nothing", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vals := map[string]float64{}
			for _, k := range tt.keys {
				vals[k] = 1
			}
			if got := metrics.DefaultSeries(vals); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
