package unikraft

import (
	"embed"
	"io/fs"

	"github.com/ukdev/ukdev/project/templates"
)

// templateFiles is a minimal Unikraft application, named {{name}}.
//
//go:embed all:template
var templateFiles embed.FS

// Templates implements templates.Provider: a minimal Unikraft
// application, built with kraft or make.
func (Flavor) Templates() []templates.Template {
	fsys, err := fs.Sub(templateFiles, "template")
	if err != nil {
		// fs.Sub fails only for an invalid path.
		panic("unikraft: template: " + err.Error())
	}
	return []templates.Template{{Name: "unikraft", Files: fsys, Subst: true}}
}
