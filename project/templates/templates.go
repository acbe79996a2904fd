// Package templates creates new ukdev projects: `ukdev init --template`.
// The hello-c, go-http-nanos and go-http-linux templates are copies of
// ukdev's examples (package examples embeds them); unikraft is a minimal
// Unikraft application kept here (the unikraft directory). A template
// without its own ukdev.toml gets the one `ukdev init` would write for its
// flavor, and a Go template without a go.mod gets one named after the new
// directory.
package templates

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ukdev/ukdev/examples"
	"github.com/ukdev/ukdev/nofollow"
	"github.com/ukdev/ukdev/project"
)

//go:embed all:unikraft
var unikraftFiles embed.FS

// ErrUnknown is returned (wrapped) for a template name not in Names().
var ErrUnknown = errors.New("unknown template")

// ErrNotEmpty is returned (wrapped) when the target directory already
// holds files and Options.Force is not set.
var ErrNotEmpty = errors.New("directory is not empty")

// goVersion is the go directive of a written go.mod: the first release
// with the ServeMux patterns ("GET /{$}") the Go examples use.
const goVersion = "1.22"

// namePlaceholder is replaced by the project's name in the unikraft
// template's files.
const namePlaceholder = "{{name}}"

// template is where a template's files come from.
type template struct {
	name   string
	flavor string
	fsys   fs.FS  // the files
	dir    string // their directory in fsys
	// subst says that namePlaceholder is replaced in the files.
	subst bool
}

func templates() []template {
	ex := examples.FS()
	return []template{
		{name: "hello-c", flavor: "elf", fsys: ex, dir: examples.HelloC},
		{name: "go-http-linux", flavor: "linux", fsys: ex, dir: examples.GoHTTPLinux},
		{name: "go-http-nanos", flavor: "nanos", fsys: ex, dir: examples.GoHTTPNanos},
		{name: "unikraft", flavor: "unikraft", fsys: unikraftFiles, dir: "unikraft", subst: true},
	}
}

// Names returns the template names, in the order shown to users.
func Names() []string {
	var names []string
	for _, t := range templates() {
		names = append(names, t.name)
	}
	return names
}

// Flavor returns the flavor of the project a template creates, "" for an
// unknown name.
func Flavor(name string) string {
	for _, t := range templates() {
		if t.name == name {
			return t.flavor
		}
	}
	return ""
}

// Options tune Render.
type Options struct {
	// Force writes into a directory that already holds files, replacing
	// those the template has and keeping the others.
	Force bool
	// LinuxKernelVersion is pinned in the ukdev.toml written for a linux
	// template without one (see project.Detection).
	LinuxKernelVersion string
}

// Render creates the project of template name in dir (made when missing)
// and returns the files written, relative to dir, slash-separated and
// sorted. It refuses a dir that holds anything unless opts.Force is set.
// Test files of the examples are left out.
func Render(name, dir string, opts Options) ([]string, error) {
	i := slices.IndexFunc(templates(), func(t template) bool { return t.name == name })
	if i < 0 {
		return nil, fmt.Errorf("templates: %q: %w (known: %s)", name, ErrUnknown, strings.Join(Names(), ", "))
	}
	t := templates()[i]
	if err := checkDir(dir, opts.Force); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("templates: %s: %w", name, err)
	}
	projectName := ProjectName(dir)
	var written []string
	write := func(rel string, data []byte) error {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("templates: %s: %w", name, err)
		}
		if err := nofollow.WriteFile(p, data, 0o644); err != nil {
			return fmt.Errorf("templates: %s: %w", name, err)
		}
		written = append(written, rel)
		return nil
	}
	hasGo, hasMod, hasConfig := false, false, false
	err := fs.WalkDir(t.fsys, t.dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		if strings.HasSuffix(p, "_test.go") {
			return nil
		}
		rel := strings.TrimPrefix(p, t.dir+"/")
		data, err := fs.ReadFile(t.fsys, p)
		if err != nil {
			return fmt.Errorf("templates: %s: %w", name, err)
		}
		if t.subst {
			data = []byte(strings.ReplaceAll(string(data), namePlaceholder, projectName))
		}
		hasGo = hasGo || path.Ext(rel) == ".go"
		hasMod = hasMod || rel == "go.mod"
		hasConfig = hasConfig || rel == project.FileName
		return write(rel, data)
	})
	if err != nil {
		return nil, err
	}
	if hasGo && !hasMod {
		if err := write("go.mod", fmt.Appendf(nil, "module %s\n\ngo %s\n", projectName, goVersion)); err != nil {
			return nil, err
		}
	}
	if !hasConfig {
		d, err := project.DetectFlavor(dir, t.flavor)
		if err != nil {
			return nil, fmt.Errorf("templates: %s: %w", name, err)
		}
		d.LinuxKernelVersion = opts.LinuxKernelVersion
		if err := write(project.FileName, project.InitFile(d)); err != nil {
			return nil, err
		}
	}
	slices.Sort(written)
	return written, nil
}

// checkDir refuses a target that is not a directory, or one that holds
// files when force is not set.
func checkDir(dir string, force bool) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("templates: %w", err)
	case len(entries) > 0 && !force:
		return fmt.Errorf("templates: %s: %w (use --force to write into it)", dir, ErrNotEmpty)
	}
	return nil
}

// ProjectName names a new project after its directory, in the characters
// a Go module path, a Kraftfile name, a C string and a file name all
// accept: lower-case letters, digits, '-' and '_'; "app" when nothing is
// left.
func ProjectName(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'A' && r <= 'Z':
			return r - 'A' + 'a'
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-':
			return r
		}
		return '-'
	}, filepath.Base(abs))
	name = strings.Trim(name, "-_")
	if name == "" {
		return "app"
	}
	return name
}
