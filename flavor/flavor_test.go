package flavor

import (
	"slices"
	"strings"
	"testing"

	"github.com/ukdev/ukdev/project"
	"github.com/ukdev/ukdev/project/projecttest"
)

// fake is a flavor that opens nothing.
type fake struct{ projecttest.Flavor }

func (fake) Open(*project.Config) (*Setup, error) { return nil, nil }

func TestRegistry(t *testing.T) {
	Register(fake{projecttest.Flavor("flavor-test-b")})
	Register(fake{projecttest.Flavor("flavor-test-a")})
	tests := []struct {
		name    string
		wantErr bool
	}{
		{name: "flavor-test-a"},
		{name: "flavor-test-b"},
		{name: "flavor-test-c", wantErr: true},
		{name: "FLAVOR-TEST-A", wantErr: true},
		{name: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Lookup(tt.name)
			if tt.wantErr {
				if err == nil || f != nil {
					t.Errorf("Lookup(%q) = %v, %v; want nil and an error", tt.name, f, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Lookup(%q): %v", tt.name, err)
			}
			if f.Name() != tt.name {
				t.Errorf("Lookup(%q).Name() = %q", tt.name, f.Name())
			}
		})
	}
	names := Names()
	if !slices.IsSorted(names) {
		t.Errorf("Names() = %v, not sorted", names)
	}
	for _, want := range []string{"flavor-test-a", "flavor-test-b"} {
		if !slices.Contains(names, want) {
			t.Errorf("Names() = %v, lacks %s", names, want)
		}
	}
}

// An unknown name's error lists the registered ones, so that a typo in
// ukdev.toml shows the choices.
func TestLookupUnknownListsNames(t *testing.T) {
	Register(fake{projecttest.Flavor("flavor-test-listed")})
	_, err := Lookup("flavor-test-typo")
	if err == nil {
		t.Fatal("Lookup of an unknown name succeeded")
	}
	for _, want := range []string{`"flavor-test-typo"`, "flavor-test-listed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %s", err, want)
		}
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	Register(fake{projecttest.Flavor("flavor-test-dup")})
	defer func() {
		if recover() == nil {
			t.Error("a second Register of one name did not panic")
		}
	}()
	Register(fake{projecttest.Flavor("flavor-test-dup")})
}
