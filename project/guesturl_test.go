package project_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/ukdev/ukdev/project"
	"github.com/ukdev/ukdev/project/projecttest"
)

func TestParseGuestURL(t *testing.T) {
	tests := []struct {
		in   string
		want project.GuestURL
		ok   bool
	}{
		{"/metrics", project.GuestURL{Path: "/metrics"}, true},
		{"/debug/vars?x=1", project.GuestURL{Path: "/debug/vars?x=1"}, true},
		{":8080/metrics", project.GuestURL{HostPort: 8080, Path: "/metrics"}, true},
		{":9090", project.GuestURL{HostPort: 9090, Path: "/"}, true},
		{"http://127.0.0.1:8080/metrics", project.GuestURL{Full: "http://127.0.0.1:8080/metrics"}, true},
		{"https://localhost/healthz", project.GuestURL{Full: "https://localhost/healthz"}, true},
		{"http://127.3.4.5/x", project.GuestURL{Full: "http://127.3.4.5/x"}, true},
		{"http://[::1]:80/", project.GuestURL{Full: "http://[::1]:80/"}, true},
		{"", project.GuestURL{}, false},
		{"metrics", project.GuestURL{}, false},
		{":0/m", project.GuestURL{}, false},
		{":65536/m", project.GuestURL{}, false},
		{":08080/m", project.GuestURL{}, false},
		{":http/m", project.GuestURL{}, false},
		{"/a b", project.GuestURL{}, false},
		{"/a#frag", project.GuestURL{}, false},
		{"/a\x7f", project.GuestURL{}, false},
		{"http://example.com/metrics", project.GuestURL{}, false},
		{"http://0.0.0.0:8080/metrics", project.GuestURL{}, false},
		{"http://user@127.0.0.1/metrics", project.GuestURL{}, false},
		{"ftp://127.0.0.1/metrics", project.GuestURL{}, false},
		{"http://127.0.0.1:8080/%zz", project.GuestURL{}, false},
	}
	for _, tt := range tests {
		got, err := project.ParseGuestURL(tt.in)
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("ParseGuestURL(%q) = %+v, %v; want %+v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, project.ErrBadURL) {
			t.Errorf("ParseGuestURL(%q) error %v does not wrap ErrBadURL", tt.in, err)
		}
	}
}

// The commented [metrics] and [health] sections of ukdev init's file
// parse once uncommented, on a project that forwards a port.
func TestInitFileMetricsAndHealth(t *testing.T) {
	data := project.InitFile(project.Detection{Image: "k.elf"})
	data = projecttest.Uncomment(projecttest.Uncomment(data, "[metrics]"), "[health]")
	c := projecttest.MustParse(t, filepath.Join(root, project.FileName), data)
	if c.Metrics.URL != "/metrics" || len(c.Metrics.Series) != 1 || c.Metrics.Interval != project.DefaultMetricsInterval || c.Health.URL != "/healthz" {
		t.Errorf("metrics %+v health %+v", c.Metrics, c.Health)
	}
}
