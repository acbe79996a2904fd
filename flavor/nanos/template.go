package nanos

import (
	"github.com/ukdev/ukdev/examples"
	"github.com/ukdev/ukdev/project/templates"
)

// Templates implements templates.Provider: ukdev's nanos example, a Go
// HTTP server with an ops config.
func (Flavor) Templates() []templates.Template {
	return []templates.Template{{Name: "go-http-nanos", Files: examples.Dir(examples.GoHTTPNanos)}}
}
