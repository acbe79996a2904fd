package qemu

import (
	"bufio"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestMachineGDBServer(t *testing.T) {
	tests := []struct {
		name    string
		addr    string
		script  []step
		wantErr bool
	}{
		{
			name: "unix socket",
			addr: "unix:/run/u,1/gdb.sock",
			script: []step{
				{cmd: "human-monitor-command", args: `{"command-line": "gdbserver none"}`, reply: `"return": "Disabled gdbserver\r\n"`},
				{cmd: "human-monitor-command", args: `{"command-line": "gdbserver unix:/run/u,,1/gdb.sock,server=on,wait=off"}`,
					reply: `"return": "Waiting for gdb connection on device 'unix:/run/u,,1/gdb.sock,server=on,wait=off'\r\n"`},
			},
		},
		{
			name: "loopback port",
			addr: "tcp:127.0.0.1:1234",
			script: []step{
				{cmd: "human-monitor-command", args: `{"command-line": "gdbserver none"}`, reply: `"return": ""`},
				{cmd: "human-monitor-command", args: `{"command-line": "gdbserver tcp:127.0.0.1:1234"}`,
					reply: `"return": "Waiting for gdb connection on device 'tcp:127.0.0.1:1234'\r\n"`},
			},
		},
		{
			name: "refused by QEMU",
			addr: "unix:/nonexistent/gdb.sock",
			script: []step{
				{cmd: "human-monitor-command", reply: `"return": "Disabled gdbserver\r\n"`},
				{cmd: "human-monitor-command", reply: `"return": "Failed to bind socket to /nonexistent/gdb.sock: No such file or directory\r\nCould not open gdbserver on device 'unix:/nonexistent/gdb.sock,server=on,wait=off'\r\n"`},
			},
			wantErr: true,
		},
		{
			name:    "monitor error",
			addr:    "unix:/run/gdb.sock",
			script:  []step{{cmd: "human-monitor-command", reply: `"error": {"class": "GenericError", "desc": "no"}`}},
			wantErr: true,
		},
		{name: "relative path", addr: "unix:gdb.sock", wantErr: true},
		{name: "white space", addr: "unix:/run/my dir/gdb.sock", wantErr: true},
		{name: "every interface", addr: "tcp:0.0.0.0:1234", wantErr: true},
		{name: "monitor command smuggled", addr: "tcp:127.0.0.1:1234\nquit", wantErr: true},
		{name: "another device", addr: "stdio", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, server := qmpMachine(t)
			done := serve(t, server, tt.script)
			err := m.GDBServer(t.Context(), tt.addr)
			<-done
			if (err != nil) != tt.wantErr {
				t.Fatalf("GDBServer(%q) = %v, want error %v", tt.addr, err, tt.wantErr)
			}
		})
	}
}

// stubAnswers connects to a gdb stub at addr on network ("unix" or
// "tcp") and asks it why the guest stopped (the remote protocol's "?"),
// as gdb does first.
func stubAnswers(t *testing.T, network, addr string) {
	t.Helper()
	conn, err := net.DialTimeout(network, addr, deadline)
	if err != nil {
		t.Fatalf("dial the gdb stub: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(deadline))
	if _, err := conn.Write([]byte("$?#3f")); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	got := ""
	for !strings.Contains(got, "#") {
		b, err := r.ReadByte()
		if err != nil {
			t.Fatalf("the gdb stub said %q, then: %v", got, err)
		}
		got += string(b)
	}
	if !strings.HasPrefix(got, "+$T") && !strings.HasPrefix(got, "+$S") {
		t.Fatalf("the gdb stub answered %q, want a stop reply", got)
	}
}

func TestMachineGDBStubReal(t *testing.T) {
	spec := bootSpec(t, echoKernel())
	dir := filepath.Dir(spec.QMPSocket)
	spec.GDB = "unix:" + filepath.Join(dir, "gdb-start.sock")
	spec.StartPaused = true
	m, _ := start(t, spec)
	stubAnswers(t, "unix", filepath.Join(dir, "gdb-start.sock"))

	// Opening another stub replaces the first.
	if err := m.GDBServer(t.Context(), "unix:"+filepath.Join(dir, "gdb-later.sock")); err != nil {
		t.Fatal(err)
	}
	stubAnswers(t, "unix", filepath.Join(dir, "gdb-later.sock"))

	// And a loopback port replaces that.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	hostport := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if err := m.GDBServer(t.Context(), "tcp:"+hostport); err != nil {
		t.Fatal(err)
	}
	stubAnswers(t, "tcp", hostport)
	if err := m.GDBServer(t.Context(), "unix:"+filepath.Join(dir, "missing", "gdb.sock")); err == nil {
		t.Fatal("a stub in a missing directory was opened")
	}
}
