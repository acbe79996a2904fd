// Package examples holds ukdev's example projects, embedded so that
// `ukdev init --template` can copy them anywhere. Only their sources are
// embedded: files whose names have an extension (and hidden ones such as
// .gitignore), plus hello's Makefile; build outputs (hello's build/, the
// Go examples' app) have none and stay out.
package examples

import (
	"embed"
	"io/fs"
)

// Directories of the examples in FS.
const (
	// HelloC is the elf example: a small C kernel built with make.
	HelloC = "hello"
	// GoHTTPNanos is the nanos example: a Go HTTP server with an ops
	// config.
	GoHTTPNanos = "nanos-http"
	// GoHTTPLinux is the linux example: a Go HTTP server run as /init.
	GoHTTPLinux = "go-http-linux"
)

//go:embed hello/*.* hello/Makefile nanos-http/*.* go-http-linux/*.*
var files embed.FS

// FS returns the examples, one directory each (HelloC, GoHTTPNanos,
// GoHTTPLinux), read-only.
func FS() fs.FS { return files }

// Dir returns the files of one example (HelloC, GoHTTPNanos,
// GoHTTPLinux) at the root of an fs.FS, read-only.
func Dir(name string) fs.FS {
	sub, err := fs.Sub(files, name)
	if err != nil {
		// fs.Sub fails only for an invalid path, and the names are
		// constants.
		panic("examples: " + name + ": " + err.Error())
	}
	return sub
}
