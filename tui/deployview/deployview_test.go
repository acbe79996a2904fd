package deployview

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/ukdev/ukdev/deploy"
	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/tui/panel"
	"github.com/ukdev/ukdev/tui/panel/paneltest"
)

var epoch = time.Date(2026, 12, 5, 7, 0, 0, 0, time.UTC)

// fakeDeploy records the view's calls to the loop.
type fakeDeploy struct {
	mu    sync.Mutex
	calls []string
}

func (f *fakeDeploy) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}
func (f *fakeDeploy) PlanDeploy(name string) { f.record("plan " + name) }
func (f *fakeDeploy) ConfirmDeploy()         { f.record("confirm") }
func (f *fakeDeploy) CancelDeploy()          { f.record("cancel") }

func (f *fakeDeploy) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// run runs cmd (and the batches it returns) for its calls.
func run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	if b, ok := cmd().(tea.BatchMsg); ok {
		for _, c := range b {
			run(c)
		}
	}
}

// progress is the session report p as the loop emits it, at epoch+at.
func event(p deploy.Progress, at time.Duration) devloop.Event {
	p.Target, p.Name, p.Build = "gcp", "prod", 12
	if p.Elapsed == 0 {
		p.Elapsed = at
	}
	return devloop.DeployEvent(p, epoch.Add(at))
}

func plan() devloop.Event {
	return devloop.Event{Time: epoch.Add(3 * time.Second), Type: devloop.TypeDeployPlan, Target: "gcp", Deploy: "prod", Build: 12,
		Plan: []devloop.PlanRow{{Key: "image", Value: "hello-b12"}, {Key: "zone", Value: "europe-west1-b"},
			{Key: "machine", Value: "e2-small"}, {Key: "ports", Value: "tcp 8080"}, {Key: "replaces", Value: "instance hello-b11\x1b[31m"}}}
}

// opened is a view opened at 60×18, the deploy started and its disk made.
func opened(t *testing.T, now *time.Time) (*Model, *fakeDeploy) {
	t.Helper()
	f := &fakeDeploy{}
	m := New(panel.Deps{Deploy: f, Now: func() time.Time { return *now }})
	m.SetSize(60, 18)
	run(m.Open())
	if got := f.list(); !slices.Equal(got, []string{"plan "}) {
		t.Fatalf("calls after Open: %v", got)
	}
	send(m, event(deploy.Progress{Kind: deploy.KindStart}, 0),
		event(deploy.Progress{Kind: deploy.KindStep, Step: deploy.Step{Name: "make disk"}}, 0),
		event(deploy.Progress{Kind: deploy.KindProgress, Step: deploy.Step{Name: "write disk", Done: 1 << 30, Total: 1 << 30, Finished: true}}, time.Second),
		event(deploy.Progress{Kind: deploy.KindStep, Step: deploy.Step{Name: "boot test", Finished: true}}, 2*time.Second),
		event(deploy.Progress{Kind: deploy.KindStep, Step: deploy.Step{Name: "make disk", Finished: true, Message: "/tmp/d/hello.raw, 1.0 GiB, boot-tested"}}, 2*time.Second))
	return m, f
}

func send(m *Model, events ...devloop.Event) tea.Cmd {
	_, cmd := m.Update(panel.EventsMsg(events))
	return cmd
}

func press(m *Model, keys ...string) {
	for _, k := range keys {
		_, cmd := m.Update(paneltest.Press(k))
		run(cmd)
	}
}

func TestViewGolden(t *testing.T) {
	now := epoch
	tests := []struct {
		name string
		play func(m *Model)
	}{
		{"planning", func(m *Model) {}},
		{"plan", func(m *Model) { send(m, plan()) }},
		{"progress", func(m *Model) {
			send(m, plan())
			press(m, "y")
			send(m, event(deploy.Progress{Kind: deploy.KindStep, Step: deploy.Step{Name: "upload disk"}}, 4*time.Second),
				event(deploy.Progress{Kind: deploy.KindProgress, Step: deploy.Step{Name: "upload disk", Done: 48 << 20, Total: 128 << 20}}, 10*time.Second))
			now = epoch.Add(12*time.Second + 340*time.Millisecond)
		}},
		{"tool output", func(m *Model) {
			send(m, plan())
			press(m, "y")
			send(m, event(deploy.Progress{Kind: deploy.KindStep, Step: deploy.Step{Name: "ops image create", Message: "creating image hello-b12\x07"}}, 4*time.Second))
			now = epoch.Add(5 * time.Second)
		}},
		{"cancelling", func(m *Model) {
			send(m, plan())
			press(m, "y", "esc")
			now = epoch.Add(3 * time.Second)
		}},
		{"done", func(m *Model) {
			send(m, plan())
			press(m, "y")
			send(m, event(deploy.Progress{Kind: deploy.KindDone, Result: deploy.Result{Instance: "hello-b12", ExternalIP: "203.0.113.7",
				URLs: []string{"http://203.0.113.7:8080"}, Elapsed: 62400 * time.Millisecond}}, 70*time.Second))
			now = epoch.Add(time.Hour) // the time shown stays the deploy's
		}},
		{"error", func(m *Model) {
			send(m, plan())
			press(m, "y")
			send(m, event(deploy.Progress{Kind: deploy.KindStep, Step: deploy.Step{Name: "create image"}}, 5*time.Second),
				event(deploy.Progress{Kind: deploy.KindError, Err: fmt.Errorf("deploy: prod: create image: %w",
					errors.New("googleapi: Error 403: Required 'compute.images.create' permission for 'projects/p/global/images/hello-b12'"))}, 6*time.Second))
		}},
		{"no deploy", func(m *Model) {
			m.name, m.steps = "", nil
			e := devloop.DeployEvent(deploy.Progress{Kind: deploy.KindError,
				Err: errors.New(`devloop: deploy: project: no deploy configured: add a [deploy.<name>] section to /p/ukdev.toml (targets: aws, command, gcp, ops)`)}, epoch)
			e.Reason = devloop.ReasonNoDeploy
			send(m, e)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now = epoch.Add(3 * time.Second)
			m, _ := opened(t, &now)
			tt.play(m)
			paneltest.Golden(t, paneltest.Snapshot(t, m, 60, 18))
		})
	}
}

