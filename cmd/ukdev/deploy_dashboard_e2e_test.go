package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ukdev/ukdev/deploy/gcp/gcptest"
)

// TestDashboardDeployGCPE2E presses d in the dashboard of examples/hello
// with a gcp deploy pointed at the fakes: the plan, y, the upload's
// progress, the result, and then the instance's serial console in the
// logs panel as the source cloud:<name>.
func TestDashboardDeployGCPE2E(t *testing.T) {
	needTools(t, "tmux")
	fake := gcptest.Start(t, gcptest.Options{})
	dir, env := gcpProject(t, fake)
	s := startDashboard(t, "tuigcp", dir, env, 160, 50, "")
	s.waitText("dashboard with the banner", bootWait, "hello from ukdev")

	s.keys("d")
	question := regexp.MustCompile(`Deploy build #(\d+) to cloud\? \(y/n\)`)
	s.waitScreen("the plan and the question", 3*time.Minute, func(screen string) bool {
		return question.MatchString(screen) && strings.Contains(screen, "(gcp)") && strings.Contains(screen, "europe-west1-b")
	})
	build := question.FindStringSubmatch(s.last)[1]
	s.keys("y")
	s.waitText("the result", 3*time.Minute, "Deployed build #"+build+" to cloud (gcp)", "instance  hello-b"+build)
	if got := fake.Names(gcptest.Instances); len(got) != 1 {
		t.Errorf("instances after the deploy: %v, want one", got)
	}
	s.keys("Escape")
	// The instance's console reaches the logs panel.
	s.waitText("the cloud console in the logs panel", time.Minute, "cloud:", "SeaBIOS (version 1.8.2-google)")
	s.quit()
}
