package deploy_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/ukdev/ukdev/deploy"
)

// fakeDeployer records the calls it gets and does what its fields say.
type fakeDeployer struct {
	needsDisk *bool
	planErr   error
	deployErr error
	// block makes Deploy wait for its context's end, then clean up.
	block   bool
	started chan struct{}

	calls     []string
	got       deploy.Request
	cleanedUp bool
}

func (f *fakeDeployer) NeedsDisk() bool { return f.needsDisk == nil || *f.needsDisk }

func (f *fakeDeployer) Plan(ctx context.Context, r deploy.Request) (deploy.Plan, error) {
	f.calls = append(f.calls, "plan")
	f.got = r
	return deploy.Plan{Target: "fake", Rows: []deploy.Row{{Key: "disk", Value: r.Disk}}}, f.planErr
}

func (f *fakeDeployer) Deploy(ctx context.Context, r deploy.Request, report func(deploy.Step)) (deploy.Result, error) {
	f.calls = append(f.calls, "deploy")
	report(deploy.Step{Name: "upload", Done: 5, Total: 10})
	report(deploy.Step{Name: "upload", Done: 10, Total: 10, Finished: true})
	if f.block {
		close(f.started)
		<-ctx.Done()
		f.cleanedUp = true
		return deploy.Result{}, ctx.Err()
	}
	if f.deployErr != nil {
		f.cleanedUp = true
		return deploy.Result{}, f.deployErr
	}
	return deploy.Result{Instance: "i-1", ExternalIP: "203.0.113.7", URLs: []string{"http://203.0.113.7:8080"}}, nil
}

func (f *fakeDeployer) List(context.Context, string) ([]deploy.Instance, error) { return nil, nil }
func (f *fakeDeployer) Destroy(context.Context, string, func(deploy.Step)) error {
	return nil
}

// clock is a fake clock that moves one second per reading.
type clock struct{ t time.Time }

func (c *clock) now() time.Time {
	c.t = c.t.Add(time.Second)
	return c.t
}

func goodRequest() deploy.Request {
	return deploy.Request{Project: "hello", Name: "prod", Build: 12, BuildOK: true, Flavor: "elf"}
}

func TestSession(t *testing.T) {
	no := false
	diskErr := errors.New("qemu did not boot the disk")
	deployErr := errors.New("image insert failed")
	tests := []struct {
		name      string
		req       deploy.Request
		dep       *fakeDeployer
		noDiskFn  bool
		diskErr   error
		answer    bool
		wantErr   error // errors.Is
		wantCalls []string
		wantKinds []deploy.Kind
		diskMade  bool
	}{
		{name: "plan, confirm, deploy", req: goodRequest(), dep: &fakeDeployer{}, answer: true,
			wantCalls: []string{"plan", "deploy"}, diskMade: true,
			wantKinds: []deploy.Kind{deploy.KindStart, deploy.KindStep, deploy.KindStep, deploy.KindStep, deploy.KindProgress, deploy.KindProgress, deploy.KindDone}},
		{name: "declined", req: goodRequest(), dep: &fakeDeployer{}, answer: false, wantErr: deploy.ErrDeclined,
			wantCalls: []string{"plan"}, diskMade: true,
			wantKinds: []deploy.Kind{deploy.KindStart, deploy.KindStep, deploy.KindStep, deploy.KindStep, deploy.KindError}},
		{name: "failed build", req: func() deploy.Request { r := goodRequest(); r.BuildOK = false; return r }(),
			dep: &fakeDeployer{}, answer: true, wantErr: deploy.ErrBadBuild,
			wantKinds: []deploy.Kind{deploy.KindStart, deploy.KindError}},
		{name: "no build", req: func() deploy.Request { r := goodRequest(); r.Build = 0; return r }(),
			dep: &fakeDeployer{}, answer: true, wantErr: deploy.ErrBadBuild,
			wantKinds: []deploy.Kind{deploy.KindStart, deploy.KindError}},
		{name: "disk fails", req: goodRequest(), dep: &fakeDeployer{}, diskErr: diskErr, answer: true, wantErr: diskErr,
			wantKinds: []deploy.Kind{deploy.KindStart, deploy.KindStep, deploy.KindStep, deploy.KindError}},
		{name: "no disk writer", req: goodRequest(), dep: &fakeDeployer{}, noDiskFn: true, answer: true, wantErr: deploy.ErrNoDisk,
			wantKinds: []deploy.Kind{deploy.KindStart, deploy.KindError}},
		{name: "target needs no disk", req: goodRequest(), dep: &fakeDeployer{needsDisk: &no}, noDiskFn: true, answer: true,
			wantCalls: []string{"plan", "deploy"},
			wantKinds: []deploy.Kind{deploy.KindStart, deploy.KindProgress, deploy.KindProgress, deploy.KindDone}},
		{name: "deploy fails", req: goodRequest(), dep: &fakeDeployer{deployErr: deployErr}, answer: true, wantErr: deployErr,
			wantCalls: []string{"plan", "deploy"}, diskMade: true,
			wantKinds: []deploy.Kind{deploy.KindStart, deploy.KindStep, deploy.KindStep, deploy.KindStep, deploy.KindProgress, deploy.KindProgress, deploy.KindError}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			disk := filepath.Join(dir, "disk.raw")
			diskFn := func(ctx context.Context, report func(deploy.Step)) (string, int64, error) {
				report(deploy.Step{Name: "boot test", Message: "first console line"})
				if tt.diskErr != nil {
					return "", 0, tt.diskErr
				}
				return disk, 4096, os.WriteFile(disk, make([]byte, 4096), 0o600)
			}
			clk := &clock{t: time.Unix(1000, 0)}
			var got []deploy.Progress
			s := &deploy.Session{
				Target: "fake", Request: tt.req, Deployer: tt.dep, Disk: diskFn, TempDisk: true,
				Confirm: func(ctx context.Context, p deploy.Plan) (bool, error) {
					clk.t = clk.t.Add(time.Hour) // the user thinks: not counted
					return tt.answer, nil
				},
				Progress: func(p deploy.Progress) { got = append(got, p) },
				Now:      clk.now,
			}
			if tt.noDiskFn {
				s.Disk = nil
			}
			res, err := s.Run(context.Background())
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Run = %v, want %v", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if !reflect.DeepEqual(tt.dep.calls, tt.wantCalls) {
				t.Errorf("calls = %v, want %v", tt.dep.calls, tt.wantCalls)
			}
			var kinds []deploy.Kind
			for _, p := range got {
				kinds = append(kinds, p.Kind)
				if p.Target != "fake" || p.Name != "prod" || p.Build != tt.req.Build {
					t.Errorf("progress %+v lacks the session's facts", p)
				}
			}
			if !reflect.DeepEqual(kinds, tt.wantKinds) {
				t.Errorf("kinds = %v, want %v", kinds, tt.wantKinds)
			}
			if last := got[len(got)-1]; last.Kind == deploy.KindError && !errors.Is(last.Err, tt.wantErr) {
				t.Errorf("error event %v, want %v", last.Err, tt.wantErr)
			}
			if tt.diskMade && tt.dep.got.Disk != disk || tt.diskMade && tt.dep.got.DiskSize != 4096 {
				t.Errorf("the deployer got disk %q (%d bytes), want %s", tt.dep.got.Disk, tt.dep.got.DiskSize, disk)
			}
			if _, err := os.Stat(disk); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the temporary disk is left: %v", err)
			}
			if err == nil {
				if res.Instance != "i-1" || res.ExternalIP != "203.0.113.7" {
					t.Errorf("result %+v", res)
				}
				// Every clock reading is a second; the hour of the
				// confirmation is not counted.
				if res.Elapsed <= 0 || res.Elapsed > time.Minute {
					t.Errorf("elapsed %v, want seconds without the confirmation's hour", res.Elapsed)
				}
			}
		})
	}
}

