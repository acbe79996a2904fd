// Package deploytest holds what the tests of the deploy targets share:
// opening a deploy from a ukdev.toml, recording its steps and cancelling
// a deploy half-way.
package deploytest

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ukdev/ukdev/deploy"
	"github.com/ukdev/ukdev/project"
)

// Open parses doc as the ukdev.toml of root and opens its deploy named
// name ("" for the only one). The targets doc names must be registered.
func Open(t testing.TB, root, doc, name string) deploy.Deployer {
	t.Helper()
	c, err := project.Parse(filepath.Join(root, project.FileName), []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.DeployNamed(name)
	if err != nil {
		t.Fatal(err)
	}
	dep, err := deploy.Open(d)
	if err != nil {
		t.Fatal(err)
	}
	return dep
}

// Cancel runs dep's Deploy of r, cancels its context at the first step
// for which at is true, and fails t unless Deploy then returns
// context.Canceled within the given time.
func Cancel(t testing.TB, dep deploy.Deployer, r deploy.Request, at func(deploy.Step) bool, within time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := dep.Deploy(ctx, r, func(s deploy.Step) {
			if at(s) {
				cancel()
			}
		})
		errc <- err
	}()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Deploy = %v, want context.Canceled", err)
		}
	case <-time.After(within):
		t.Fatal("Deploy did not return after the cancel")
	}
}

// Steps records the steps a deploy reports; Report may be called from
// several goroutines.
type Steps struct {
	mu   sync.Mutex
	list []deploy.Step
}

// Report records st; it is the report function of Deploy and Destroy.
func (s *Steps) Report(st deploy.Step) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list = append(s.list, st)
}

// List returns the steps reported so far, in order.
func (s *Steps) List() []deploy.Step {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.list)
}

// Finished returns the names of the steps that finished, in order, each
// followed by ": " and its message when it has one.
func (s *Steps) Finished() []string {
	var out []string
	for _, st := range s.List() {
		if st.Finished {
			line := st.Name
			if st.Message != "" {
				line += ": " + st.Message
			}
			out = append(out, line)
		}
	}
	return out
}
