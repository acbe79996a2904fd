// Command go-http-linux is ukdev's example for the linux flavor: a small
// HTTP server that runs as the only program (/init) on a Linux kernel.
// Run `ukdev` in this directory, edit banner, save, and the new server is
// up a moment later.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync/atomic"
)

// banner is the first line the program prints and what GET / answers:
// edit it to see a reload.
const banner = "hello from linux"

func main() {
	addr := flag.String("addr", ":8080", "address to listen on")
	flag.Parse()
	// Listen before printing the banner, so that a client that waits for
	// the banner never finds the port closed.
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		// As /init, exiting panics the kernel; ukdev shows the exit code.
		fmt.Fprintln(os.Stderr, "go-http-linux:", err)
		os.Exit(1)
	}
	fmt.Println(banner)
	log.Printf("listening on %s", ln.Addr())

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", counted(0, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, banner)
	}))
	// ukdev.toml points metrics.url and health.url here: ukdev graphs
	// the metrics and says when the server is ready after each boot.
	mux.HandleFunc("GET /metrics", counted(1, serveMetrics))
	mux.HandleFunc("GET /healthz", counted(2, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	}))
	if err := http.Serve(ln, mux); err != nil {
		fmt.Fprintln(os.Stderr, "go-http-linux:", err)
		os.Exit(1)
	}
}

// handlers names the counted handlers, by index, as the handler label of
// http_requests_total.
var handlers = [...]string{"/", "/metrics", "/healthz"}

// requests counts the requests served by each of handlers.
var requests [len(handlers)]atomic.Uint64

// counted counts the requests h serves as handler number i.
func counted(i int, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		requests[i].Add(1)
		h(w, r)
	}
}

// serveMetrics writes the server's metrics in the Prometheus text format,
// with the standard library only: requests served, goroutines, heap in
// use. A real program would use a Prometheus client library.
func serveMetrics(w http.ResponseWriter, r *http.Request) {
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	fmt.Fprintln(w, "# HELP http_requests_total HTTP requests served, by handler.")
	fmt.Fprintln(w, "# TYPE http_requests_total counter")
	for i, h := range handlers {
		fmt.Fprintf(w, "http_requests_total{handler=%q} %d\n", h, requests[i].Load())
	}
	fmt.Fprintln(w, "# HELP go_goroutines Number of goroutines that currently exist.")
	fmt.Fprintln(w, "# TYPE go_goroutines gauge")
	fmt.Fprintf(w, "go_goroutines %d\n", runtime.NumGoroutine())
	fmt.Fprintln(w, "# HELP go_memstats_heap_inuse_bytes Bytes in in-use heap spans.")
	fmt.Fprintln(w, "# TYPE go_memstats_heap_inuse_bytes gauge")
	fmt.Fprintf(w, "go_memstats_heap_inuse_bytes %d\n", mem.HeapInuse)
}
