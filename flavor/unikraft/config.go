package unikraft

import "github.com/ukdev/ukdev/project"

// Settings are the unikraft flavor's settings, read from [unikraft].
type Settings struct {
	// KernelArgs and AppArgs are joined into the kernel command line as
	// "<kernel args> -- <app args>", Unikraft's convention.
	KernelArgs, AppArgs string
	// Debug is the absolute path of the debug ELF (<image>.dbg); empty
	// means <image>.dbg when it exists.
	Debug string
}

// SettingsOf returns the unikraft settings of cfg; zero for a project of
// another flavor.
func SettingsOf(cfg *project.Config) Settings {
	s, _ := cfg.Settings.(Settings)
	return s
}

// section is [unikraft] as go-toml decodes it.
type section struct {
	KernelArgs any `toml:"kernel_args"`
	AppArgs    any `toml:"app_args"`
	Debug      any `toml:"debug"`
}

// NewSection implements project.SettingsDecoder.
func (Flavor) NewSection() any { return &section{} }

// DecodeSettings implements project.SettingsDecoder.
func (Flavor) DecodeSettings(s *project.Section, raw any) any {
	r := raw.(*section)
	var st Settings
	st.KernelArgs, _ = s.String("kernel_args", r.KernelArgs, "")
	st.AppArgs, _ = s.String("app_args", r.AppArgs, "")
	st.Debug, _ = s.Path("debug", r.Debug, true)
	return st
}

// KernelKeys implements project.Flavor: the flavor finds
// <name>_qemu-x86_64 in .unikraft/build or build itself when kernel.image
// is not set, and uses every [kernel] key.
func (Flavor) KernelKeys() project.KernelKeys { return project.KernelKeys{} }
