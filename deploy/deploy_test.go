package deploy_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ukdev/ukdev/deploy"
	"github.com/ukdev/ukdev/project"
)

// registryTarget is a target whose Open fails for settings "bad".
type registryTarget struct{ name string }

func (r registryTarget) Name() string                             { return r.name }
func (r registryTarget) NewSection() any                          { return &struct{}{} }
func (r registryTarget) DecodeSettings(*project.Section, any) any { return nil }
func (r registryTarget) Open(settings any) (deploy.Deployer, error) {
	if settings == "bad" {
		return nil, errors.New("bad settings")
	}
	return &fakeDeployer{}, nil
}

func init() { deploy.Register(registryTarget{"registry-test"}) }

func TestRegistry(t *testing.T) {
	// Register also makes the target's sections known to project.
	if !contains(project.DeployTargets(), "registry-test") || !contains(deploy.Names(), "registry-test") {
		t.Errorf("targets: deploy %v, project %v", deploy.Names(), project.DeployTargets())
	}
	if _, err := deploy.Lookup("nope"); err == nil || !strings.Contains(err.Error(), "registry-test") {
		t.Errorf("Lookup(nope) = %v, want the supported targets listed", err)
	}
	if _, err := deploy.Open(project.Deploy{Name: "x", Target: "registry-test"}); err != nil {
		t.Errorf("Open: %v", err)
	}
	if _, err := deploy.Open(project.Deploy{Name: "x", Target: "registry-test", Settings: "bad"}); err == nil {
		t.Error("Open with bad settings succeeded")
	}
	defer func() {
		if recover() == nil {
			t.Error("a second Register did not panic")
		}
	}()
	deploy.Register(registryTarget{"registry-test"})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
