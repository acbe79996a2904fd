// Package templates creates new ukdev projects: `ukdev init --template`.
// The templates come from the flavors (a project.Flavor that implements
// Provider): ukdev's examples, or a minimal application kept in the
// flavor's package. A
// template without its own ukdev.toml gets the one `ukdev init` would
// write for its flavor, and a Go template without a go.mod gets one named
// after the new directory.
package templates

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ukdev/ukdev/nofollow"
	"github.com/ukdev/ukdev/project"
)

// ErrUnknown is returned (wrapped) for a template name not in Names().
var ErrUnknown = errors.New("unknown template")

// ErrNotEmpty is returned (wrapped) when the target directory already
// holds files and Options.Force is not set.
var ErrNotEmpty = errors.New("directory is not empty")

// goVersion is the go directive of a written go.mod: the first release
// with the ServeMux patterns ("GET /{$}") the Go examples use.
const goVersion = "1.22"

// namePlaceholder is replaced by the project's name in the files of a
// template with Subst set.
const namePlaceholder = "{{name}}"

// Template is a new project's files, as a flavor provides them.
type Template struct {
	// Name is what `ukdev init --template` takes ("go-http-linux").
	Name string
	// Files holds the project's files at its root. Test files (*_test.go)
	// are left out of the new project.
	Files fs.FS
	// Subst says that {{name}} in the files is replaced by the project's
	// name (ProjectName).
	Subst bool
}

// Provider is a project.Flavor that creates new projects of its kind.
type Provider interface {
	// Templates returns the flavor's templates, in the order shown to
	// users.
	Templates() []Template
}

// template is a Template with its flavor.
type template struct {
	Template
	flavor string
}

// templates returns the templates of the registered flavors, in the
// flavors' order.
func templates() []template {
	var list []template
	for _, name := range project.Flavors() {
		f, _ := project.LookupFlavor(name)
		if p, ok := f.(Provider); ok {
			for _, t := range p.Templates() {
				list = append(list, template{Template: t, flavor: name})
			}
		}
	}
	return list
}

// Names returns the template names, in the order shown to users.
func Names() []string {
	var names []string
	for _, t := range templates() {
		names = append(names, t.Name)
	}
	return names
}

// Flavor returns the flavor of the project a template creates, "" for an
// unknown name.
func Flavor(name string) string {
	for _, t := range templates() {
		if t.Name == name {
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
}

// Render creates the project of template name in dir (made when missing)
// and returns the files written, relative to dir, slash-separated and
// sorted. It refuses a dir that holds anything unless opts.Force is set.
// Test files of the examples are left out.
func Render(name, dir string, opts Options) ([]string, error) {
	all := templates()
	i := slices.IndexFunc(all, func(t template) bool { return t.Name == name })
	if i < 0 {
		return nil, fmt.Errorf("templates: %q: %w (known: %s)", name, ErrUnknown, strings.Join(Names(), ", "))
	}
	t := all[i]
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
	err := fs.WalkDir(t.Files, ".", func(rel string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		if strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		data, err := fs.ReadFile(t.Files, rel)
		if err != nil {
			return fmt.Errorf("templates: %s: %w", name, err)
		}
		if t.Subst {
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
