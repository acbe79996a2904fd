package libvirt

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ukdev/ukdev/internal/sshdtest"
	"github.com/ukdev/ukdev/vm"
)

func TestParseUsernet(t *testing.T) {
	const out = "Hub -1 (hostnet0):\r\n" +
		"  Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ\r\n" +
		"  TCP[HOST_FORWARD]  13       127.0.0.1 46423       10.0.2.15    80     0     0\r\n" +
		"  UDP[HOST_FORWARD]  14       127.0.0.1 5353        10.0.2.15    53     0     0\r\n" +
		"  TCP[ESTABLISHED]   15       10.0.2.15 50000    93.184.216.34   443     0     0\r\n" +
		"  TCP[HOST_FORWARD]  12       127.0.0.1 38577       10.0.2.15  8080     0     0\r\n"
	want := []usernetForward{{46423, 80}, {38577, 8080}}
	got := parseUsernet(out)
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("parseUsernet = %+v, want %+v", got, want)
	}
	if got := parseUsernet(""); got != nil {
		t.Errorf("parseUsernet of nothing = %+v", got)
	}
}

func TestParseChardevPort(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"disconnected:tcp:127.0.0.1:37953,server=on", 37953, true},
		{"tcp:127.0.0.1:37953,server=on <-> 127.0.0.1:51234", 37953, true},
		{"unix:/tmp/gdb.sock,server=on", 0, false},
		{"pty:/dev/pts/3", 0, false},
	}
	for _, tt := range tests {
		if got, ok := parseChardevPort(tt.in); got != tt.want || ok != tt.ok {
			t.Errorf("parseChardevPort(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestGDBListenAddr(t *testing.T) {
	tests := []struct {
		in, network, addr string
		wantErr           bool
	}{
		{"unix:/run/u/gdb.sock", "unix", "/run/u/gdb.sock", false},
		{"tcp:127.0.0.1:1234", "tcp", "127.0.0.1:1234", false},
		{"tcp:", "", "", true},
		{"/run/u/gdb.sock", "", "", true},
		{"", "", "", true},
	}
	for _, tt := range tests {
		n, a, err := gdbListenAddr(tt.in)
		if n != tt.network || a != tt.addr || (err != nil) != tt.wantErr {
			t.Errorf("gdbListenAddr(%q) = %q, %q, %v", tt.in, n, a, err)
		}
	}
}

// Forwards that cannot be tunnelled are refused before anything is asked
// of the host.
func TestAddPortForwardRefusals(t *testing.T) {
	pf := vm.PortForward{Proto: "tcp", HostPort: 8080, GuestPort: 80}
	udp := vm.PortForward{Proto: "udp", HostPort: 5353, GuestPort: 53}
	tests := []struct {
		name       string
		uri        string
		network    bool
		libvirtNet string
		pf         vm.PortForward
		noNetwork  bool   // want vm.ErrNoNetwork
		detail     string // want a *vm.PortError whose Detail holds this
	}{
		{name: "no network", uri: "qemu+ssh://h/system", pf: pf, noNetwork: true},
		{name: "libvirt network", uri: "qemu+ssh://h/system", network: true, libvirtNet: "lan", pf: pf, noNetwork: true},
		{name: "udp over ssh", uri: "qemu+ssh://h/system", network: true, pf: udp, detail: "only TCP over qemu+ssh is tunnelled"},
		{name: "tcp transport", uri: "qemu+tcp://h/system", network: true, pf: pf, detail: "reached over tcp"},
		{name: "tls transport", uri: "qemu://h/system", network: true, pf: pf, detail: "reached over tls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Machine{b: &Backend{Network: tt.libvirtNet}, uri: tt.uri, spec: vm.Spec{Network: tt.network}}
			err := m.AddPortForward(t.Context(), tt.pf)
			if tt.noNetwork {
				if !errors.Is(err, vm.ErrNoNetwork) {
					t.Errorf("AddPortForward = %v, want ErrNoNetwork", err)
				}
				if tt.libvirtNet != "" && (err == nil || !strings.Contains(err.Error(), strconv.Quote(tt.libvirtNet))) {
					t.Errorf("AddPortForward = %v, want the network named", err)
				}
				return
			}
			var pe *vm.PortError
			if !errors.As(err, &pe) || !strings.Contains(pe.Detail, tt.detail) {
				t.Errorf("AddPortForward = %v, want a *vm.PortError saying %q", err, tt.detail)
			}
		})
	}
}

// loggedSSH wraps ssh in a script that logs each run's arguments, one
// line each, to the returned file.
func loggedSSH(t *testing.T, ssh string) (bin, logFile string) {
	t.Helper()
	dir := t.TempDir()
	bin, logFile = filepath.Join(dir, "ssh"), filepath.Join(dir, "ssh.log")
	script := "#!/bin/sh\necho \"$*\" >>'" + logFile + "'\nexec '" + ssh + "' \"$@\"\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, logFile
}

// sshURI returns the qemu+ssh:// URI of this machine's daemon through a
// real sshd on the loopback, its ssh command logged (sshRuns).
func sshURI(t *testing.T) (uri, logFile string) {
	t.Helper()
	s := sshdtest.Start(t)
	bin, logFile := loggedSSH(t, s.SSH)
	return "qemu+ssh://" + s.User + "@127.0.0.1:" + strconv.Itoa(s.Port) + "/system?command=" + bin, logFile
}

// freeLocalPort returns a TCP port of the loopback free a moment ago.
func freeLocalPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// portBound reports whether a TCP port of the loopback is taken.
func portBound(port int) bool {
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return true
	}
	ln.Close()
	return false
}

