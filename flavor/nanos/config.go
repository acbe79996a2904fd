package nanos

import (
	"path/filepath"

	"github.com/ukdev/ukdev/project"
)

// OpsConfigName is the name of an ops project config: the file ops reads
// with -c, and the one the nanos flavor reads when nanos.config does not
// name another.
const OpsConfigName = "config.json"

// Settings are the nanos flavor's settings, read from [nanos]: where it
// finds ops' config and the Nanos kernel.
type Settings struct {
	// Config is the absolute path of the ops config (config.json); empty
	// when the project has none.
	Config string
	// Kernel is the absolute path of a kernel.img to use instead of ops'
	// kernel cache; empty means the cache.
	Kernel string
	// Version picks a Nanos version in ops' kernel cache; empty means the
	// ops config's NanosVersion, then the cache's latest.txt.
	Version string
	// Boot is "direct" (microvm, -kernel kernel.img, the image as a virtio
	// disk: the fastest) or "disk" (q35 booting the image like ops does).
	Boot string
}

// Boots returns the values accepted for nanos.boot.
func Boots() []string { return []string{"direct", "disk"} }

// SettingsOf returns the nanos settings of cfg; zero for a project of
// another flavor.
func SettingsOf(cfg *project.Config) Settings {
	s, _ := cfg.Settings.(Settings)
	return s
}

// section is [nanos] as go-toml decodes it.
type section struct {
	Config  any `toml:"config"`
	Kernel  any `toml:"kernel"`
	Version any `toml:"version"`
	Boot    any `toml:"boot"`
}

// NewSection implements project.SettingsDecoder.
func (Flavor) NewSection() any { return &section{} }

// DecodeSettings implements project.SettingsDecoder. The ops config is
// also a source of the settings: a change to it is a change of the
// config.
func (Flavor) DecodeSettings(s *project.Section, raw any) any {
	r := raw.(*section)
	var st Settings
	if r.Config == nil {
		// ops' own default, used only when the project has one.
		if def := filepath.Join(s.Root(), OpsConfigName); project.FileExists(def) {
			st.Config = def
		}
	} else {
		st.Config, _ = s.Path("config", r.Config, false)
	}
	if st.Config != "" {
		s.Include(st.Config)
	}
	st.Kernel, _ = s.Path("kernel", r.Kernel, true)
	st.Version, _ = s.String("version", r.Version, "")
	st.Boot, _ = s.OneOf("boot", r.Boot, "direct", Boots())
	return st
}

// KernelKeys implements project.Flavor: the program is the image, and
// everything else about it comes from the ops config.
func (Flavor) KernelKeys() project.KernelKeys {
	return project.KernelKeys{
		Image: "the path of the program the build produces, relative to the project root (kernel.image = \"app\")",
		Unused: []project.UnusedKey{
			{Key: "initrd", Why: "the nanos flavor has no initrd: put files in the ops config's Files, Dirs or MapDirs"},
			{Key: "symbols", Why: "the program itself is the symbol file"},
			{Key: "cmdline", Why: "the nanos flavor takes the program's arguments from the ops config's Args"},
		},
	}
}
