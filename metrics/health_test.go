package metrics_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ukdev/ukdev/metrics"
)

func TestCheckHealth(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		code    int // the StatusError's code; 0: healthy
	}{
		{"200", page("text/plain", "ok\n"), 0},
		{"204 without a body", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }, 0},
		{"redirect to a healthy page", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/healthz" {
				http.Redirect(w, r, "/ready", http.StatusFound)
				return
			}
			page("", "ok")(w, r)
		}, 0},
		{"503", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "database down", http.StatusServiceUnavailable)
		}, 503},
		{"500", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := metrics.CheckHealth(context.Background(), nil, serve(t, tt.handler)+"/healthz")
			var se *metrics.StatusError
			switch {
			case tt.code == 0 && err != nil:
				t.Errorf("got %v, want healthy", err)
			case tt.code != 0 && (!errors.As(err, &se) || se.Code != tt.code):
				t.Errorf("got %v, want status %d", err, tt.code)
			}
		})
	}
	t.Run("the reason is the body's first line", func(t *testing.T) {
		err := metrics.CheckHealth(context.Background(), nil, serve(t, func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "database down", http.StatusServiceUnavailable)
		}))
		var se *metrics.StatusError
		if !errors.As(err, &se) || se.Body != "database down" || se.Status != "503 Service Unavailable" {
			t.Errorf("got %#v", err)
		}
	})
	t.Run("refused", func(t *testing.T) {
		if err := metrics.CheckHealth(context.Background(), nil, refusedURL(t)); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("got %v, want ECONNREFUSED", err)
		}
	})
	t.Run("slow", func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		url := serve(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if err := metrics.CheckHealth(ctx, nil, url); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got %v, want a deadline error", err)
		}
	})
}

// WaitReady returns once the endpoint turns healthy, after failing
// answers, refusals and a slow answer.
func TestWaitReady(t *testing.T) {
	var calls atomic.Int32
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1, 2:
			http.Error(w, "starting", http.StatusServiceUnavailable)
		case 3:
			page("text/plain", "garbage is fine: health needs only a 2xx\x00")(w, r)
		}
	})
	d, err := metrics.WaitReady(context.Background(), nil, url, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("ready after %d checks, want 3", n)
	}
	if d < 20*time.Millisecond {
		t.Errorf("ready after %v: two intervals of 10ms were due first", d)
	}
}

func TestWaitReadyGivesUp(t *testing.T) {
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "never", http.StatusServiceUnavailable)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := metrics.WaitReady(ctx, nil, url, 0)
	var se *metrics.StatusError
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &se) || se.Body != "never" {
		t.Errorf("got %v, want the deadline and the last answer", err)
	}
}

// An endpoint slower than WaitReady's first attempts is ready all the
// same, once an attempt waits long enough.
func TestWaitReadySlowEndpoint(t *testing.T) {
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(500 * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		page("text/plain", "ok")(w, r)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := metrics.WaitReady(ctx, nil, url, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if d < 500*time.Millisecond {
		t.Errorf("ready after %v, before the endpoint could answer", d)
	}
}
