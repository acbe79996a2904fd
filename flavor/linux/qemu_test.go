package linux_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ukdev/ukdev/bootdisk"
	"github.com/ukdev/ukdev/flavor/linux"
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/vm"
	"github.com/ukdev/ukdev/vm/qemu"
)

// consoleWatch collects the console and closes found when want appears.
type consoleWatch struct {
	want  []byte
	mu    sync.Mutex
	buf   bytes.Buffer
	found chan struct{}
	once  sync.Once
}

func (c *consoleWatch) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Write(p)
	if bytes.Contains(c.buf.Bytes(), c.want) {
		c.once.Do(func() { close(c.found) })
	}
	return len(p), nil
}

func (c *consoleWatch) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// prepareExample builds examples/go-http-linux and prepares its image on l.
func prepareExample(t *testing.T, l *linux.Kernel) image.Image {
	t.Helper()
	program := filepath.Join(t.TempDir(), "app")
	build := exec.Command("go", "build", "-o", program, ".")
	build.Dir = filepath.Join("..", "..", "examples", "go-http-linux")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build example: %v\n%s", err, out)
	}
	store := &image.Store{Dir: t.TempDir(), Keep: 1}
	img, err := l.Prepare(t.Context(), store, 1, image.Artifacts{Kernel: program})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// bootForwarded starts spec under QEMU within timeout, with its QMP socket
// in a short temporary folder (unix socket paths hold 108 bytes), and
// forwards a free host port to the guest's port 8080. The machine is
// stopped at the end of the test, before its context is cancelled.
func bootForwarded(t *testing.T, timeout time.Duration, spec vm.Spec, console io.Writer) (context.Context, *qemu.Machine, int) {
	t.Helper()
	sockDir, err := os.MkdirTemp("", "ukl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	spec.QMPSocket = filepath.Join(sockDir, "qmp")
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	m, err := qemu.Start(ctx, spec, vm.StartOptions{Console: console})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopCtx, stop := context.WithTimeout(context.Background(), 10*time.Second)
		defer stop()
		if err := m.Stop(stopCtx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	port := freePort(t)
	if err := m.AddPortForward(ctx, vm.PortForward{Proto: "tcp", HostPort: port, GuestPort: 8080}); err != nil {
		t.Fatal(err)
	}
	return ctx, m, port
}

// getHello asks the example over HTTP through the forwarded port and
// fails unless it answers "hello from linux".
func getHello(t *testing.T, port int, console fmt.Stringer) {
	t.Helper()
	client := &http.Client{Timeout: 20 * time.Second}
	resp, err := client.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/")
	if err != nil {
		t.Fatalf("GET through the forwarded port: %v; console:\n%s", err, console)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "hello from linux" {
		t.Fatalf("GET = %d %q, %v", resp.StatusCode, body, err)
	}
}

// TestLinuxBootsUnderQEMU builds examples/go-http-linux, boots it on the
// default Linux kernel under TCG (one boot), waits for its banner and
// asks it over HTTP through a forwarded port.
func TestLinuxBootsUnderQEMU(t *testing.T) {
	if testing.Short() {
		t.Skip("boots Linux under TCG (about 5-15 s)")
	}
	if _, err := exec.LookPath(vm.DefaultQEMU); err != nil {
		t.Skipf("no QEMU: %v", err)
	}
	l, err := linux.New(linux.Options{})
	if err != nil {
		t.Skipf("no Linux kernel: %v", err)
	}

	img := prepareExample(t, l)

	console := &consoleWatch{want: []byte("hello from linux"), found: make(chan struct{})}
	start := time.Now()
	_, m, port := bootForwarded(t, 90*time.Second, vm.Spec{
		Image:   img,
		Accel:   "tcg",
		Machine: img.Machine,
		Network: true,
	}, console)

	select {
	case <-console.found:
		t.Logf("%s: banner %v after QEMU started", img.Machine, time.Since(start).Round(time.Millisecond))
	case <-m.Ended():
		t.Fatalf("boot ended (%+v) before the banner; console:\n%s", m.Outcome(), console)
	case <-time.After(60 * time.Second):
		t.Fatalf("no banner within 60 s; console:\n%s", console)
	}

	getHello(t, port, console)
	t.Logf("%s: HTTP answer %v after QEMU started", img.Machine, time.Since(start).Round(time.Millisecond))
}

// TestLinuxDiskBootsUnderQEMU writes the disk of examples/go-http-linux
// (the kernel, the initramfs and the command line behind GRUB), boots it
// from the disk alone under TCG until the program's banner, and asks the
// program over HTTP through a forwarded port.
func TestLinuxDiskBootsUnderQEMU(t *testing.T) {
	if testing.Short() {
		t.Skip("boots Linux from a disk under TCG")
	}
	if _, err := exec.LookPath(vm.DefaultQEMU); err != nil {
		t.Skipf("no QEMU: %v", err)
	}
	if err := (bootdisk.GRUB{}).Installed(); err != nil {
		t.Fatalf("%v", err)
	}
	l, err := linux.New(linux.Options{})
	if err != nil {
		t.Skipf("no Linux kernel: %v", err)
	}
	img := prepareExample(t, l)
	d, err := l.WriteDisk(t.Context(), img, filepath.Join(t.TempDir(), "app.raw"), image.DiskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Machine != linux.DiskMachine || d.Loader != "grub" || !d.ENA {
		t.Errorf("disk = %+v", d)
	}
	// Booted from the disk alone, as vm.BootTest does, but until the
	// program's banner: the initramfs and the command line came through.
	console := &consoleWatch{want: []byte("hello from linux"), found: make(chan struct{})}
	start := time.Now()
	ctx, m, port := bootForwarded(t, 3*time.Minute, vm.Spec{
		Accel:     "tcg",
		Machine:   d.Machine,
		MemoryMiB: 256,
		BootDisk:  d.Path,
		Network:   true,
	}, console)
	select {
	case <-console.found:
		t.Logf("banner %v after QEMU started", time.Since(start).Round(time.Millisecond))
	case <-m.Ended():
		t.Fatalf("boot ended (%+v) before the banner; console:\n%s", m.Outcome(), console)
	case <-ctx.Done():
		t.Fatalf("no banner within 3 minutes; console:\n%s", console)
	}
	if !strings.Contains(console.String(), bootdisk.Handover) {
		t.Errorf("GRUB's handover line missing; console:\n%s", console)
	}
	// The disk's guest took its address by DHCP (linux.DiskIP): it answers
	// through the forwarded port.
	getHello(t, port, console)
}
