package logview

import (
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
