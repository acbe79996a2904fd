package libvirt

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/vm"
)

// waitLimit bounds every wait on the guest: generous, for TCG on a
// loaded host.
const waitLimit = 60 * time.Second

// reachable connects to the test's libvirt daemon (LIBVIRT_DEFAULT_URI,
// else qemu:///system) or skips the test when none answers.
func reachable(t *testing.T) *golibvirt.Libvirt {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	l, err := Dial(ctx, "")
	if err != nil {
		t.Skipf("no libvirt daemon reachable at %s: %v", ResolveURI(""), err)
	}
	t.Cleanup(func() { _ = l.Disconnect() })
	return l
}

// helloELF returns the example unikernel, built if need be.
func helloELF(t *testing.T) string {
	t.Helper()
	dir := filepath.Join("..", "..", "examples", "hello")
	path := filepath.Join(dir, "build", "hello.elf")
	if _, err := os.Stat(path); err != nil {
		if b, err := exec.Command("make", "-C", dir).CombinedOutput(); err != nil {
			t.Skipf("cannot build examples/hello: %v\n%s", err, b)
		}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// symbol returns the address of a symbol of the ELF at path.
func symbol(t *testing.T, path, name string) uint64 {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range syms {
		if s.Name == name {
			return s.Value
		}
	}
	t.Fatalf("no symbol %s in %s", name, path)
	return 0
}

// testBackend returns a Backend on a pool of the test's own, removed at
// the end with its volumes.
func testBackend(t *testing.T, l *golibvirt.Libvirt) *Backend {
	t.Helper()
	// The pid keeps apart the pools of test runs in parallel on one daemon.
	name := "ukdev-test-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")) + "-" + strconv.Itoa(os.Getpid())
	b := &Backend{Pool: name, PoolDir: t.TempDir(), Owner: Owner{Project: "/work/example"}}
	t.Cleanup(func() {
		pool, err := l.StoragePoolLookupByName(name)
		if err != nil {
			return
		}
		vols, _, _ := l.StoragePoolListAllVolumes(pool, 1, 0)
		for _, v := range vols {
			_ = l.StorageVolDelete(v, 0)
		}
		_ = l.StoragePoolDestroy(pool)
		_ = l.StoragePoolUndefine(pool)
	})
	// Before the pool goes: its machines are stopped first.
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Backend.Close: %v", err)
		}
	})
	return b
}

// console collects a machine's console output.
type console struct {
	mu  sync.Mutex
	buf bytes.Buffer
	ch  chan struct{}
}

func newConsole() *console { return &console{ch: make(chan struct{}, 1)} }