// A cancel during the deploy ends the session with context.Canceled, after
// the Deployer has cleaned up, and removes the temporary disk.
func TestSessionCancel(t *testing.T) {
	disk := filepath.Join(t.TempDir(), "disk.raw")
	dep := &fakeDeployer{block: true, started: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	var kinds []deploy.Kind
	s := &deploy.Session{
		Target: "fake", Request: goodRequest(), Deployer: dep, TempDisk: true,
		Disk: func(context.Context, func(deploy.Step)) (string, int64, error) {
			return disk, 1, os.WriteFile(disk, []byte{0}, 0o600)
		},
		Confirm:  func(context.Context, deploy.Plan) (bool, error) { return true, nil },
		Progress: func(p deploy.Progress) { kinds = append(kinds, p.Kind) },
	}
	go func() {
		<-dep.started
		cancel()
	}()
	_, err := s.Run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if !dep.cleanedUp {
		t.Error("the deployer did not clean up")
	}
	if kinds[len(kinds)-1] != deploy.KindError {
		t.Errorf("last progress %v, want error", kinds[len(kinds)-1])
	}
	if _, err := os.Stat(disk); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the temporary disk is left: %v", err)
	}
}

// A disk the caller keeps (ukdev disk --out) is not removed.
func TestSessionKeepsDisk(t *testing.T) {
	disk := filepath.Join(t.TempDir(), "disk.raw")
	s := &deploy.Session{
		Target: "fake", Request: goodRequest(), Deployer: &fakeDeployer{},
		Disk: func(context.Context, func(deploy.Step)) (string, int64, error) {
			return disk, 1, os.WriteFile(disk, []byte{0}, 0o600)
		},
		Confirm: func(context.Context, deploy.Plan) (bool, error) { return true, nil },
	}
	if _, err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(disk); err != nil {
		t.Errorf("the disk is gone: %v", err)
	}
}

// Plan alone (--dry-run) touches nothing but the local disk, and never
// asks or deploys.
func TestSessionPlanOnly(t *testing.T) {
	dep := &fakeDeployer{}
	s := &deploy.Session{
		Target: "fake", Request: goodRequest(), Deployer: dep,
		Disk: func(context.Context, func(deploy.Step)) (string, int64, error) {
			return "/tmp/x.raw", 1, nil
		},
		Confirm: func(context.Context, deploy.Plan) (bool, error) {
			t.Error("Confirm called by Plan")
			return false, nil
		},
	}
	p, err := s.Plan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if p.Target != "fake" || !reflect.DeepEqual(dep.calls, []string{"plan"}) {
		t.Errorf("plan %+v, calls %v", p, dep.calls)
	}
}

func TestSizeAndRoundElapsed(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 64 << 20: "64.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := deploy.Size(n); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
	for d, want := range map[time.Duration]time.Duration{
		17400 * time.Microsecond: 17 * time.Millisecond,
		62340 * time.Millisecond: 62300 * time.Millisecond,
	} {
		if got := deploy.RoundElapsed(d); got != want {
			t.Errorf("RoundElapsed(%v) = %v, want %v", d, got, want)
		}
	}
}
