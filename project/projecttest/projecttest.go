// Package projecttest holds what the tests of project and of the flavors
// share: writing and reading a project's files, rendering a template,
// parsing a config that must parse, uncommenting a section of a rendered
// ukdev.toml, and checking that a broken config always reports the same
// error. It is for tests only.
package projecttest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ukdev/ukdev/project"
	"github.com/ukdev/ukdev/project/templates"
)

// WriteFiles writes files (slash-separated paths relative to dir, to
// their contents) under dir, making the directories they need.
func WriteFiles(t testing.TB, dir string, files map[string][]byte) {
	t.Helper()
	for name, data := range files {
		WriteFile(t, filepath.Join(dir, filepath.FromSlash(name)), string(data))
	}
}

// WriteFile creates or replaces the file at path with content, making
// the directories it needs.
func WriteFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// ReadFile returns the content of the file at rel (slash-separated)
// under dir, failing t at once if it cannot be read.
func ReadFile(t testing.TB, dir, rel string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// RenderTemplate renders the template name into a new directory named
// "My Proj" (a name the project name is made from: my-proj) and returns
// the directory and the files written, failing t if Render fails.
func RenderTemplate(t testing.TB, name string) (dir string, files []string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "My Proj")
	files, err := templates.Render(name, dir, templates.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return dir, files
}

// Uncomment returns an InitFile output with the commented keys of the
// given section ("[kernel]") made real.
func Uncomment(data []byte, section string) []byte {
	var b strings.Builder
	current := ""
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "[") {
			current = line
		}
		if rest, ok := strings.CutPrefix(line, "# "); ok && current == section && strings.Contains(rest, " = ") {
			line = rest
		}
		b.WriteString(line + "\n")
	}
	return []byte(b.String())
}

// Parses is how many times OneError parses a config.
const Parses = 200

// OneError parses doc as project.FileName Parses times and returns the
// error, failing t unless every parse fails with the same one: a config
// reports the first problem in the file, every time.
func OneError(t testing.TB, doc string) string {
	t.Helper()
	got := map[string]int{}
	for range Parses {
		_, err := project.Parse(project.FileName, []byte(doc))
		if err == nil {
			t.Fatal("no error")
		}
		got[err.Error()]++
	}
	if len(got) != 1 {
		t.Errorf("%d parses gave %v, want one error", Parses, got)
		return ""
	}
	for msg := range got {
		return msg
	}
	return ""
}

// CheckError parses doc as project.FileName and fails t unless Parse
// reports a *project.Error at line and col, for key, with a message
// containing msg.
func CheckError(t testing.TB, doc string, line, col int, key, msg string) {
	t.Helper()
	_, err := project.Parse(project.FileName, []byte(doc))
	var e *project.Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v (%T), want *project.Error", err, err)
	}
	if e.File != project.FileName || e.Line != line || e.Column != col || e.Key != key || !strings.Contains(e.Msg, msg) {
		t.Errorf("got %q\nwant %s:%d:%d key %q msg containing %q", e.Error(), project.FileName, line, col, key, msg)
	}
}

// ErrorCase is a row of a table of configs that Parse must refuse: Doc
// is the whole ukdev.toml, and the *project.Error must stand at Line and
// Col, for Key, with a message containing Msg.
type ErrorCase struct {
	Name      string
	Doc       string
	Line, Col int
	Key       string
	Msg       string // a substring of Msg
}

// CheckErrors runs CheckError on every case, each in a subtest named by
// the case's Name.
func CheckErrors(t *testing.T, cases []ErrorCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) { CheckError(t, c.Doc, c.Line, c.Col, c.Key, c.Msg) })
	}
}

// MustParse parses data as the project file at path and returns the
// config, failing t at once if it does not parse.
func MustParse(t testing.TB, path string, data []byte) *project.Config {
	t.Helper()
	c, err := project.Parse(path, data)
	if err != nil {
		t.Fatalf("%s does not parse: %v\n%s", path, err, data)
	}
	return c
}

// Flavor is a project.Flavor named by its value that recognises no
// project and adds nothing to ukdev init: the base of a test's fake
// flavor, which embeds it and adds what the test is about.
type Flavor string

// Name implements project.Flavor.
func (f Flavor) Name() string { return string(f) }

// KernelKeys implements project.Flavor: every [kernel] key is used.
func (Flavor) KernelKeys() project.KernelKeys { return project.KernelKeys{} }

// DetectOrder implements project.Flavor.
func (Flavor) DetectOrder() int { return 0 }

// Detect implements project.Flavor: nothing looks like a project of it.
func (Flavor) Detect(string, bool) (project.Detection, bool) { return project.Detection{}, false }

// InitParts implements project.Flavor: nothing of its own.
func (Flavor) InitParts(project.Detection) project.InitParts { return project.InitParts{} }
