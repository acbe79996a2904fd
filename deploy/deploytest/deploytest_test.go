package deploytest

import (
	"reflect"
	"testing"

	"github.com/ukdev/ukdev/deploy"
)

func TestStepsFinished(t *testing.T) {
	tests := []struct {
		name  string
		steps []deploy.Step
		want  []string
	}{
		{"none", nil, nil},
		{"unfinished left out", []deploy.Step{{Name: "upload"}, {Name: "upload", Message: "50%"}}, nil},
		{"with and without message", []deploy.Step{{Name: "upload"}, {Name: "upload", Finished: true}, {Name: "image", Message: "hello-b1", Finished: true}},
			[]string{"upload", "image: hello-b1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Steps
			for _, st := range tt.steps {
				s.Report(st)
			}
			if got := s.List(); len(got) != len(tt.steps) {
				t.Errorf("List has %d steps, want %d", len(got), len(tt.steps))
			}
			if got := s.Finished(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Finished = %q, want %q", got, tt.want)
			}
		})
	}
}
