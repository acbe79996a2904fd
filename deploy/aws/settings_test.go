package aws

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/ukdev/ukdev/project"
)

// fakeSection is a project.Section that records the problems reported.
type fakeSection struct{ problems []string }

func (s *fakeSection) Report(key, format string, args ...any) {
	s.problems = append(s.problems, key+": "+fmt.Sprintf(format, args...))
}

func (s *fakeSection) String(key string, x any, def string) (string, bool) {
	switch v := x.(type) {
	case nil:
		return def, true
	case string:
		return v, true
	}
	s.Report(key, "not a string")
	return def, false
}

func (s *fakeSection) Items(key string, x any, example string) ([]project.Item, bool) {
	if x == nil {
		return nil, true
	}
	var items []project.Item
	for i, v := range x.([]any) {
		items = append(items, project.Item{Key: fmt.Sprintf("%s[%d]", key, i), Value: v.(string)})
	}
	return items, true
}

func TestDecodeSettings(t *testing.T) {
	tests := []struct {
		name     string
		raw      section
		want     Settings
		problems []string
	}{
		{
			name: "defaults",
			want: Settings{InstanceType: "t2.micro", KeepImages: 3, PublicIP: true},
		},
		{
			name: "ena makes the default instance type a Nitro one",
			raw:  section{ENA: true},
			want: Settings{InstanceType: "t3.micro", KeepImages: 3, ENA: true, PublicIP: true},
		},
		{
			name: "every key",
			raw: section{Region: "eu-west-1", Profile: "dev", InstanceType: "t3.small", Subnet: "subnet-0a",
				SecurityGroups: []any{"sg-1", "sg-2"}, NamePrefix: "web", KeepImages: int64(5), ENA: true, PublicIP: false},
			want: Settings{Region: "eu-west-1", Profile: "dev", InstanceType: "t3.small", Subnet: "subnet-0a",
				SecurityGroups: []string{"sg-1", "sg-2"}, NamePrefix: "web", KeepImages: 5, ENA: true},
		},
		{
			name: "wrong values",
			raw: section{InstanceType: "", Subnet: "vpc-1", SecurityGroups: []any{"sg-1", "default"},
				KeepImages: int64(0), ENA: "yes", PublicIP: int64(1)},
			want: Settings{Subnet: "vpc-1", SecurityGroups: []string{"sg-1"}, KeepImages: 3, PublicIP: true},
			problems: []string{
				"ena: ena must be true or false",
				`instance_type: instance_type is empty: name an EC2 instance type ("t2.micro")`,
				`subnet: subnet "vpc-1" is not a subnet id (subnet-0123456789abcdef0)`,
				`security_groups[1]: "default" is not a security group id (sg-0123456789abcdef0)`,
				"keep_images: keep_images is 0: keep at least the image that runs (1 to 1000)",
				"public_ip: public_ip must be true or false",
			},
		},
		{
			name:     "keep_images not a number",
			raw:      section{KeepImages: "all"},
			want:     Settings{InstanceType: "t2.micro", KeepImages: 3, PublicIP: true},
			problems: []string{"keep_images: keep_images must be a whole number of images (keep_images = 3)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s fakeSection
			got := decode(&s, &tt.raw)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("settings %+v, want %+v", got, tt.want)
			}
			if !reflect.DeepEqual(s.problems, tt.problems) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(s.problems, "\n"), strings.Join(tt.problems, "\n"))
			}
		})
	}
}

func TestOpen(t *testing.T) {
	if _, err := (Target{}).Open(Settings{}); err != nil {
		t.Errorf("open: %v", err)
	}
	if _, err := (Target{}).Open(nil); err == nil {
		t.Error("open of no settings: no error")
	}
}
