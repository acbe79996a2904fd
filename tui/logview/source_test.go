package logview

import (
	"slices"
	"testing"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/logs"
)

func TestSourceOf(t *testing.T) {
	tests := []struct {
		e    devloop.Event
		want logs.Source
	}{
		{devloop.Event{Type: devloop.TypeVMConsole}, logs.SourceConsole},
		{devloop.Event{Type: devloop.TypeVMSyslog}, logs.SourceSyslog},
		{devloop.Event{Type: devloop.TypeBuildOutput}, logs.SourceBuild},
		{devloop.Event{Type: devloop.TypeImageReady}, logs.SourceVM},
		{devloop.Event{Type: devloop.TypeHealthStatus}, logs.SourceVM},
		{devloop.Event{Type: devloop.TypeDeployConsole, Deploy: "prod"}, "cloud:prod"},
		{devloop.Event{Type: devloop.TypeDeployDone, Deploy: "prod"}, logs.SourceUkdev},
		{devloop.Event{Type: devloop.TypeError}, logs.SourceUkdev},
	}
	for _, tt := range tests {
		if got := sourceOf(tt.e); got != tt.want {
			t.Errorf("sourceOf(%s) = %q, want %q", tt.e.Type, got, tt.want)
		}
	}
}

func TestSourceFilter(t *testing.T) {
	var cycle []logs.Source
	for s := nextSource(""); s != ""; s = nextSource(s) {
		cycle = append(cycle, s)
	}
	want := []logs.Source{logs.SourceConsole, logs.SourceSyslog, logs.SourceBuild, logs.SourceVM, logs.SourceUkdev, cloudSources}
	if !slices.Equal(cycle, want) {
		t.Errorf("source cycle %q, want %q", cycle, want)
	}
	tests := []struct {
		src, filter logs.Source
		want        bool
	}{
		{"cloud:prod", "", true},
		{"cloud:prod", cloudSources, true},
		{"cloud:staging", cloudSources, true},
		{logs.SourceConsole, cloudSources, false},
		{"cloud:prod", logs.SourceUkdev, false},
		{logs.SourceUkdev, logs.SourceUkdev, true},
	}
	for _, tt := range tests {
		if got := sourceMatches(tt.src, tt.filter); got != tt.want {
			t.Errorf("sourceMatches(%q, %q) = %v, want %v", tt.src, tt.filter, got, tt.want)
		}
	}
}
