package metrics_test

import (
	"errors"
	"testing"

	"github.com/ukdev/ukdev/metrics"
	"github.com/ukdev/ukdev/project"
)

func TestResolveURL(t *testing.T) {
	ports := func(specs ...string) []project.Port {
		var list []project.Port
		for _, s := range specs {
			p, err := project.ParsePort(s)
			if err != nil {
				t.Fatal(err)
			}
			list = append(list, p)
		}
		return list
	}
	tests := []struct {
		name  string
		raw   string
		ports []project.Port
		want  string
		err   error
	}{
		{"path on the first tcp port", "/metrics", ports("udp:5353:53", "8080:80", "9090:90"), "http://127.0.0.1:8080/metrics", nil},
		{"path with a query", "/debug/vars?x=1", ports("8080:80"), "http://127.0.0.1:8080/debug/vars?x=1", nil},
		{"host port", ":9090/metrics", ports("8080:80", "9090:90"), "http://127.0.0.1:9090/metrics", nil},
		{"host port without a path", ":9090", ports("9090:90"), "http://127.0.0.1:9090/", nil},
		{"forward on another loopback address", "/m", ports("127.0.0.2:8080:80"), "http://127.0.0.2:8080/m", nil},
		{"forward on every interface", "/m", ports("0.0.0.0:8080:80"), "http://127.0.0.1:8080/m", nil},
		{"whole url needs no port", "http://127.0.0.1:7000/metrics", nil, "http://127.0.0.1:7000/metrics", nil},
		{"no tcp port", "/metrics", ports("udp:5353:53"), "", metrics.ErrNotForwarded},
		{"no ports", "/metrics", nil, "", metrics.ErrNotForwarded},
		{"host port not forwarded", ":9090/metrics", ports("8080:80"), "", metrics.ErrNotForwarded},
		{"udp host port", ":5353/m", ports("udp:5353:53"), "", metrics.ErrNotForwarded},
		{"bad url", "metrics", ports("8080:80"), "", project.ErrBadURL},
		{"remote url", "http://192.0.2.1/metrics", nil, "", project.ErrBadURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := metrics.ResolveURL(tt.raw, tt.ports)
			if got != tt.want || !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
				t.Errorf("ResolveURL(%q) = %q, %v; want %q, %v", tt.raw, got, err, tt.want, tt.err)
			}
		})
	}
}
