package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/ukdev/ukdev/metrics"
)

// TestNanosGoRuntimeStats runs examples/nanos-http under ukdev dev and
// reads the Go runtime statistics the metrics carry (ukdev stats --json):
// they are there once the server runs, and they change under HTTP load:
// more heap objects allocated and freed, GC cycles run. It skips without
// a Nanos kernel.
func TestNanosGoRuntimeStats(t *testing.T) {
	port := freePort(t)
	dir := nanosProject(t, port)
	env := testEnv(t)
	s := startDev(t, dir, env)
	s.waitFor("the banner", nanosWait, consoleAny(nanosBanner))
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	waitHTTP(t, url, nanosBanner, nanosWait)

	// stats returns the newest value of each go.* series (the largest
	// for go.gc_cycles, a rate: cycles in any interval of the window) and
	// the whole snapshot, for the failure message.
	stats := func() (map[string]float64, string) {
		t.Helper()
		r := runCLIWithin(t, bootWait, dir, env, "", "stats", "--json")
		var snap metrics.Snapshot
		if r.code != 0 || json.Unmarshal([]byte(strings.TrimSpace(r.stdout)), &snap) != nil {
			t.Fatalf("ukdev stats --json:\n%s", r)
		}
		last := make(map[string]float64)
		for _, ser := range snap.Series {
			if v, ok := ser.Last(); ok && strings.HasPrefix(ser.Name, "go.") {
				last[ser.Name] = v
			}
			if ser.Name == "go.gc_cycles" {
				for _, p := range ser.Points {
					last[ser.Name] = max(last[ser.Name], p.V)
				}
			}
		}
		return last, r.stdout
	}
	var before map[string]float64
	var out string
	if !pollUntil(bootWait, func() bool {
		before, out = stats()
		_, heap := before["go.heap_inuse"]
		_, objs := before["go.heap_objects"]
		return heap && objs && before["go.goroutines"] > 0
	}) {
		t.Fatalf("no Go runtime statistics for nanos-http; the last ukdev stats --json:\n%s", out)
	}

	client := &http.Client{}
	load := func(n int) {
		t.Helper()
		for range n {
			resp, err := client.Get(url)
			if err != nil {
				t.Fatalf("GET %s under load: %v", url, err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	// Requests allocate: the GC runs, and the heap's objects change. The
	// GC's rate is a series point only once two samples saw cycles.
	var after map[string]float64
	if !pollUntil(nanosWait, func() bool {
		load(300)
		after, out = stats()
		return after["go.gc_cycles"] > 0 && after["go.heap_objects"] != before["go.heap_objects"]
	}) {
		t.Fatalf("the Go runtime statistics did not change under load: before %v, after %v; the last ukdev stats --json:\n%s",
			before, after, out)
	}
	if _, ok := after["go.gc_pause"]; !ok {
		t.Errorf("no go.gc_pause after GC cycles: %v", after)
	}
	s.quit()
}