func TestKeys(t *testing.T) {
	tests := []struct {
		name       string
		plan       bool     // the plan was shown
		keys       []string // pressed after it
		end        *devloop.Event
		wantCalls  []string
		wantActive bool
		wantKeys   string // the help keys left
	}{
		{"y confirms", true, []string{"y"}, nil, []string{"plan ", "confirm"}, true, "esc"},
		{"n declines and closes", true, []string{"n"}, nil, []string{"plan ", "cancel"}, false, ""},
		{"esc at the question declines", true, []string{"esc"}, nil, []string{"plan ", "cancel"}, false, ""},
		{"esc while planning cancels", false, []string{"esc"}, nil, []string{"plan ", "cancel"}, false, ""},
		{"y before the plan does nothing", false, []string{"y"}, nil, []string{"plan "}, true, "esc"},
		{"esc while running cancels once", true, []string{"y", "esc", "esc"}, nil, []string{"plan ", "confirm", "cancel"}, true, "esc"},
		{"other keys are taken and ignored", true, []string{"r", "q"}, nil, []string{"plan "}, true, "y n"},
		{"esc closes the result", true, []string{"y"}, ptr(event(deploy.Progress{Kind: deploy.KindDone}, time.Second)), []string{"plan ", "confirm"}, false, ""},
		{"enter closes an error", true, []string{"y"}, ptr(event(deploy.Progress{Kind: deploy.KindError, Err: errors.New("boom")}, time.Second)), []string{"plan ", "confirm"}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := epoch
			m, f := opened(t, &now)
			if tt.plan {
				send(m, plan())
			}
			press(m, tt.keys...)
			if tt.end != nil {
				send(m, *tt.end)
				if !m.Active() || !m.Capturing() {
					t.Fatal("the result closed by itself")
				}
				press(m, map[bool]string{true: "esc", false: "enter"}[tt.end.Type == devloop.TypeDeployDone])
			}
			if got := f.list(); !slices.Equal(got, tt.wantCalls) {
				t.Errorf("calls %v, want %v", got, tt.wantCalls)
			}
			if m.Active() != tt.wantActive || m.Capturing() != tt.wantActive {
				t.Errorf("active %v, capturing %v; want %v", m.Active(), m.Capturing(), tt.wantActive)
			}
			var keys []string
			for _, b := range m.KeyBindings() {
				keys = append(keys, b.Help().Key)
			}
			if got := strings.Join(keys, " "); got != tt.wantKeys {
				t.Errorf("help keys %q, want %q", got, tt.wantKeys)
			}
		})
	}
}

func TestEventsWhileClosedAreIgnored(t *testing.T) {
	m := New(panel.Deps{Deploy: &fakeDeploy{}})
	m.SetSize(40, 10)
	send(m, plan())
	if m.Active() || m.View() != strings.Repeat(strings.Repeat(" ", 40)+"\n", 9)+strings.Repeat(" ", 40) {
		t.Errorf("a closed view took a plan: active %v\n%s", m.Active(), m.View())
	}
	// Reopened, it starts afresh.
	run(m.Open())
	send(m, plan())
	press(m, "n")
	run(m.Open())
	if m.phase != phasePlanning || m.plan != nil {
		t.Errorf("reopened view: phase %d, plan %v", m.phase, m.plan)
	}
}

func TestOpenWithoutDeployControl(t *testing.T) {
	m := New(panel.Deps{})
	m.SetSize(40, 10)
	if cmd := m.Open(); cmd != nil {
		t.Error("Open returned a command with nothing to call")
	}
	paneltest.WantText(t, m.View(), "this dashboard cannot deploy")
}

func ptr[T any](v T) *T { return &v }

// TestTicking checks that the view asks for ticks only while a confirmed
// deploy runs: its clock is the only thing on it that moves by itself.
func TestTicking(t *testing.T) {
	tests := []struct {
		name string
		plan bool     // the plan was shown
		keys []string // pressed after it
		end  *devloop.Event
		want bool
	}{
		{"planning", false, nil, nil, false},
		{"asking", true, nil, nil, false},
		{"running", true, []string{"y"}, nil, true},
		{"declined", true, []string{"n"}, nil, false},
		{"done", true, []string{"y"}, ptr(event(deploy.Progress{Kind: deploy.KindDone}, time.Second)), false},
		{"failed", true, []string{"y"}, ptr(event(deploy.Progress{Kind: deploy.KindError, Err: errors.New("boom")}, time.Second)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := epoch
			m, _ := opened(t, &now)
			if tt.plan {
				send(m, plan())
			}
			press(m, tt.keys...)
			if tt.end != nil {
				send(m, *tt.end)
			}
			if got := m.Ticking(); got != tt.want {
				t.Errorf("Ticking() = %v, want %v", got, tt.want)
			}
		})
	}
}
