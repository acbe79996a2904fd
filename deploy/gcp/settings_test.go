package gcp

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/ukdev/ukdev/project"
)

// fakeSection implements sectionReader as project.Section does, keeping
// the reports as "key: message" lines.
type fakeSection struct{ reports []string }

func (s *fakeSection) Report(key, format string, args ...any) {
	s.reports = append(s.reports, key+": "+fmt.Sprintf(format, args...))
}

func (s *fakeSection) String(key string, x any, def string) (string, bool) {
	if x == nil {
		return def, true
	}
	v, ok := x.(string)
	if !ok {
		s.Report(key, "want a string, got %v", x)
	}
	return v, ok
}

func (s *fakeSection) Items(key string, x any, example string) ([]project.Item, bool) {
	if x == nil {
		return nil, true
	}
	list, ok := x.([]any)
	if !ok {
		s.Report(key, "want an array of strings such as [%s]", example)
		return nil, false
	}
	var items []project.Item
	for i, e := range list {
		items = append(items, project.Item{Key: fmt.Sprintf("%s[%d]", key, i), Value: e.(string)})
	}
	return items, true
}

func TestDecode(t *testing.T) {
	minimal := section{Project: "my-proj", Zone: "europe-west1-b", Bucket: "my-bucket"}
	tests := []struct {
		name    string
		edit    func(*section)
		want    Settings
		reports []string
	}{
		{
			name: "defaults",
			want: Settings{Project: "my-proj", Zone: "europe-west1-b", Region: "europe-west1", Bucket: "my-bucket",
				MachineType: "e2-small", KeepImages: 2, Network: "default"},
		},
		{
			name: "everything",
			edit: func(s *section) {
				s.MachineType, s.ImageFamily, s.KeepImages, s.Network = "n2-standard-2", "web", int64(5), "vpc-1"
				s.Tags, s.Labels = []any{"http-server"}, map[string]any{"team": "web"}
				s.Endpoint = "http://localhost:9000/"
			},
			want: Settings{Project: "my-proj", Zone: "europe-west1-b", Region: "europe-west1", Bucket: "my-bucket",
				MachineType: "n2-standard-2", ImageFamily: "web", KeepImages: 5, Network: "vpc-1",
				Tags: []string{"http-server"}, Labels: map[string]string{"team": "web"}, Endpoint: "http://localhost:9000"},
		},
		{
			name: "missing",
			edit: func(s *section) { *s = section{} },
			reports: []string{
				`project: required for target gcp: the Google Cloud project id (project = "my-project")`,
				`zone: required for target gcp: the zone instances run in (zone = "europe-west1-b")`,
				`bucket: required for target gcp: the Cloud Storage bucket the disk is uploaded through (bucket = "my-bucket")`,
			},
		},
		{
			name: "wrong values",
			edit: func(s *section) {
				s.Project, s.Zone, s.Bucket = "My_Proj", "europe-west1", "gs://b"
				s.KeepImages, s.MachineType = int64(0), "E2"
				s.Labels = map[string]any{"ukdev-build": "x", "Team": "a", "n": int64(1)}
				s.Tags = []any{"Web"}
				s.Endpoint = "compute.example.com"
			},
			reports: []string{
				`project: "My_Proj" is not the Google Cloud project id (project = "my-project")`,
				`zone: "europe-west1" is not the zone instances run in (zone = "europe-west1-b")`,
				`bucket: "gs://b" is not a bucket name (the name alone, without gs://)`,
				`machine_type: "E2" is not a machine type: lowercase letters, digits and dashes, starting with a letter`,
				`keep_images: want at least 1 (the running instance's image), got 0`,
				`tags[0]: "Web" is not a network tag: lowercase letters, digits and dashes, starting with a letter`,
				`labels.Team: "Team" is not a label key of your own: lowercase letters, digits, - and _, starting with a letter, not "ukdev-"`,
				`labels.n: want a string, got 1`,
				`labels.ukdev-build: "ukdev-build" is not a label key of your own: lowercase letters, digits, - and _, starting with a letter, not "ukdev-"`,
				`endpoint: "compute.example.com" is not a URL: want the Compute API's base, such as "https://compute.googleapis.com"`,
			},
		},
		{
			name:    "keep_images not a number",
			edit:    func(s *section) { s.KeepImages = "two" },
			reports: []string{`keep_images: want a whole number such as 2, got two`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := minimal
			if tt.edit != nil {
				tt.edit(&raw)
			}
			var s fakeSection
			got := decode(&s, &raw)
			if strings.Join(s.reports, "\n") != strings.Join(tt.reports, "\n") {
				t.Errorf("reports:\n%s\nwant:\n%s", strings.Join(s.reports, "\n"), strings.Join(tt.reports, "\n"))
			}
			if tt.reports == nil && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("settings = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestNames(t *testing.T) {
	tests := []struct {
		project, family string
		build           int
		taken           []string
		want            string
	}{
		{"hello", "", 12, nil, "hello-b12"},
		{"Hello_World", "", 3, nil, "hello-world-b3"},
		{"9lives", "", 1, nil, "ukdev-9lives-b1"},
		{"hello", "web", 12, []string{"web-b12", "web-b12-2"}, "web-b12-3"},
	}
	for _, tt := range tests {
		taken := map[string]bool{}
		for _, n := range tt.taken {
			taken[n] = true
		}
		st := Settings{ImageFamily: tt.family, Network: DefaultNetwork}
		if got := resourceName(st.family(tt.project), tt.build, taken); got != tt.want {
			t.Errorf("name of %s build %d = %q, want %q", tt.project, tt.build, got, tt.want)
		}
	}
	if got := (Settings{Network: "vpc-1"}).firewallName("Hello"); got != "ukdev-hello-vpc-1" {
		t.Errorf("firewall name = %q", got)
	}
}
