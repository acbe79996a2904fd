package libvirt

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestNewSSHDialer(t *testing.T) {
	const script = `'which virt-ssh-helper 1>/dev/null 2>&1; if test $? = 0; then virt-ssh-helper '\''qemu:///system'\''; else '\''nc'\'' -U '\''/var/run/libvirt/libvirt-sock'\''; fi'`
	tests := []struct {
		uri     string
		wantSSH string
		want    []string
		wantErr bool
	}{
		{
			uri:     "qemu+ssh://host/system",
			wantSSH: "ssh",
			want:    []string{"-T", "-e", "none", "-o", "BatchMode=yes", "-o", "ConnectTimeout=20", "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4", "--", "host", "sh -c " + script},
		},
		{
			uri:     "qemu+ssh://dev@10.0.0.5:2222/system?keyfile=/k/id&command=/opt/ssh",
			wantSSH: "/opt/ssh",
			want:    []string{"-T", "-e", "none", "-o", "BatchMode=yes", "-o", "ConnectTimeout=20", "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4", "-p", "2222", "-l", "dev", "-i", "/k/id", "--", "10.0.0.5", "sh -c " + script},
		},
		{
			uri:     "qemu+ssh://host/session?socket=/run/user/1000/libvirt/libvirt-sock&netcat=ncat",
			wantSSH: "ssh",
			want: []string{"-T", "-e", "none", "-o", "BatchMode=yes", "-o", "ConnectTimeout=20", "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4", "--", "host",
				"sh -c " + `'which virt-ssh-helper 1>/dev/null 2>&1; if test $? = 0; then virt-ssh-helper '\''qemu:///session'\''; else '\''ncat'\'' -U '\''/run/user/1000/libvirt/libvirt-sock'\''; fi'`},
		},
		{uri: "qemu+ssh:///system", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			u, err := url.Parse(tt.uri)
			if err != nil {
				t.Fatal(err)
			}
			d, err := NewSSHDialer(u)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("NewSSHDialer = %+v, want an error", d)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.SSH != tt.wantSSH || !reflect.DeepEqual(d.Argv, tt.want) {
				t.Errorf("NewSSHDialer = %s %q\nwant %s %q", d.SSH, d.Argv, tt.wantSSH, tt.want)
			}
		})
	}
}

func TestRemoteName(t *testing.T) {
	tests := map[string]string{
		"qemu+ssh://host/system":                     "qemu:///system",
		"qemu+ssh://u@host:22/session":               "qemu:///session",
		"qemu+ssh://host/system?name=qemu:///embed":  "qemu:///embed",
		"qemu+ssh://host/system?keyfile=/k&no_tty=1": "qemu:///system",
	}
	for in, want := range tests {
		u, err := url.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := remoteName(u); got != want {
			t.Errorf("remoteName(%s) = %q, want %q", in, got, want)
		}
	}
}

// The ssh transport carries libvirt's protocol: a stand-in for ssh runs
// the remote command locally, as sshd would run it on the host, so the
// daemon is reached through virt-ssh-helper (or nc) on stdin and stdout.
func TestDialSSHTransport(t *testing.T) {
	reachable(t)
	fake := filepath.Join(t.TempDir(), "ssh")
	err := os.WriteFile(fake, []byte(`#!/bin/sh
# Skip ssh's options up to "--" and the host, then run the command as the
# remote user's shell would.
while [ "$1" != "--" ]; do shift; done
shift 2
exec sh -c "$*"
`), 0o755)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	l, err := Dial(ctx, "qemu+ssh://nobody@stand-in/system?command="+fake)
	if err != nil {
		t.Fatal(err)
	}
	v, err := l.ConnectGetLibVersion()
	if err != nil || v == 0 {
		t.Errorf("ConnectGetLibVersion through ssh = %d, %v", v, err)
	}
	// virt-ssh-helper ends the stream on CONNECT_CLOSE before its reply
	// reaches the client: Disconnect reports the interruption, and the
	// transport is closed all the same.
	_ = l.Disconnect()
	select {
	case <-l.Disconnected():
	case <-time.After(10 * time.Second):
		t.Error("the ssh transport is still connected after Disconnect")
	}
}

// TestDialSSHFailure: when ssh ends before the daemon answers, Dial's
// error says what ssh said (or how it ended), not only that the call was
// interrupted. No daemon is needed: ssh never reaches one.
func TestDialSSHFailure(t *testing.T) {
	tests := []struct {
		name, script, want string
	}{
		{"refused key", "echo 'user@host: Permission denied (publickey).' >&2; exit 255", "ssh: user@host: Permission denied (publickey)."},
		{"ssh's own message", "echo 'ssh: connect to host h port 22: Connection refused' >&2; exit 255", ": ssh: connect to host h port 22: Connection refused: "},
		{"silent", "exit 7", "ended: exit status 7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := filepath.Join(t.TempDir(), "ssh")
			if err := os.WriteFile(fake, []byte("#!/bin/sh\n"+tt.script+"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			l, err := Dial(ctx, "qemu+ssh://user@h/system?command="+fake)
			if err == nil {
				_ = l.Disconnect()
				t.Fatal("Dial through an ssh that fails succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Dial error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ uri, want string }{
		{"qemu:///system", "qemu:///system"},
		{"qemu+ssh://me@kvm1:2222/system?keyfile=/k", "qemu+ssh://me@kvm1:2222/system?keyfile=/k"},
		{"qemu+tcp://me:secret@kvm1/system", "qemu+tcp://me:xxxxx@kvm1/system"},
		{"qemu+tcp://me:sec%zzret@kvm1/system", "qemu+tcp://(unparsable URI)"},
	}
	for _, tt := range tests {
		if got := Redact(tt.uri); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.uri, got, tt.want)
		}
		if strings.Contains(Redact(tt.uri), "secret") || strings.Contains(Redact(tt.uri), "sec%") {
			t.Errorf("Redact(%q) keeps the password", tt.uri)
		}
	}
}
