package elf

import (
	"github.com/ukdev/ukdev/examples"
	"github.com/ukdev/ukdev/project/templates"
)

// Templates implements templates.Provider: ukdev's elf example, a small C
// kernel built with make.
func (Flavor) Templates() []templates.Template {
	return []templates.Template{{Name: "hello-c", Files: examples.Dir(examples.HelloC)}}
}
