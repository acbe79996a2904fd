package libvirt

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"
)

func TestOpenTunnelArgv(t *testing.T) {
	tun, err := OpenTunnel("qemu+ssh://dev@host:2222/system?keyfile=/k", "127.0.0.1:0", 8080, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tun.Close()
	want := []string{"ssh", "-T", "-e", "none", "-o", "BatchMode=yes", "-o", "ConnectTimeout=20", "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4", "-p", "2222", "-l", "dev", "-i", "/k", "-W", "127.0.0.1:8080", "--", "host"}
	if got := tun.Argv(); !reflect.DeepEqual(got, want) {
		t.Errorf("Argv = %q\nwant %q", got, want)
	}
	for _, uri := range []string{"qemu:///system", "qemu+tcp://host/system"} {
		if _, err := OpenTunnel(uri, "127.0.0.1:0", 80, nil); !errors.Is(err, ErrNoTunnel) {
			t.Errorf("OpenTunnel(%s) = %v, want ErrNoTunnel", uri, err)
		}
	}
	if _, err := OpenTunnel("qemu+ssh://host/system", "127.0.0.1:0", 0, nil); err == nil {
		t.Error("OpenTunnel to port 0 succeeded")
	}
}

// Bytes go both ways through the tunnel, one ssh per connection (a
// stand-in for ssh -W that connects with bash's /dev/tcp).
func TestTunnelCarriesConnections(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash for the stand-in ssh")
	}
	fake := filepath.Join(t.TempDir(), "ssh")
	script := "#!" + bash + `
while [ $# -gt 0 ]; do case "$1" in -W) target=$2; shift 2;; *) shift;; esac; done
exec 3<>"/dev/tcp/${target%:*}/${target##*:}"
exec 4<&0 # a background job's standard input would be /dev/null
cat <&3 & reader=$!
cat <&4 >&3 & writer=$!
wait $reader
kill $writer 2>/dev/null
`
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	// Like ssh -W, the stand-in ends when the remote side closes.
	// The "remote" service: a line echo server on this host's loopback.
	srv, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	go func() {
		for {
			c, err := srv.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				line, err := bufio.NewReader(c).ReadString('\n')
				if err == nil {
					_, _ = io.WriteString(c, "echo: "+line)
				}
			}()
		}
	}()
	port := srv.Addr().(*net.TCPAddr).Port
	tun, err := OpenTunnel("qemu+ssh://stand-in/system?command="+fake, "127.0.0.1:0", port, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		c, err := net.Dial("tcp", tun.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(waitLimit))
		msg := "hello " + strconv.Itoa(i) + "\n"
		if _, err := io.WriteString(c, msg); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(c)
		if err != nil || string(got) != "echo: "+msg {
			t.Errorf("through the tunnel: %q, %v; want %q", got, err, "echo: "+msg)
		}
		c.Close()
	}
	// Close ends a connection still open, and its ssh.
	c, err := net.Dial("tcp", tun.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	closed := make(chan error, 1)
	go func() { closed <- tun.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close = %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Close did not return")
	}
	if _, err := net.Dial("tcp", tun.Addr().String()); err == nil {
		t.Error("the tunnel still accepts after Close")
	}
}