func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.buf.Write(p)
	c.mu.Unlock()
	select {
	case c.ch <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (c *console) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// wait waits until the output holds want.
func (c *console) wait(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(waitLimit)
	for !strings.Contains(c.String(), want) {
		select {
		case <-c.ch:
		case <-deadline:
			t.Fatalf("console never showed %q; got:\n%s", want, c.String())
		}
	}
}

// ukdevDomains lists the names of the domains carrying ukdev's metadata
// tag (List).
func ukdevDomains(t *testing.T) []string {
	t.Helper()
	doms, err := List(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range doms {
		names = append(names, d.Name)
	}
	return names
}

func helloSpec(t *testing.T) vm.Spec {
	return vm.Spec{Image: image.Image{Kernel: helloELF(t), DebugExit: true, PVPanic: true}, Machine: "pc", MemoryMiB: 64}
}

// The example boots as a domain: banner, typed input, memory, registers,
// metrics, and `exit 3` decoded as QEMU's status 7; nothing is left.
func TestMachineHello(t *testing.T) {
	l := reachable(t)
	b := testBackend(t, l)
	spec := helloSpec(t)
	con := newConsole()
	var uploads []vm.Transfer
	m, err := b.Start(t.Context(), spec, vm.StartOptions{Console: con, Progress: func(tr vm.Transfer) { uploads = append(uploads, tr) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Stop(context.Background()) })
	name := m.(*Machine).Name()
	doms, err := List(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, d := range doms {
		if d.Name == name {
			found = true
			if d.Owner.PID != os.Getpid() || d.Owner.Project != "/work/example" || d.Owner.Host == "" || d.State != "running" {
				t.Errorf("List: %+v, want this process's running domain of /work/example", d)
			}
		}
	}
	if !found {
		t.Errorf("List = %+v, want %s among them", doms, name)
	}
	if n := len(uploads); n < 2 || uploads[0].Sent != 0 || uploads[0].Done || !uploads[n-1].Done || uploads[n-1].Err != nil ||
		uploads[n-1].Sent != uploads[n-1].Total || uploads[n-1].Skipped || uploads[n-1].Dest == "" || uploads[n-1].File != spec.Image.Kernel {
		t.Errorf("uploads = %+v, want a first report and a finished upload of the kernel", uploads)
	}

	con.wait(t, "hello from ukdev")
	if _, err := m.WriteConsole([]byte("echo typed through libvirt\r")); err != nil {
		t.Fatal(err)
	}
	con.wait(t, "\r\ntyped through libvirt\r\n")

	ticks := symbol(t, spec.Image.Kernel, "ticks")
	read := func() uint32 {
		b, err := m.ReadMemory(t.Context(), ticks, 4, false)
		if err != nil {
			t.Fatal(err)
		}
		return binary.LittleEndian.Uint32(b)
	}
	first := read()
	deadline := time.Now().Add(waitLimit)
	for read() == first && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if read() == first {
		t.Errorf("ticks stayed at %d", first)
	}
	big, err := m.ReadMemory(t.Context(), 0x100000, 200<<10, true)
	if err != nil || len(big) != 200<<10 || !bytes.Equal(big[:4], []byte{0x02, 0xb0, 0xad, 0x1b}) {
		t.Errorf("ReadMemory 200 KiB at 1 MiB: %d bytes starting %x, %v; want the multiboot header", len(big), big[:min(len(big), 4)], err)
	}
	r, err := m.Registers(t.Context())
	if err != nil || r.CR0&1 == 0 {
		t.Errorf("Registers = %+v, %v; want protected mode", r, err)
	}
	s, err := m.Sample(t.Context())
	if err != nil || len(s.VCPUs) != 1 {
		t.Errorf("Sample = %+v, %v; want one vCPU", s, err)
	}
	if size, err := m.MemorySize(t.Context()); err != nil || size != 64<<20 {
		t.Errorf("MemorySize = %d, %v; want 64 MiB", size, err)
	}
	if hs, err := m.HostStats(); err != nil || hs.RSSBytes == 0 || hs.PID == 0 {
		t.Errorf("HostStats = %+v, %v; want a pid and a resident set", hs, err)
	}

	if err := m.Pause(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st, err := m.Status(t.Context()); err != nil || st != vm.StatusPaused {
		t.Errorf("Status after Pause = %q, %v", st, err)
	}
	if err := m.Resume(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st, err := m.Status(t.Context()); err != nil || st != vm.StatusRunning {
		t.Errorf("Status after Resume = %q, %v", st, err)
	}

	if _, err := m.WriteConsole([]byte("exit 3\r")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-m.Ended():
	case <-time.After(waitLimit):
		t.Fatalf("the boot did not end after exit 3; console:\n%s", con)
	}
	want := image.Outcome{Kind: image.QEMUExited, Status: 7}
	if o := m.Outcome(); o.Kind != want.Kind || o.Status != want.Status {
		t.Errorf("Outcome = %+v, want %+v", o, want)
	}
	select {
	case <-m.Exited():
	case <-time.After(waitLimit):
		t.Fatal("the domain did not go after the guest's exit")
	}
	if _, err := m.WriteConsole([]byte("x")); !errors.Is(err, vm.ErrExited) {
		t.Errorf("WriteConsole after exit = %v, want ErrExited", err)
	}
	if _, err := m.Status(t.Context()); !errors.Is(err, vm.ErrExited) {
		t.Errorf("Status after exit = %v, want ErrExited", err)
	}
	if got := ukdevDomains(t); contains(got, name) {
		t.Errorf("domain %s still there after the exit: %v", name, got)
	}

	// The same kernel again: its volume is reused, not uploaded again.
	uploads = nil
	m2, err := b.Start(t.Context(), spec, vm.StartOptions{Console: newConsole(), Progress: func(tr vm.Transfer) { uploads = append(uploads, tr) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(uploads) != 2 || uploads[0].Done || !uploads[1].Done || !uploads[1].Skipped || uploads[1].Sent != 0 {
		t.Errorf("second start's uploads = %+v, want a first report and a skipped end", uploads)
	}
}

// A panicking guest stays, paused, until Reset restarts it; Stop leaves
// no domain.
func TestMachinePanicThenStop(t *testing.T) {
	l := reachable(t)
	b := testBackend(t, l)
	con := newConsole()
	m, err := b.Start(t.Context(), helloSpec(t), vm.StartOptions{Console: con})
	if err != nil {
		t.Fatal(err)
	}
	con.wait(t, "hello from ukdev")
	if _, err := m.WriteConsole([]byte("panic\r")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-m.Ended():
	case <-time.After(waitLimit):
		t.Fatalf("no end after panic; console:\n%s", con)
	}
	if o := m.Outcome(); o.Kind != image.GuestPanicked {
		t.Errorf("Outcome = %+v, want GuestPanicked", o)
	}
	if !strings.Contains(con.String(), "panic: guest panic requested") {
		t.Errorf("the panic's line is missing from the console:\n%s", con)
	}
	if st, err := m.Status(t.Context()); err != nil || st != "guest-panicked" {
		t.Errorf("Status = %q, %v; want guest-panicked", st, err)
	}
	if _, err := m.ReadMemory(t.Context(), 0x100000, 16, false); err != nil {
		t.Errorf("ReadMemory of the panicked guest: %v", err)
	}
	// A reset restarts the panicked guest as a new boot.
	if err := m.Reset(t.Context()); err != nil {
		t.Fatal(err)
	}
	if m.HasEnded() {
		t.Errorf("the boot after Reset has ended: %+v", m.Outcome())
	}
	before := strings.Count(con.String(), "hello from ukdev")
	deadline := time.Now().Add(waitLimit)
	for strings.Count(con.String(), "hello from ukdev") == before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if st, err := m.Status(t.Context()); err != nil || st != vm.StatusRunning || strings.Count(con.String(), "hello from ukdev") != before+1 {
		t.Errorf("after Reset: status %q, %v; console:\n%s", st, err, con)
	}
	name := m.(*Machine).Name()
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { _ = m.Stop(t.Context()) })
	}
	wg.Wait()
	if !m.HasEnded() || !isClosed(m.Exited()) {
		t.Error("Stop returned before the machine was gone")
	}
	if o := m.Outcome(); o.Kind != image.StoppedByHost {
		t.Errorf("Outcome after Stop = %+v, want StoppedByHost", o)
	}
	if got := ukdevDomains(t); contains(got, name) {
		t.Errorf("domain %s still there after Stop: %v", name, got)
	}
	if _, err := l.DomainLookupByName(name); !isError(err, golibvirt.ErrNoDomain) {
		t.Errorf("DomainLookupByName(%s) after Stop = %v, want no domain", name, err)
	}
}

// A guest started paused runs nothing until Resume; a Stop before any
// end is StoppedByHost.
func TestMachineStartPausedStop(t *testing.T) {
	l := reachable(t)
	b := testBackend(t, l)
	spec := helloSpec(t)
	spec.StartPaused = true
	con := newConsole()
	m, err := b.Start(t.Context(), spec, vm.StartOptions{Console: con})
	if err != nil {
		t.Fatal(err)
	}
	// As with vm/qemu: QEMU has not run the guest yet.
	if st, err := m.Status(t.Context()); err != nil || st != "prelaunch" {
		t.Errorf("Status = %q, %v; want prelaunch", st, err)
	}
	if strings.Contains(con.String(), "hello") {
		t.Errorf("a guest started paused wrote %q", con)
	}
	if err := m.Resume(t.Context()); err != nil {
		t.Fatal(err)
	}
	con.wait(t, "hello from ukdev")
	if err := m.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if o := m.Outcome(); o.Kind != image.StoppedByHost {
		t.Errorf("Outcome = %+v, want StoppedByHost", o)
	}
}

// A triple fault ends the boot as a guest reset, and libvirt ends the
// domain (it has no "preserve" for a reset): Exited follows by itself.
// The example boots on microvm too (PVH, legacy devices asked for).
func TestMachineMicrovmGuestReset(t *testing.T) {
	l := reachable(t)
	b := testBackend(t, l)
	spec := helloSpec(t)
	spec.Machine = "microvm"
	con := newConsole()
	m, err := b.Start(t.Context(), spec, vm.StartOptions{Console: con})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Stop(context.Background()) })
	con.wait(t, "hello from ukdev")
	if _, err := m.WriteConsole([]byte("crash\r")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-m.Exited():
	case <-time.After(waitLimit):
		t.Fatalf("the domain stayed after a triple fault; console:\n%s", con)
	}
	if o := m.Outcome(); o.Kind != image.GuestReset {
		t.Errorf("Outcome = %+v, want GuestReset", o)
	}
	if !strings.Contains(con.String(), "triple fault") {
		t.Errorf("the crash's line is missing from the console:\n%s", con)
	}
}

// helperEnv makes the test binary a ukdev that starts a domain, prints
// its name and waits to be killed (TestDomainGoesWithKilledClient).
const helperEnv = "UKDEV_LIBVIRT_TEST_HELPER"

func TestHelperStartAndWait(t *testing.T) {
	if os.Getenv(helperEnv) == "" {
		t.Skip("helper of TestDomainGoesWithKilledClient")
	}
	reachable(t)
	// The parent's pool: it removes it.
	pool, dir, _ := strings.Cut(os.Getenv(helperEnv), ":")
	b := &Backend{Pool: pool, PoolDir: dir}
	m, err := b.Start(t.Context(), helloSpec(t), vm.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("domain " + m.(*Machine).Name() + "\n")
	select {}
}

// A ukdev killed by SIGKILL leaves no domain: it was started
// auto-destroyed, and libvirtd destroys it when the connection closes.
func TestDomainGoesWithKilledClient(t *testing.T) {
	b := testBackend(t, reachable(t))
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperStartAndWait$", "-test.v")
	cmd.Env = append(os.Environ(), helperEnv+"="+b.Pool+":"+b.PoolDir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if name, ok := strings.CutPrefix(sc.Text(), "domain "); ok {
				lines <- name
			}
		}
		close(lines)
	}()
	var name string
	select {
	case name = <-lines:
	case <-time.After(waitLimit):
		t.Fatal("the helper never started its domain")
	}
	if name == "" {
		t.Fatal("the helper ended without starting a domain")
	}
	if !contains(ukdevDomains(t), name) {
		t.Fatalf("domain %s is not running", name)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitLimit)
	for contains(ukdevDomains(t), name) {
		if time.Now().After(deadline) {
			t.Fatalf("domain %s outlived its killed client", name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A port forward binds the port on the libvirt host (this one) through
// the domain's user-mode network; a machine without one refuses.
func TestMachinePortForward(t *testing.T) {
	l := reachable(t)
	b := testBackend(t, l)
	spec := helloSpec(t)
	spec.Network = true
	m, err := b.Start(t.Context(), spec, vm.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Stop(context.Background()) })
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := probe.Addr().(*net.TCPAddr).Port
	probe.Close()
	if err := m.AddPortForward(t.Context(), vm.PortForward{Proto: "tcp", HostPort: port, GuestPort: 80}); err != nil {
		t.Fatal(err)
	}
	if ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
		ln.Close()
		t.Errorf("port %d is free after AddPortForward", port)
	}
	var pe *vm.PortError
	if err := m.AddPortForward(t.Context(), vm.PortForward{Proto: "tcp", HostPort: port, GuestPort: 81}); !errors.As(err, &pe) {
		t.Errorf("AddPortForward on a port in use = %v, want a *vm.PortError", err)
	}

	plain, err := b.Start(t.Context(), helloSpec(t), vm.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Stop(context.Background())
	if err := plain.AddPortForward(t.Context(), vm.PortForward{Proto: "tcp", HostPort: port, GuestPort: 80}); !errors.Is(err, vm.ErrNoNetwork) {
		t.Errorf("AddPortForward without a network = %v, want ErrNoNetwork", err)
	}
}

// Reset reboots a running guest on pc in the same domain, through
// SeaBIOS's own reboot, and a triple fault after it still ends the boot.
func TestMachineResetRunningPC(t *testing.T) {
	l := reachable(t)
	b := testBackend(t, l)
	con := newConsole()
	m, err := b.Start(t.Context(), helloSpec(t), vm.StartOptions{Console: con})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Stop(context.Background()) })
	con.wait(t, "hello from ukdev")
	if err := m.Reset(t.Context()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitLimit)
	for strings.Count(con.String(), "hello from ukdev") < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := strings.Count(con.String(), "hello from ukdev"); n != 2 || m.HasEnded() {
		t.Fatalf("after Reset: %d banners, ended %v (%+v); console:\n%s", n, m.HasEnded(), m.Outcome(), con)
	}
	// The reboot action is back to shutdown once SeaBIOS has rebooted.
	for m.(*Machine).biosReset.Load() != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := m.WriteConsole([]byte("crash\r")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-m.Ended():
	case <-time.After(waitLimit):
		t.Fatalf("a triple fault after Reset did not end the boot; console:\n%s", con)
	}
	if o := m.Outcome(); o.Kind != image.GuestReset {
		t.Errorf("Outcome = %+v, want GuestReset", o)
	}
}

func TestBackendInstalledAndProbe(t *testing.T) {
	reachable(t)
	var b Backend
	defer b.Close()
	for _, bin := range []string{"", vm.DefaultQEMU, "/usr/bin/qemu-system-x86_64"} {
		if err := b.Installed(bin); err != nil {
			t.Errorf("Installed(%q) = %v", bin, err)
		}
	}
	if err := b.Installed("/no/such/qemu"); err == nil {
		t.Error("Installed of a missing emulator succeeded")
	}
	if err := (&Backend{URI: "qemu:///system?socket=/no/such/socket"}).Installed(""); err == nil { // nothing to close
		t.Error("Installed with no daemon succeeded")
	}
	kvm := false
	if f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0); err == nil {
		f.Close()
		kvm = true
	}
	if a := b.ProbeAccel(t.Context(), ""); a.Reason == "" || (a.Name == "kvm") != kvm {
		t.Errorf("ProbeAccel = %+v; /dev/kvm usable: %v", a, kvm)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// A domain of the project whose ukdev is gone (here: one created without
// auto-destroy, owned by a process that has exited) is destroyed by
// CleanStale; one of a live process, of another host or of another
// project is kept.
func TestCleanStale(t *testing.T) {
	l := reachable(t)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	project := t.TempDir()
	spec := vm.Spec{Machine: "pc", MemoryMiB: 16, StartPaused: true}
	create := func(owner Owner) string {
		x, err := domainXML(domainParams{Name: newDomainName(owner), Spec: spec, Owner: owner})
		if err != nil {
			t.Fatal(err)
		}
		dom, err := l.DomainCreateXML(x, golibvirt.DomainStartPaused)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = l.DomainDestroy(dom) })
		return dom.Name
	}
	staleName := create(Owner{Host: host, PID: dead.Process.Pid, Project: project})
	liveName := create(Owner{Host: host, PID: os.Getpid(), Project: project})
	otherHost := create(Owner{Host: host + "-elsewhere", PID: dead.Process.Pid, Project: project})
	otherProject := create(Owner{Host: host, PID: dead.Process.Pid, Project: project + "-other"})
	got, err := CleanStale(t.Context(), "", project)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != staleName {
		t.Errorf("CleanStale = %v, want [%s]", got, staleName)
	}
	left := ukdevDomains(t)
	if contains(left, staleName) || !contains(left, liveName) || !contains(left, otherHost) || !contains(left, otherProject) {
		t.Errorf("domains left = %v; want %s, %s and %s, not %s", left, liveName, otherHost, otherProject, staleName)
	}
}
