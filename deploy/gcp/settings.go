package gcp

import (
	"regexp"
	"slices"
	"strings"

	"github.com/ukdev/ukdev/project"
)

// Defaults of the optional keys.
const (
	// DefaultMachineType is the machine type when machine_type is not
	// given: the smallest general-purpose type with a whole vCPU share.
	DefaultMachineType = "e2-small"
	// DefaultKeepImages is how many of the project's images a deploy keeps
	// when keep_images is not given: the running one and the one before,
	// to go back to.
	DefaultKeepImages = 2
	// DefaultNetwork is the VPC network instances join.
	DefaultNetwork = "default"
)

// Settings are the keys of a [deploy.<name>] section with target = "gcp".
type Settings struct {
	// Project is the Google Cloud project id (project).
	Project string
	// Zone is where instances run (zone); Region is derived from it
	// ("europe-west1-b" is in "europe-west1").
	Zone, Region string
	// Bucket is the Cloud Storage bucket the disk's tarball goes through
	// (bucket); the user creates it once.
	Bucket string
	// MachineType is the instance's machine type (machine_type).
	MachineType string
	// ImageFamily is the image family of the deploy's images and the
	// prefix of the names of its images and instances (image_family);
	// empty means the project's name.
	ImageFamily string
	// KeepImages is how many of the newest images a deploy keeps
	// (keep_images), at least 1: the running one.
	KeepImages int
	// Network is the VPC network (network).
	Network string
	// Tags are network tags added to the instance (tags), besides the one
	// the firewall rule targets.
	Tags []string
	// Labels are labels added to every image and instance (labels),
	// besides ukdev's own.
	Labels map[string]string
	// Endpoint is the Compute API's base URL (endpoint), empty for
	// Google's; Compute has no environment override. Cloud Storage
	// follows STORAGE_EMULATOR_HOST instead.
	Endpoint string
}

// section is what go-toml decodes a [deploy.<name>] section into, every
// key but target, which project.Parse reads itself.
type section struct {
	Project     any `toml:"project"`
	Zone        any `toml:"zone"`
	Bucket      any `toml:"bucket"`
	MachineType any `toml:"machine_type"`
	ImageFamily any `toml:"image_family"`
	KeepImages  any `toml:"keep_images"`
	Network     any `toml:"network"`
	Tags        any `toml:"tags"`
	Labels      any `toml:"labels"`
	Endpoint    any `toml:"endpoint"`
}

// sectionReader is the part of project.Section that decode uses.
type sectionReader interface {
	Report(key, format string, args ...any)
	String(key string, x any, def string) (string, bool)
	Items(key string, x any, example string) ([]project.Item, bool)
}

var (
	// zonePattern is a Compute zone: a region and a one-letter suffix.
	zonePattern = regexp.MustCompile(`^([a-z]+-[a-z]+[0-9]+)-[a-z]$`)
	// namePattern is a Compute resource name (RFC 1035 label), which image
	// families, networks and tags follow too.
	namePattern = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
	// labelKeyPattern and labelValuePattern are Google Cloud labels.
	labelKeyPattern   = regexp.MustCompile(`^[a-z][-_a-z0-9]{0,62}$`)
	labelValuePattern = regexp.MustCompile(`^[-_a-z0-9]{0,63}$`)
	// projectPattern is a Google Cloud project id.
	projectPattern = regexp.MustCompile(`^[a-z][-a-z0-9]{4,28}[a-z0-9]$`)
)

// decode reads the section's keys into Settings, reporting every problem
// through s.
func decode(s sectionReader, raw *section) Settings {
	st := Settings{MachineType: DefaultMachineType, KeepImages: DefaultKeepImages, Network: DefaultNetwork}
	required := func(key string, x any, what string, valid *regexp.Regexp) string {
		if x == nil {
			s.Report(key, "required for target gcp: %s", what)
			return ""
		}
		v, ok := s.String(key, x, "")
		if ok && !valid.MatchString(v) {
			s.Report(key, "%q is not %s", v, what)
		}
		return v
	}
	st.Project = required("project", raw.Project, `the Google Cloud project id (project = "my-project")`, projectPattern)
	st.Zone = required("zone", raw.Zone, `the zone instances run in (zone = "europe-west1-b")`, zonePattern)
	if m := zonePattern.FindStringSubmatch(st.Zone); m != nil {
		st.Region = m[1]
	}
	if raw.Bucket == nil {
		s.Report("bucket", `required for target gcp: the Cloud Storage bucket the disk is uploaded through (bucket = "my-bucket")`)
	} else if v, ok := s.String("bucket", raw.Bucket, ""); ok {
		if v == "" || strings.ContainsAny(v, "/ ") || strings.HasPrefix(v, "gs:") {
			s.Report("bucket", "%q is not a bucket name (the name alone, without gs://)", v)
		}
		st.Bucket = v
	}
	optional := func(key string, x any, def, what string) string {
		v, ok := s.String(key, x, def)
		if ok && x != nil && !namePattern.MatchString(v) {
			s.Report(key, "%q is not %s: lowercase letters, digits and dashes, starting with a letter", v, what)
		}
		return v
	}
	st.MachineType = optional("machine_type", raw.MachineType, DefaultMachineType, "a machine type")
	st.ImageFamily = optional("image_family", raw.ImageFamily, "", "an image family")
	if len(st.ImageFamily) > 40 {
		s.Report("image_family", "%q is longer than 40 characters: image names add a build number to it, within Compute's 63", st.ImageFamily)
	}
	st.Network = optional("network", raw.Network, DefaultNetwork, "a network name")
	if raw.KeepImages != nil {
		switch n := raw.KeepImages.(type) {
		case int64:
			if n < 1 {
				s.Report("keep_images", "want at least 1 (the running instance's image), got %d", n)
			} else {
				st.KeepImages = int(n)
			}
		default:
			s.Report("keep_images", "want a whole number such as 2, got %v", raw.KeepImages)
		}
	}
	tags, _ := s.Items("tags", raw.Tags, `"http-server"`)
	for _, it := range tags {
		if !namePattern.MatchString(it.Value) {
			s.Report(it.Key, "%q is not a network tag: lowercase letters, digits and dashes, starting with a letter", it.Value)
			continue
		}
		st.Tags = append(st.Tags, it.Value)
	}
	if raw.Labels != nil {
		m, ok := raw.Labels.(map[string]any)
		if !ok {
			s.Report("labels", `want a table of strings such as { team = "web" }, got %v`, raw.Labels)
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			v, isStr := m[k].(string)
			switch {
			case !isStr:
				s.Report("labels."+k, "want a string, got %v", m[k])
			case !labelKeyPattern.MatchString(k) || strings.HasPrefix(k, labelPrefix):
				s.Report("labels."+k, "%q is not a label key of your own: lowercase letters, digits, - and _, starting with a letter, not %q", k, labelPrefix)
			case !labelValuePattern.MatchString(v):
				s.Report("labels."+k, "%q is not a label value: at most 63 lowercase letters, digits, - and _", v)
			default:
				if st.Labels == nil {
					st.Labels = map[string]string{}
				}
				st.Labels[k] = v
			}
		}
	}
	if v, ok := s.String("endpoint", raw.Endpoint, ""); ok && v != "" {
		if !strings.HasPrefix(v, "https://") && !strings.HasPrefix(v, "http://") {
			s.Report("endpoint", "%q is not a URL: want the Compute API's base, such as \"https://compute.googleapis.com\"", v)
		}
		st.Endpoint = strings.TrimSuffix(v, "/")
	}
	return st
}
