package devloop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/ukdev/ukdev/metrics"
)

// healthServer is a guest's health endpoint whose answer the test sets:
// 2xx while ok, else 503 with why.
type healthServer struct {
	why   atomic.Pointer[string] // nil: ok
	calls atomic.Int64
	url   string
}

func newHealthServer(t *testing.T, why string) *healthServer {
	s := &healthServer{}
	s.set(why)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.calls.Add(1)
		if why := s.why.Load(); why != nil {
			http.Error(w, *why, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL + "/healthz"
	return s
}

// set makes the endpoint fail with why, or answer ok when why is empty.
func (s *healthServer) set(why string) {
	if why == "" {
		s.why.Store(nil)
	} else {
		s.why.Store(&why)
	}
}

func isHealth(boot int, ok bool) func(Event) bool {
	return func(e Event) bool { return e.Boot == boot && e.OK != nil && *e.OK == ok }
}

// TestLoopHealth follows a boot's health.url: ready once it answers 2xx,
// a status when it starts failing and when it recovers, nothing while the
// VM is paused, ready again after a reset, nothing about a boot once it
// has ended.
func TestLoopHealth(t *testing.T) {
	srv := newHealthServer(t, "starting")
	h := newHarness(t, harnessOptions{config: "health.url = \"" + srv.url + "\"\nmetrics.interval = \"100ms\"\n"})
	h.run()
	m1 := h.boot()

	// Not ready while it answers 503; ready at its first 2xx.
	waitFor(t, "checks while starting", func() bool { return srv.calls.Load() >= 2 })
	srv.set("")
	ready := h.wait(TypeHealthReady, isBoot(1))
	if ready.DurationMS == nil || *ready.DurationMS <= 0 || ready.URL != srv.url || ready.Build != 1 ||
		!strings.HasPrefix(ready.Message, "boot #1 ready in ") {
		t.Errorf("health.ready %+v", ready)
	}
	if h.sawType(TypeHealthStatus) {
		t.Errorf("a health.status before the failure: %s", h.types())
	}

	srv.set("database down")
	failing := h.wait(TypeHealthStatus, isHealth(1, false))
	if failing.Detail != "503 Service Unavailable: database down" || failing.URL != srv.url ||
		failing.Message != "boot #1 health failing: 503 Service Unavailable: database down" {
		t.Errorf("failing health.status %+v", failing)
	}
	srv.set("")
	if ok := h.wait(TypeHealthStatus, isHealth(1, true)); ok.Detail != "" || ok.Message != "boot #1 healthy again" {
		t.Errorf("ok health.status %+v", ok)
	}

	// Paused, the guest cannot answer: that is no failure. It still
	// fails once resumed.
	h.l.TogglePause()
	h.wait(TypeVMPaused, isBoot(1))
	srv.set("still down")
	n := srv.calls.Load()
	waitFor(t, "checks while paused", func() bool { return srv.calls.Load() >= n+3 })
	h.l.TogglePause()
	h.wait(TypeVMResumed, isBoot(1))
	h.wait(TypeHealthStatus, isHealth(1, false))
	resumed := slices.IndexFunc(h.seen, func(e Event) bool { return e.Type == TypeVMResumed })
	stillDown := slices.IndexFunc(h.seen, func(e Event) bool { return e.Type == TypeHealthStatus && strings.HasSuffix(e.Detail, "still down") })
	if stillDown < resumed {
		t.Errorf("health failing reported while paused: %s", h.types())
	}

	// A reset starts the guest over: ready again.
	srv.set("")
	h.l.Reboot()
	h.wait(TypeVMReset, isBoot(1))
	h.wait(TypeHealthReady, isBoot(1))

	// Once the boot ended, nothing more about it; the next boot gets its
	// own ready.
	h.l.StopVM()
	h.wait(TypeVMExit, isBoot(1))
	n = srv.calls.Load()
	h.l.StartVM()
	h.be.next(t)
	h.wait(TypeHealthReady, isBoot(2))
	ended := slices.IndexFunc(h.seen, func(e Event) bool { return e.Type == TypeVMExit && e.Boot == 1 })
	for _, e := range h.seen[ended:] {
		if e.Source() == "health" && e.Boot == 1 {
			t.Errorf("%s about boot 1 after it ended: %s", e.Type, h.types())
		}
	}
	if srv.calls.Load() <= n {
		t.Error("boot 2's readiness was never checked")
	}
	if !m1.stopped() {
		t.Error("boot 1 was not stopped")
	}
}

// A health.url naming a port that is not forwarded is said at start, and
// boots go on without checks.
func TestLoopHealthURLNotForwarded(t *testing.T) {
	h := newHarness(t, harnessOptions{config: "health.url = \":9999/healthz\"\nvm.ports = [\"8080:80\"]\n"})
	h.run()
	w := h.wait(TypeConfigWarning, nil)
	if !strings.Contains(w.Message, "health.url:") || !strings.Contains(w.Message, "no host port 9999") || !strings.HasSuffix(w.Message, "no health checks") {
		t.Errorf("config.warning %q", w.Message)
	}
	h.boot()
	h.l.StopVM()
	h.wait(TypeVMExit, isBoot(1))
	if h.sawType(TypeHealthReady) || h.sawType(TypeHealthStatus) {
		t.Errorf("health events without a usable URL: %s", h.types())
	}
}

func TestHealthReason(t *testing.T) {
	refused := &url.Error{Op: "Get", URL: "http://127.0.0.1:1/", Err: &net.OpError{Op: "dial", Net: "tcp",
		Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("metrics: health check: %w", &metrics.StatusError{URL: "u", Code: 503, Status: "503 Service Unavailable", Body: "db down"}),
			"503 Service Unavailable: db down"},
		{&metrics.StatusError{Code: 500, Status: "500 Internal Server Error"}, "500 Internal Server Error"},
		{fmt.Errorf("metrics: health check: %w", refused), "connection refused"},
		{&url.Error{Op: "Get", URL: "u", Err: context.DeadlineExceeded}, "no answer within 2s"},
		{&url.Error{Op: "Get", URL: "u", Err: io.EOF}, "connection closed without an answer"},
		{&url.Error{Op: "Get", URL: "u", Err: errors.New("tls: handshake failure")}, "tls: handshake failure"},
		{errors.New("odd"), "odd"},
	}
	for _, tt := range tests {
		if got := healthReason(tt.err); got != tt.want {
			t.Errorf("healthReason(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
