package aws

import (
	"strings"

	"github.com/ukdev/ukdev/project"
)

// Settings are an aws deploy's settings, read from its [deploy.<name>]
// section.
type Settings struct {
	// Region is the AWS region; empty means the SDK's own (AWS_REGION,
	// the profile's region).
	Region string
	// Profile names the shared-config profile; empty means the SDK's
	// default chain as it is (AWS_PROFILE, then "default").
	Profile string
	// InstanceType is the EC2 instance type. Its default depends on ENA:
	// t3.micro (Nitro, which needs ENA) with it, t2.micro (Xen) without.
	InstanceType string
	// Subnet is the subnet id to launch into; empty means the default
	// VPC's default subnet.
	Subnet string
	// SecurityGroups are more security group ids for the instance,
	// besides the one ukdev creates for the ports.
	SecurityGroups []string
	// NamePrefix starts the names of the images and instances; empty
	// means "<project>-<deploy name>".
	NamePrefix string
	// KeepImages is how many of the deploy's images are kept, the new
	// one included; older ones are deregistered and their snapshots
	// deleted.
	KeepImages int
	// ENA registers the image with ENA support: only for a kernel that
	// has an ENA driver (Nanos).
	ENA bool
	// PublicIP gives the instance a public address when it is launched
	// into Subnet (the default subnet of the default VPC does so itself).
	PublicIP bool
}

// Defaults of the settings.
const (
	DefaultInstanceType    = "t2.micro"
	DefaultENAInstanceType = "t3.micro"
	DefaultKeepImages      = 3
)

// section is a [deploy.<name>] section with target = "aws", as go-toml
// decodes it; the target key is the caller's.
type section struct {
	Region         any `toml:"region"`
	Profile        any `toml:"profile"`
	InstanceType   any `toml:"instance_type"`
	Subnet         any `toml:"subnet"`
	SecurityGroups any `toml:"security_groups"`
	NamePrefix     any `toml:"name_prefix"`
	KeepImages     any `toml:"keep_images"`
	ENA            any `toml:"ena"`
	PublicIP       any `toml:"public_ip"`
}

// reader is what decode needs of a project.Section.
type reader interface {
	Report(key, format string, args ...any)
	String(key string, x any, def string) (string, bool)
	Items(key string, x any, example string) ([]project.Item, bool)
}

// NewSection implements project.SettingsDecoder.
func (Target) NewSection() any { return &section{} }

// DecodeSettings implements project.SettingsDecoder: it returns Settings.
func (Target) DecodeSettings(s *project.Section, raw any) any {
	return decode(s, raw.(*section))
}

// decode reads r, reporting problems through s.
func decode(s reader, r *section) Settings {
	var st Settings
	st.Region, _ = s.String("region", r.Region, "")
	st.Profile, _ = s.String("profile", r.Profile, "")
	st.ENA, _ = boolean(s, "ena", r.ENA, false)
	def := DefaultInstanceType
	if st.ENA {
		def = DefaultENAInstanceType
	}
	if st.InstanceType, _ = s.String("instance_type", r.InstanceType, def); st.InstanceType == "" {
		s.Report("instance_type", "instance_type is empty: name an EC2 instance type (%q)", def)
	}
	if st.Subnet, _ = s.String("subnet", r.Subnet, ""); st.Subnet != "" && !strings.HasPrefix(st.Subnet, "subnet-") {
		s.Report("subnet", "subnet %q is not a subnet id (subnet-0123456789abcdef0)", st.Subnet)
	}
	items, _ := s.Items("security_groups", r.SecurityGroups, `"sg-0123456789abcdef0"`)
	for _, it := range items {
		if !strings.HasPrefix(it.Value, "sg-") {
			s.Report(it.Key, "%q is not a security group id (sg-0123456789abcdef0)", it.Value)
			continue
		}
		st.SecurityGroups = append(st.SecurityGroups, it.Value)
	}
	st.NamePrefix, _ = s.String("name_prefix", r.NamePrefix, "")
	st.KeepImages = DefaultKeepImages
	switch n := r.KeepImages.(type) {
	case nil:
	case int64:
		if n < 1 || n > 1000 {
			s.Report("keep_images", "keep_images is %d: keep at least the image that runs (1 to 1000)", n)
		} else {
			st.KeepImages = int(n)
		}
	default:
		s.Report("keep_images", "keep_images must be a whole number of images (keep_images = %d)", DefaultKeepImages)
	}
	st.PublicIP, _ = boolean(s, "public_ip", r.PublicIP, true)
	return st
}

// boolean reads an optional boolean, def when x is nil.
func boolean(s reader, key string, x any, def bool) (bool, bool) {
	switch b := x.(type) {
	case nil:
		return def, true
	case bool:
		return b, true
	}
	s.Report(key, "%s must be true or false", key)
	return def, false
}
