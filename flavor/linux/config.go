package linux

import (
	"strings"

	"github.com/ukdev/ukdev/project"
)

// program is the program a linux project's go build writes; the flavor
// runs it as /init, so its name matters only on the host.
const program = "app"

// Settings are the linux flavor's settings, read from [linux].
type Settings struct {
	// Kernel is the absolute path of a bzImage to boot; empty means the
	// gokrazy kernel module at KernelVersion.
	Kernel string
	// KernelVersion pins github.com/gokrazy/kernel.amd64; empty means
	// ukdev's default.
	KernelVersion string
	// Files are extra initramfs files; hosts are absolute.
	Files []File
}

// File is one extra file of the initramfs.
type File struct {
	Host, Guest string
}

// SettingsOf returns the linux settings of cfg; zero for a project of
// another flavor.
func SettingsOf(cfg *project.Config) Settings {
	s, _ := cfg.Settings.(Settings)
	return s
}

// section is [linux] as go-toml decodes it.
type section struct {
	Kernel        any `toml:"kernel"`
	KernelVersion any `toml:"kernel_version"`
	Files         any `toml:"files"`
}

// NewSection implements project.SettingsDecoder.
func (Flavor) NewSection() any { return &section{} }

// DecodeSettings implements project.SettingsDecoder.
func (Flavor) DecodeSettings(s *project.Section, raw any) any {
	r := raw.(*section)
	var st Settings
	st.Kernel, _ = s.Path("kernel", r.Kernel, true)
	st.KernelVersion, _ = s.String("kernel_version", r.KernelVersion, "")
	files, _ := s.Items("files", r.Files, `"etc/motd:/etc/motd"`)
	for _, f := range files {
		host, guest, found := strings.Cut(f.Value, ":")
		if !found || host == "" || !strings.HasPrefix(guest, "/") {
			s.Report(f.Key, "bad initramfs file %q: want \"host path:/guest/path\"", f.Value)
			continue
		}
		if host, ok := s.Path(f.Key, host, false); ok {
			st.Files = append(st.Files, File{Host: host, Guest: guest})
		}
	}
	return st
}

// KernelKeys implements project.Flavor: the program is the image, and
// ukdev writes the initramfs around it.
func (Flavor) KernelKeys() project.KernelKeys {
	return project.KernelKeys{
		Image: "the path of the static program the build produces, run as /init (kernel.image = \"app\")",
		Unused: []project.UnusedKey{
			{Key: "initrd", Why: "the linux flavor writes the initramfs itself: add files with linux.files"},
			{Key: "symbols", Why: "the program itself is the symbol file"},
		},
	}
}
