package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/guestexit"
	"github.com/ukdev/ukdev/vm/libvirt"
)

// systemURI is the local libvirt daemon the end-to-end tests use.
const systemURI = "qemu:///system"

// needLibvirt skips the test when no libvirt daemon answers at
// systemURI (a developer without libvirt; CI starts one), and returns a
// connection closed at the end of the test.
func needLibvirt(t *testing.T) *golibvirt.Libvirt {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	l, err := libvirt.Dial(ctx, systemURI)
	if err != nil {
		t.Skipf("no libvirt daemon answers at %s (install libvirt-daemon-system and start libvirtd): %v", systemURI, err)
	}
	t.Cleanup(func() { _ = l.Disconnect() })
	return l
}

// domainsOf returns the names of the ukdev domains on systemURI that the
// ukdev of pid created.
func domainsOf(t *testing.T, pid int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), quickWait)
	defer cancel()
	doms, err := libvirt.List(ctx, systemURI)
	if err != nil {
		t.Fatalf("list the domains of %s: %v", systemURI, err)
	}
	var names []string
	for _, d := range doms {
		if d.Owner.PID == pid {
			names = append(names, d.Name)
		}
	}
	return names
}

// waitNoDomains fails the test unless, within a bounded time, no ukdev
// domain of the ukdev of pid is left on systemURI.
func waitNoDomains(t *testing.T, pid int, after string) {
	t.Helper()
	if !pollUntil(stopWait, func() bool { return len(domainsOf(t, pid)) == 0 }) {
		t.Fatalf("libvirt domains of ukdev pid %d left %s: %v", pid, after, domainsOf(t, pid))
	}
}

// createStaleDomain defines and starts, paused, a small transient domain
// tagged as a ukdev of this host with a process that has ended (and not
// auto-destroyed: it outlives the connection that made it), as a ukdev
// whose daemon missed its death would leave behind. It is destroyed at
// the end of the test if still there.
func createStaleDomain(t *testing.T, l *golibvirt.Libvirt, project string) string {
	t.Helper()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	var r [4]byte
	_, _ = rand.Read(r[:])
	name := libvirt.NamePrefix + "e2e-stale-" + hex.EncodeToString(r[:])
	x := fmt.Sprintf(`<domain type='qemu'>
  <name>%s</name>
  <memory unit='MiB'>16</memory>
  <vcpu>1</vcpu>
  <metadata><ukdev:machine xmlns:ukdev=%q host=%q pid="%d" project=%q/></metadata>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices><controller type='usb' model='none'/><memballoon model='none'/></devices>
</domain>`, name, libvirt.Namespace, host, dead.Process.Pid, project)
	dom, err := l.DomainCreateXML(x, golibvirt.DomainStartPaused)
	if err != nil {
		t.Fatalf("create a stale domain: %v", err)
	}
	t.Cleanup(func() { _ = l.DomainDestroy(dom) })
	return name
}

