package devloop

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestEventTypesMatchREADME keeps the README's "Events" table and the
// EventType constants in step: every constant is documented, every
// documented type is a constant. The constants are read from event.go
// itself, so a new one cannot be forgotten by a hand-kept list.
func TestEventTypesMatchREADME(t *testing.T) {
	documented := readmeEventTypes(t, "../README.md")
	declared := declaredEventTypes(t, "event.go")
	for _, typ := range declared {
		if !slices.Contains(documented, typ) {
			t.Errorf("%s is an EventType constant but not in the README's Events table", typ)
		}
	}
	for _, typ := range documented {
		if !slices.Contains(declared, typ) {
			t.Errorf("%s is in the README's Events table but no EventType constant has it", typ)
		}
	}
	if len(declared) < 20 {
		t.Errorf("found only %d EventType constants in event.go: %v", len(declared), declared)
	}
}

// readmeEventTypes returns the types in the first column of the table under
// the README's "## Events" heading, where a cell may name several
// (`watch.paused`, `watch.resumed`).
func readmeEventTypes(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Events")
	if !ok {
		t.Fatalf("%s: no \"## Events\" section", path)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	code := regexp.MustCompile("`([^`]+)`")
	var types []string
	for line := range strings.SplitSeq(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 || !strings.HasPrefix(line, "|") {
			continue
		}
		for _, m := range code.FindAllStringSubmatch(cells[1], -1) {
			if slices.Contains(types, m[1]) {
				t.Errorf("%s: %s is in the Events table twice", path, m[1])
			}
			types = append(types, m[1])
		}
	}
	if len(types) == 0 {
		t.Fatalf("%s: no event types in the Events table", path)
	}
	return types
}

// declaredEventTypes returns the values of the constants of type EventType
// declared in the Go file at path.
func declaredEventTypes(t *testing.T, path string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "EventType" {
				continue
			}
			for i, v := range vs.Values {
				lit, ok := v.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Fatalf("%s: %s is not a string literal", path, vs.Names[i])
				}
				s, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				if slices.Contains(types, s) {
					t.Errorf("%s: two EventType constants are %q", path, s)
				}
				types = append(types, s)
			}
		}
	}
	return types
}
