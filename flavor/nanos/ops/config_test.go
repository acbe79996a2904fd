package ops

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

func TestParse(t *testing.T) {
	cfg := `{
  "Args": ["-port", "8080"],
  "Env": {"MODE": "dev"},
  "Dirs": ["static"],
  "Files": ["data.txt"],
  "MapDirs": {"assets/*": "/srv"},
  "Klibs": ["syslog"],
  "ManifestPassthrough": {"syslog": {"server": "10.0.2.2"}, "expected_exit_code": ["0", "3"]},
  "NanosVersion": "0.1.52",
  "BaseVolumeSz": "100m",
  "Boot": "something",
  "RunConfig": {"Ports": ["8080", "9000-9002"], "UDPPorts": ["53"], "Memory": "2G", "CPUs": 2, "Accel": true, "Bridged": true},
  "CloudConfig": {"ProjectID": "p1", "Zone": "us-west1-a", "BucketName": "b"},
  "program": "app"
}`
	c, err := Parse("config.json", []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Path:         "config.json",
		Program:      "app",
		Args:         []string{"-port", "8080"},
		Env:          map[string]string{"MODE": "dev"},
		Dirs:         []string{"static"},
		Files:        []string{"data.txt"},
		MapDirs:      map[string]string{"assets/*": "/srv"},
		Klibs:        []string{"syslog"},
		NanosVersion: "0.1.52",
		BaseVolumeSz: "100m",
		RunConfig: RunConfig{Ports: []string{"8080", "9000-9002"}, UDPPorts: []string{"53"},
			Memory: "2G", CPUs: 2, Accel: true},
		Warnings: []string{
			"ignored: Boot",
			"ignored: CloudConfig (used by cloud deploys, not by the dev loop)",
			"ignored: RunConfig.Bridged",
		},
	}
	if c.CloudConfig.ProjectID != "p1" || c.CloudConfig.Zone != "us-west1-a" || len(c.CloudConfig.Raw) != 3 {
		t.Errorf("CloudConfig = %+v", c.CloudConfig)
	}
	if got := c.ManifestPassthrough["syslog"]; !reflect.DeepEqual(got, map[string]any{"server": "10.0.2.2"}) {
		t.Errorf("ManifestPassthrough[syslog] = %#v", got)
	}
	c.CloudConfig, c.ManifestPassthrough = CloudConfig{}, nil
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Parse =\n%+v\nwant\n%+v", c, want)
	}
	ports, err := c.RunConfig.PortRanges()
	if err != nil {
		t.Fatal(err)
	}
	wantPorts := []PortRange{{"tcp", 8080, 8080}, {"tcp", 9000, 9002}, {"udp", 53, 53}}
	if !reflect.DeepEqual(ports, wantPorts) {
		t.Errorf("PortRanges = %v, want %v", ports, wantPorts)
	}
	if mib, _ := c.RunConfig.MemoryMiB(); mib != 2048 {
		t.Errorf("MemoryMiB = %d, want 2048", mib)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name      string
		cfg       string
		line, col int // 0 when the error is not a SyntaxError
		bad       bool
	}{
		{"missing comma", "{\n  \"Args\": [\"a\"]\n  \"Env\": {}\n}", 3, 3, false},
		{"trailing comma", "{\"Args\": [\"a\",]}", 1, 15, false},
		{"wrong type", "{\n  \"Args\": \"not a list\"\n}", 2, 11, false},
		{"wrong nested type", "{\n  \"RunConfig\": {\n    \"CPUs\": \"two\"\n  }\n}", 3, 13, false},
		{"not an object", "[1, 2]", 1, 1, false},
		{"bad port", `{"RunConfig": {"Ports": ["80a"]}}`, 0, 0, true},
		{"reversed range", `{"RunConfig": {"Ports": ["90-80"]}}`, 0, 0, true},
		{"bad memory", `{"RunConfig": {"Memory": "2X"}}`, 0, 0, true},
		{"negative cpus", `{"RunConfig": {"CPUs": -1}}`, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("p/config.json", []byte(tt.cfg))
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			var se *SyntaxError
			if tt.line != 0 {
				if !errors.As(err, &se) {
					t.Fatalf("err = %v, want a SyntaxError", err)
				}
				if se.Line != tt.line || se.Column != tt.col || se.Path != "p/config.json" {
					t.Errorf("at %s:%d:%d, want %d:%d (%v)", se.Path, se.Line, se.Column, tt.line, tt.col, err)
				}
			}
			if tt.bad != errors.Is(err, ErrBadValue) {
				t.Errorf("errors.Is(%v, ErrBadValue) = %v", err, !tt.bad)
			}
		})
	}
}

func TestParseMemoryMiB(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"", 0, true}, {"512", 512, true}, {"512M", 512, true}, {"2G", 2048, true}, {"2g", 2048, true},
		{"1.5G", 1536, true}, {"2GiB", 2048, true}, {"1048576K", 1024, true}, {"512MB", 512, true},
		{"2X", 0, false}, {"G", 0, false}, {"-1G", 0, false}, {"0", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseMemoryMiB(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseMemoryMiB(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestAllKlibs(t *testing.T) {
	c := &Config{Klibs: []string{"syslog", "radar"}, RunConfig: RunConfig{Klibs: []string{"radar", "strace"}}}
	if got, want := c.AllKlibs(), []string{"syslog", "radar", "strace"}; !reflect.DeepEqual(got, want) {
		t.Errorf("AllKlibs = %v, want %v", got, want)
	}
}

func TestPassthroughNumbersKeepTheirText(t *testing.T) {
	c, err := Parse("", []byte(`{"ManifestPassthrough": {"futex_trace": 1, "big": 12345678901234567890}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.ManifestPassthrough["big"]; got != json.Number("12345678901234567890") {
		t.Errorf("big = %#v", got)
	}
}

func TestParseSizeBytes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"", 0, true}, {"100m", 100 << 20, true}, {"1G", 1 << 30, true}, {"512k", 512 << 10, true},
		{"4096", 4096, true}, {"2GB", 2 << 30, true}, {"1x", 0, false}, {"-1m", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseSizeBytes(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseSizeBytes(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