// TestLibvirtEndToEnd runs examples/hello through the libvirt backend on
// qemu:///system with the real binary: a domain a dead ukdev left is
// removed at start (vm.stale), the image's files go to the pool
// (vm.upload), the banner comes up on a ukdev domain, an edit boots a
// new one in its place, ukdev mem reads ticks growing, console input
// reaches the guest and `exit 3` ends the boot as locally; no domain is
// left once ukdev ends, nor after a SIGKILLed ukdev once the next one
// has started.
func TestLibvirtEndToEnd(t *testing.T) {
	l := needLibvirt(t)
	dir, env := helloProject(t, "vm.backend = \"libvirt\"\nvm.libvirt_uri = \""+systemURI+"\"\n")
	stale := createStaleDomain(t, l, dir)

	s := startDev(t, dir, env)
	pid := s.cmd.Process.Pid
	e := s.waitFor("vm.stale", bootWait, isType(devloop.TypeVMStale))
	if !slices.Contains(e.Names, stale) || e.Detail != systemURI {
		t.Errorf("vm.stale = %s, want %s removed from %s", e.raw, stale, systemURI)
	}
	helloOnLibvirt(t, s, dir, env, "hello from libvirt")
	if !pollUntil(quickWait, func() bool { return !slices.Contains(allDomainNames(t), stale) }) {
		t.Errorf("the stale domain %s is still there", stale)
	}
	s.quit()
	waitNoDomains(t, pid, "after ukdev ended")

	// A ukdev killed outright leaves nothing once the next one has
	// started: libvirtd auto-destroys its domain, or the next ukdev
	// removes it.
	killed := startDev(t, dir, env)
	killed.waitFor("the killed ukdev's banner", bootWait, consoleAny("hello from libvirt"))
	kpid := killed.cmd.Process.Pid
	if doms := domainsOf(t, kpid); len(doms) != 1 {
		t.Fatalf("ukdev domains of pid %d = %v, want one", kpid, doms)
	}
	killed.kill()
	next := startDev(t, dir, env)
	next.waitFor("the next ukdev's banner", bootWait, consoleAny("hello from libvirt"))
	skipped := true
	if !uploadedKernel(next, 0, &skipped) {
		t.Errorf("the kernel the pool holds already was not skipped\n%s", next.transcript())
	}
	waitNoDomains(t, kpid, "by a SIGKILLed ukdev once the next one started")
	npid := next.cmd.Process.Pid
	if code := next.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("ukdev exited with status %d after SIGTERM, want 0\n%s", code, next.transcript())
	}
	waitNoDomains(t, npid, "after ukdev ended")
}

// allDomainNames returns the names of every ukdev domain on systemURI.
func allDomainNames(t *testing.T) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), quickWait)
	defer cancel()
	doms, err := libvirt.List(ctx, systemURI)
	if err != nil {
		t.Fatalf("list the domains of %s: %v", systemURI, err)
	}
	var names []string
	for _, d := range doms {
		names = append(names, d.Name)
	}
	return names
}

// TestRunOnEndToEnd: `ukdev run --on URI` boots examples/hello on that
// libvirt host whatever its config says, `--on local` here under QEMU in
// a project configured for libvirt, and a URI that is no libvirt host's
// is refused before anything runs. The guest's `exit 3` is ukdev run's
// status either way.
func TestRunOnEndToEnd(t *testing.T) {
	tests := []struct {
		name    string
		config  string
		on      string
		libvirt bool   // needs the daemon; the boot runs there
		wantErr string // the error on stderr; empty: the boot exits 3
	}{
		{name: "a libvirt host for a local project", on: systemURI, libvirt: true},
		{name: "local for a libvirt project", config: "vm.backend = \"libvirt\"\nvm.libvirt_uri = \"qemu+ssh://nowhere.invalid/system\"\n", on: "local"},
		{name: "not a libvirt host", on: "qemu+ssh:///system", wantErr: "ukdev: --on: libvirt URI \"qemu+ssh:///system\" names no host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.libvirt {
				needLibvirt(t)
			}
			dir, env := helloProject(t, tt.config)
			r := runCLIWithin(t, bootWait, dir, env, "exit 3\n", "run", "--json", "--on", tt.on)
			if tt.wantErr != "" {
				if r.code != 1 || !strings.Contains(r.stderr, tt.wantErr) || strings.Contains(r.stdout, "vm.start") {
					t.Fatalf("want a failure saying %q before any boot\n%s", tt.wantErr, r)
				}
				return
			}
			if r.code != 3 {
				t.Fatalf("want the guest's exit 3\n%s", r)
			}
			var start *jsonEvent
			for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
				e, err := parseEvent(line)
				if err != nil {
					t.Fatalf("a line that is no event: %q", line)
				}
				if e.Type == devloop.TypeVMStart {
					start = &e
				}
			}
			if start == nil {
				t.Fatalf("no vm.start\n%s", r)
			}
			if onHost := strings.Contains(start.Message, "at "+systemURI); onHost != tt.libvirt {
				t.Errorf("vm.start %q: on %s %v, want %v", start.Message, systemURI, onHost, tt.libvirt)
			}
		})
	}
}

