package linux

import (
	"github.com/ukdev/ukdev/examples"
	"github.com/ukdev/ukdev/project/templates"
)

// Templates implements templates.Provider: ukdev's linux example, a Go
// HTTP server run as /init.
func (Flavor) Templates() []templates.Template {
	return []templates.Template{{Name: "go-http-linux", Files: examples.Dir(examples.GoHTTPLinux)}}
}
