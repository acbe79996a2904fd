package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/internal/sshdtest"
	"github.com/ukdev/ukdev/vm/libvirt"
)

// libvirtOptions are the libvirt part's settings.
type libvirtOptions struct {
	ukdev, example string
	edits          int
	verbose        bool
	// uris are the libvirt hosts timed beside the local backend.
	uris []string
	// ssh adds qemu+ssh://127.0.0.1 through an sshd the part starts.
	ssh bool
}

// backendRun is what the edits of one backend measured.
type backendRun struct {
	name string
	// saveToBanner is each edit's save → new banner on the benchmark's
	// clock, boot each reload's QEMU (or domain) start → first line, in ms.
	saveToBanner, boot []float64
	// firstBoot is ukdev's start → boot 1's first line, which includes
	// the first upload to a libvirt host.
	firstBoot float64
	accel     string
}

// runLibvirt times save → first line of -example's reloads under the
// local QEMU backend and then through each libvirt URI, and prints the
// medians side by side with each one's ratio to the local backend. A
// libvirt host that does not answer is reported and left out.
func runLibvirt(w io.Writer, o libvirtOptions) error {
	if o.edits < 1 {
		return fmt.Errorf("bench: -libvirt-edits must be at least 1, got %d", o.edits)
	}
	local, err := benchBackend(o, "local QEMU", "local")
	if err != nil {
		return err
	}
	runs := []backendRun{local}
	var skipped []string
	uris := o.uris
	if o.ssh {
		dir, err := os.MkdirTemp("", "ukbench-sshd")
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer os.RemoveAll(dir)
		s, err := sshdtest.New(dir)
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("qemu+ssh://127.0.0.1: not measured: %v", err))
		} else {
			defer s.Close()
			uris = append(uris, s.LibvirtURI())
		}
	}
	for _, uri := range uris {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		l, err := libvirt.Dial(ctx, uri)
		cancel()
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("%s: not measured: %v", redactURI(uri), err))
			continue
		}
		_ = l.Disconnect()
		r, err := benchBackend(o, "libvirt "+shortURI(uri), uri)
		if err != nil {
			return err
		}
		runs = append(runs, r)
	}
	fmt.Fprintf(w, "\nlibvirt backend: %d edits of %s per backend, save → first line of the new boot (the benchmark's clock)\n", o.edits, o.example)
	fmt.Fprintf(w, "  %-50s %6s %11s %9s %11s %16s\n", "backend", "accel", "median ms", "p90 ms", "× local", "start→line ms")
	for _, r := range runs {
		fmt.Fprintf(w, "  %-50s %6s %11.1f %9.1f %10.2f× %16.1f\n", r.name, strings.ToUpper(r.accel), median(r.saveToBanner), p90(r.saveToBanner),
			median(r.saveToBanner)/median(local.saveToBanner), median(r.boot))
	}
	fmt.Fprintln(w, "  (start→line: the domain's or QEMU's start → its first console line, medians; ukdev's first boot, upload included:")
	for _, r := range runs {
		fmt.Fprintf(w, "   %s %.0f ms", r.name, r.firstBoot)
	}
	fmt.Fprintln(w, ")")
	for _, s := range skipped {
		fmt.Fprintln(w, "  "+s)
	}
	return nil
}

// benchBackend runs `ukdev dev --json --on on` on a copy of the example
// and times its edits.
func benchBackend(o libvirtOptions, name, on string) (backendRun, error) {
	r := backendRun{name: name}
	ws, err := newWorkspace(o.ukdev, "ukbench-libvirt")
	if err != nil {
		return r, err
	}
	defer ws.remove()
	dir := filepath.Join(ws.tmp, "project")
	if err := copyProject(o.example, dir); err != nil {
		return r, err
	}
	mainC := filepath.Join(dir, "main.c")
	started := time.Now()
	s, err := startSession(ws.ukdev, dir, ws.env("NO_COLOR=1"), o.verbose, "--on", on)
	if err != nil {
		return r, err
	}
	defer s.kill()
	if _, err := s.waitFor(name+": boot 1's first console line", func(e event) bool { return e.Type == devloop.TypeVMConsole && e.Boot == 1 }); err != nil {
		return r, err
	}
	r.firstBoot = ms(time.Since(started))
	boot := 1
	for i := 1; i <= o.edits; i++ {
		banner := fmt.Sprintf("bench libvirt edit %d", i)
		saved := time.Now()
		if err := setBanner(mainC, banner); err != nil {
			return r, err
		}
		e, err := s.waitFor(fmt.Sprintf("%s: edit %d's banner %q", name, i, banner), func(e event) bool {
			return e.Type == devloop.TypeVMConsole && e.Boot > boot && e.Line != nil && strings.TrimSpace(*e.Line) == banner
		})
		if err != nil {
			return r, err
		}
		r.saveToBanner = append(r.saveToBanner, ms(time.Since(saved)))
		boot = e.Boot
		if _, ok := s.reloads[boot]; !ok {
			if _, err := s.waitFor(fmt.Sprintf("%s: boot %d's reload.done", name, boot), func(e event) bool { return e.Type == devloop.TypeReload && e.Boot == boot }); err != nil {
				return r, err
			}
		}
		if t, ok := s.reloads[boot]; ok {
			r.boot = append(r.boot, t.BootMS)
		}
	}
	if st, ok := s.starts[boot]; ok {
		r.accel = st.Accel
	}
	if err := s.stop(); err != nil {
		return r, err
	}
	if left := ws.killLeftovers(); len(left) > 0 {
		return r, fmt.Errorf("bench: %s: ukdev left QEMU processes behind after SIGTERM (killed): %v", name, left)
	}
	return r, nil
}

// shortURI is uri without its query (the benchmark's ssh wrapper) and
// password.
func shortURI(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return uri
	}
	u.RawQuery = ""
	return u.Redacted()
}

// redactURI drops a password from a libvirt URI.
func redactURI(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return uri
	}
	return u.Redacted()
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