// uploadedKernel reports whether the session saw the vm.upload that ends
// boot n's (0: any boot's) upload of its kernel (the image store's copy,
// "kernel") without an error, skipped or not as skipped says when not
// nil.
func uploadedKernel(s *session, n int, skipped *bool) bool {
	for _, e := range s.seenType(devloop.TypeVMUpload) {
		if (n == 0 || e.Boot == n) && e.Finished && filepath.Base(e.File) == "kernel" && e.Detail == "" &&
			e.BytesTotal != nil && *e.BytesTotal > 0 && (skipped == nil || e.Skipped == *skipped) {
			return true
		}
	}
	return false
}

// TestUpOnEndToEnd: `ukdev up --on URI` gives --on to the detached ukdev
// it starts, whose VM runs as a domain on that host until ukdev down.
func TestUpOnEndToEnd(t *testing.T) {
	needLibvirt(t)
	env := testEnv(t)
	killDetached(t, env)
	dir := namedHello(t, "upon")
	r := runCLI(t, dir, env, "", "up", "--on", systemURI)
	if r.code != 0 || !strings.Contains(r.stderr, "at "+systemURI) || !strings.Contains(r.stderr, helloBanner) {
		t.Fatalf("ukdev up --on %s: want the boot at %s and the banner\n%s", systemURI, systemURI, r)
	}
	v := waitPs(t, dir, env, "upon", devloop.StateRunning)
	if doms := domainsOf(t, v.PID); len(doms) != 1 {
		t.Fatalf("ukdev domains of the detached ukdev (pid %d) = %v, want one", v.PID, doms)
	}
	if r := runCLI(t, dir, env, "", "down"); r.code != 0 {
		t.Fatalf("ukdev down\n%s", r)
	}
	waitNoDomains(t, v.PID, "after ukdev down")
}

// helloOnLibvirt drives s, a ukdev running examples/hello in dir on a
// libvirt host: boot 1's banner comes up after its kernel's upload (or
// the finding that the pool holds it), on one domain; an edit to banner
// boots anew in its place; ukdev mem reads ticks growing; typed input
// reaches the guest; `exit 3` ends boot 2 as it does locally.
func helloOnLibvirt(t *testing.T, s *session, dir string, env []string, banner string) {
	t.Helper()
	pid := s.cmd.Process.Pid
	s.waitFor("boot 1 banner", bootWait, consoleLine(1, helloBanner))
	if !uploadedKernel(s, 1, nil) {
		t.Errorf("no vm.upload event ends boot 1's upload of the kernel without an error\n%s", s.transcript())
	}
	if doms := domainsOf(t, pid); len(doms) != 1 {
		t.Fatalf("ukdev domains of pid %d while boot 1 runs = %v, want one\n%s", pid, doms, s.transcript())
	}

	setBanner(t, dir, banner)
	s.waitFor("boot 2 banner", bootWait, consoleLine(2, banner))
	if !pollUntil(stopWait, func() bool { return len(domainsOf(t, pid)) == 1 }) {
		t.Errorf("ukdev domains of pid %d after the reboot = %v, want boot 2's only", pid, domainsOf(t, pid))
	}

	waitTicksGrow(t, dir, env)

	s.send("echo typed into the console")
	s.waitFor("the echo", bootWait, consoleLine(2, "typed into the console"))
	s.send("exit 3")
	exit := s.waitFor("vm.exit of boot 2", bootWait, func(e jsonEvent) bool { return e.Type == devloop.TypeVMExit && e.Boot == 2 })
	if guestexit.Reason(exit.Reason) != guestexit.ReasonExit || exit.ExitCode == nil || *exit.ExitCode != 3 {
		t.Errorf("vm.exit = %s, want reason exit, code 3", exit.raw)
	}
}
