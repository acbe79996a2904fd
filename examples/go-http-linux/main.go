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
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, banner)
	})
	if err := http.Serve(ln, mux); err != nil {
		fmt.Fprintln(os.Stderr, "go-http-linux:", err)
		os.Exit(1)
	}
}