// echoServer serves one line per connection back with a prefix, on the
// loopback; it returns its port.
func echoServer(t *testing.T, prefix string) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				line, err := bufio.NewReader(c).ReadString('\n')
				if err == nil {
					_, _ = io.WriteString(c, prefix+line)
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// roundTrip sends a line to addr and returns the answer up to EOF.
func roundTrip(t *testing.T, addr, line string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(waitLimit))
	if _, err := io.WriteString(c, line); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil {
		t.Errorf("through %s: %v", addr, err)
	}
	return string(got)
}

// A tunnel through a real sshd carries connections to a service on the
// host's loopback, and after Retarget to another one, at the same local
// address.
func TestTunnelThroughSSHDRetargets(t *testing.T) {
	uri, logFile := sshURI(t)
	first, second := echoServer(t, "first: "), echoServer(t, "second: ")
	tun, err := OpenTunnel(uri, "127.0.0.1:0", first, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tun.Close()
	addr := tun.Addr().String()
	if got := roundTrip(t, addr, "a\n"); got != "first: a\n" {
		t.Errorf("before Retarget: %q", got)
	}
	tun.Retarget(second)
	if got := roundTrip(t, addr, "b\n"); got != "second: b\n" {
		t.Errorf("after Retarget: %q", got)
	}
	if _, tunnels := sshRuns(t, logFile); len(tunnels) != 2 ||
		!strings.Contains(tunnels[0], "-W 127.0.0.1:"+strconv.Itoa(first)) || !strings.Contains(tunnels[1], "-W 127.0.0.1:"+strconv.Itoa(second)) {
		t.Errorf("ssh runs = %q, want one -W per connection to each port", tunnels)
	}
}

// On a host reached over ssh, a forwarded port is bound here and carried
// over ssh to the port the host's QEMU bound on its loopback; the machine
// of a hot reboot takes the same local port over, which stays bound until
// Close. A busy local port and UDP are *vm.PortError.
func TestRemotePortForwardAcrossMachines(t *testing.T) {
	l := reachable(t)
	// Before the Backend: sshd stops after it closed.
	uri, logFile := sshURI(t)
	b := testBackend(t, l)
	b.URI = uri
	spec := helloSpec(t)
	spec.Network = true
	port := freeLocalPort(t)
	pf := vm.PortForward{Proto: "tcp", HostPort: port, GuestPort: 80}

	// hostPort returns the port the machine's QEMU forwards to guest port
	// 80, and that the tunnel goes there.
	hostPort := func(m vm.Machine) int {
		t.Helper()
		fwds, err := m.(*Machine).usernetForwards(t.Context())
		if err != nil || len(fwds) != 1 || fwds[0].guestPort != 80 {
			t.Fatalf("info usernet: %+v, %v; want one forward to port 80", fwds, err)
		}
		return fwds[0].hostPort
	}
	// connectsTo connects to the local port and returns the host port the
	// tunnel's ssh went to.
	connectsTo := func() string {
		t.Helper()
		_, before := sshRuns(t, logFile)
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		deadline := time.Now().Add(waitLimit)
		for {
			if _, after := sshRuns(t, logFile); len(after) > len(before) {
				last := after[len(after)-1]
				w := strings.Fields(last[strings.Index(last, "-W "):])[1]
				return w[strings.LastIndex(w, ":")+1:]
			}
			if time.Now().After(deadline) {
				t.Fatal("no ssh -W for a connection to the forwarded port")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	m1, err := b.Start(t.Context(), spec, vm.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m1.AddPortForward(t.Context(), pf); err != nil {
		t.Fatal(err)
	}
	if !portBound(port) {
		t.Fatalf("local port %d is free after AddPortForward", port)
	}
	r1 := hostPort(m1)
	if r1 == port || r1 == 0 {
		t.Errorf("the host's port is %d, want one the host picked", r1)
	}
	if got := connectsTo(); got != strconv.Itoa(r1) {
		t.Errorf("a connection went to host port %s, want %d", got, r1)
	}
	var pe *vm.PortError
	if err := m1.AddPortForward(t.Context(), pf); !errors.As(err, &pe) {
		t.Errorf("the same forward twice = %v, want a *vm.PortError", err)
	}

	// The hot reboot: the new machine starts while the old one runs.
	m2, err := b.Start(t.Context(), spec, vm.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.AddPortForward(t.Context(), pf); err != nil {
		t.Fatal(err)
	}
	r2 := hostPort(m2)
	if err := m1.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r2 == r1 {
		t.Errorf("both machines forward from host port %d", r1)
	}
	if got := connectsTo(); got != strconv.Itoa(r2) {
		t.Errorf("after the switch a connection went to host port %s, want %d", got, r2)
	}
	if err := m2.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !portBound(port) {
		t.Error("the local port was freed when the machines stopped; it belongs to the Backend")
	}
	// With no machine behind it, a connection is closed at once, never
	// carried to the host port the last machine had (free now, and
	// anyone's to take).
	_, before := sshRuns(t, logFile)
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(waitLimit))
	if n, err := c.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
		t.Errorf("a connection with no machine behind the tunnel read %d bytes, %v; want it closed", n, err)
	}
	c.Close()
	if _, after := sshRuns(t, logFile); len(after) != len(before) {
		t.Errorf("a connection with no machine behind the tunnel ran ssh: %q", after[len(before):])
	}

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	m3, err := b.Start(t.Context(), spec, vm.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	busyPort := busy.Addr().(*net.TCPAddr).Port
	if err := m3.AddPortForward(t.Context(), vm.PortForward{Proto: "tcp", HostPort: busyPort, GuestPort: 81}); !errors.As(err, &pe) {
		t.Errorf("AddPortForward on a busy local port = %v, want a *vm.PortError", err)
	}
	if err := m3.AddPortForward(t.Context(), vm.PortForward{Proto: "udp", HostPort: port, GuestPort: 53}); !errors.As(err, &pe) || !strings.Contains(pe.Detail, "TCP") {
		t.Errorf("a UDP forward = %v, want a *vm.PortError saying only TCP goes", err)
	}
	if fwds, err := m3.(*Machine).usernetForwards(t.Context()); err != nil || len(fwds) != 0 {
		t.Errorf("refused forwards left %+v on the host (%v)", fwds, err)
	}
	name := m3.(*Machine).Name()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if portBound(port) {
		t.Errorf("local port %d still bound after Close", port)
	}
	if contains(ukdevDomains(t), name) {
		t.Errorf("domain %s left after Close", name)
	}
}

// gdbRIP asks gdb, attached at target (as `target remote` takes it), for
// the guest's instruction pointer, and detaches.
func gdbRIP(t *testing.T, target string) string {
	t.Helper()
	if _, err := exec.LookPath("gdb"); err != nil {
		t.Skip("no gdb")
	}
	ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	defer cancel()
	out, err := exec.CommandContext(ctx, "gdb", "-nx", "-batch", "-ex", "target remote "+target,
		"-ex", "info registers rip", "-ex", "detach").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "rip") {
		t.Fatalf("gdb at %s: %v\n%s", target, err, out)
	}
	return string(out)
}

// gdb attaches through the stub's forward: from the start (Spec.GDB, a
// unix socket, guest started paused) on the local daemon, and opened
// later (GDBServer, TCP) on a running guest, both directly and over ssh;
// the guest runs on after gdb detached, and the stub's listener goes
// with the machine.
func TestGDBThroughForward(t *testing.T) {
	l := reachable(t)
	for _, over := range []string{"local", "ssh"} {
		t.Run(over, func(t *testing.T) {
			// sshd stops after the Backend closed (cleanups run last
			// first): its sessions end with their clients.
			uri := ""
			if over == "ssh" {
				uri, _ = sshURI(t)
			}
			b := testBackend(t, l)
			b.URI = uri
			sock := filepath.Join(t.TempDir(), "gdb.sock")
			spec := helloSpec(t)
			spec.GDB, spec.StartPaused = "unix:"+sock, true
			con := newConsole()
			m, err := b.Start(t.Context(), spec, vm.StartOptions{Console: con})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = m.Stop(context.Background()) })
			if strings.Contains(con.String(), "hello") {
				t.Errorf("a guest waiting for gdb wrote %q", con)
			}
			gdbRIP(t, sock)
			// gdb's detach lets the guest run.
			con.wait(t, "hello from ukdev")

			port := freeLocalPort(t)
			if err := m.GDBServer(t.Context(), "tcp:127.0.0.1:"+strconv.Itoa(port)); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the first stub's socket is still there: %v", err)
			}
			gdbRIP(t, "127.0.0.1:"+strconv.Itoa(port))
			if st, err := m.Status(t.Context()); err != nil || st != vm.StatusRunning {
				t.Errorf("Status after gdb detached = %q, %v", st, err)
			}
			if err := m.Stop(t.Context()); err != nil {
				t.Fatal(err)
			}
			if portBound(port) {
				t.Errorf("the stub's local port %d is still bound after Stop", port)
			}
		})
	}
}

// A gdb stub through a tcp or tls transport has no way to the host's
// loopback.
func TestGDBServerUnsupportedTransport(t *testing.T) {
	m := &Machine{b: &Backend{}, uri: "qemu+tcp://h/system"}
	if err := m.GDBServer(t.Context(), "tcp:127.0.0.1:1234"); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("GDBServer over qemu+tcp = %v, want ErrUnsupported", err)
	}
}
