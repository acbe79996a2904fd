package project

import (
	"errors"
	"strings"
	"testing"
)

func TestParsePort(t *testing.T) {
	tests := []struct {
		spec    string
		want    Port
		wantErr string // part of the error; "-" for any
	}{
		{spec: "8080:80", want: Port{Proto: "tcp", HostAddr: "127.0.0.1", HostPort: 8080, GuestPort: 80}},
		{spec: "127.0.0.1:2222:22", want: Port{Proto: "tcp", HostAddr: "127.0.0.1", HostPort: 2222, GuestPort: 22}},
		{spec: "udp:5353:53", want: Port{Proto: "udp", HostAddr: "127.0.0.1", HostPort: 5353, GuestPort: 53}},
		{spec: "TCP:0.0.0.0:1:65535", want: Port{Proto: "tcp", HostAddr: "0.0.0.0", HostPort: 1, GuestPort: 65535}},
		// An IPv4 address written as IPv4-mapped IPv6 is IPv4.
		{spec: "[::ffff:127.0.0.1]:80:80", want: Port{Proto: "tcp", HostAddr: "127.0.0.1", HostPort: 80, GuestPort: 80}},
		// QEMU 7.2's hostfwd binds IPv4 host addresses only.
		{spec: "[::1]:8080:80", wantErr: "IPv6"},
		{spec: "udp:[::]:53:53", wantErr: "IPv6"},
		{spec: "tcp:[2001:db8::1]:443:443", wantErr: "IPv6"},
		{spec: " 8080:80 ", want: Port{Proto: "tcp", HostAddr: "127.0.0.1", HostPort: 8080, GuestPort: 80}},
		{spec: "80", wantErr: "-"},
		{spec: "", wantErr: "-"},
		{spec: "a:b", wantErr: "-"},
		{spec: "0:80", wantErr: "-"},
		{spec: "80:0", wantErr: "-"},
		{spec: "65536:80", wantErr: "-"},
		{spec: "+80:80", wantErr: "-"},
		{spec: "8000-8010:8000-8010", wantErr: "-"},
		{spec: "localhost:80:80", wantErr: "-"},
		{spec: ":80:80", wantErr: "-"},
		{spec: "::1:80:80", wantErr: "IPv6"},
		{spec: "[::1:80:80", wantErr: "-"},
		{spec: "[::1]80:80", wantErr: "-"},
		{spec: "[fe80::1%eth0]:80:80", wantErr: "-"},
		{spec: "sctp:80:80", wantErr: "-"},
		{spec: "tcp:1.2.3.4:80:80:80", wantErr: "-"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := ParsePort(tt.spec)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrBadPort) {
					t.Fatalf("ParsePort(%q) = %+v, %v; want ErrBadPort", tt.spec, got, err)
				}
				if tt.wantErr != "-" && !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParsePort(%q) = %v; want an error mentioning %q", tt.spec, err, tt.wantErr)
				}
				return
			}
			tt.want.Spec = tt.spec
			if err != nil || got != tt.want {
				t.Fatalf("ParsePort(%q) = %+v, %v; want %+v", tt.spec, got, err, tt.want)
			}
		})
	}
}

func TestPortString(t *testing.T) {
	tests := []struct {
		p    Port
		want string
	}{
		{Port{Proto: "tcp", HostAddr: "127.0.0.1", HostPort: 8080, GuestPort: 80}, "tcp:127.0.0.1:8080:80"},
		{Port{Proto: "udp", HostAddr: "0.0.0.0", HostPort: 53, GuestPort: 53}, "udp:0.0.0.0:53:53"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
		back, err := ParsePort(tt.want)
		if err != nil || back.String() != tt.want {
			t.Errorf("round trip of %q: %v, %v", tt.want, back, err)
		}
	}
}
