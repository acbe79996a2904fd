package sshdtest_test

import (
	"context"
	"net"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ukdev/ukdev/internal/sshdtest"
	"github.com/ukdev/ukdev/vm/libvirt"
)

// A command runs through the wrapper over a real SSH login, and sshd is
// gone once the test that started it has ended.
func TestStartRunsCommands(t *testing.T) {
	var port int
	t.Run("server", func(t *testing.T) {
		s := sshdtest.Start(t)
		port = s.Port
		ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, s.SSH, "127.0.0.1", "echo", "ok").CombinedOutput()
		if err != nil {
			t.Fatalf("ssh echo ok: %v: %s\nsshd log:\n%s", err, out, s.Log())
		}
		if got := strings.TrimSpace(string(out)); got != "ok" {
			t.Errorf("ssh echo ok printed %q, want ok", got)
		}
		// The port and user of the URI form (what libvirt's ssh
		// transport passes) reach the same server.
		out, err = exec.CommandContext(ctx, s.SSH, "-p", strconv.Itoa(s.Port), "-l", s.User, "127.0.0.1", "id", "-un").CombinedOutput()
		if err != nil {
			t.Fatalf("ssh -p -l id -un: %v: %s", err, out)
		}
		if got := strings.TrimSpace(string(out)); got != s.User {
			t.Errorf("logged in as %q, want %q", got, s.User)
		}
	})
	if port == 0 {
		return // skipped
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
		if err != nil {
			break
		}
		_ = c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("sshd still accepts on port %d after its test ended", port)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// LibvirtURI names the server's port, user and wrapper in a URI that
// parses back to them.
func TestLibvirtURI(t *testing.T) {
	s := sshdtest.Start(t)
	u, err := url.Parse(s.LibvirtURI())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ what, got, want string }{
		{"scheme", u.Scheme, "qemu+ssh"},
		{"user", u.User.Username(), s.User},
		{"host", u.Hostname(), "127.0.0.1"},
		{"port", u.Port(), strconv.Itoa(s.Port)},
		{"path", u.Path, "/system"},
		{"command", u.Query().Get("command"), s.SSH},
	} {
		if c.got != c.want {
			t.Errorf("%s of %s = %q, want %q", c.what, s.LibvirtURI(), c.got, c.want)
		}
	}
}

// The system libvirt daemon answers through the server's qemu+ssh URI as
// it does on its local socket.
func TestLibvirtThroughSSH(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	local, err := libvirt.Dial(ctx, libvirt.DefaultURI)
	if err != nil {
		t.Skipf("no libvirt daemon at %s: %v", libvirt.DefaultURI, err)
	}
	defer func() { _ = local.Disconnect() }()
	want, err := local.ConnectGetLibVersion()
	if err != nil {
		t.Fatal(err)
	}

	s := sshdtest.Start(t)
	l, err := libvirt.Dial(ctx, s.LibvirtURI())
	if err != nil {
		t.Fatalf("dial %s: %v\nsshd log:\n%s", s.LibvirtURI(), err, s.Log())
	}
	// Disconnect through virt-ssh-helper reports the interrupted
	// CONNECT_CLOSE (LIBVIRT-NOTES.md): harmless.
	defer func() { _ = l.Disconnect() }()
	got, err := l.ConnectGetLibVersion()
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("libvirt version through ssh = %d, want %d (local)", got, want)
	}
}

// The server forwards TCP: `ssh -W` through the wrapper reaches a
// listener on the loopback, as the port tunnels of qemu+ssh hosts do.
func TestStdioForwarding(t *testing.T) {
	s := sshdtest.Start(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = c.Write([]byte("hello through ssh\n"))
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, s.SSH, "-W", l.Addr().String(), "127.0.0.1").Output()
	if err != nil {
		t.Fatalf("ssh -W %s: %v\nsshd log:\n%s", l.Addr(), err, s.Log())
	}
	if got := string(out); got != "hello through ssh\n" {
		t.Errorf("ssh -W read %q, want the listener's line", got)
	}
}
