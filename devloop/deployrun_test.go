package devloop

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ukdev/ukdev/deploy"
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/project"
)

// testTarget is the deploy target "devloop-test": every Open returns
// testDeployer, which the test sets.
type testTarget struct{}

func (testTarget) Name() string                             { return "devloop-test" }
func (testTarget) NewSection() any                          { return &struct{}{} }
func (testTarget) DecodeSettings(*project.Section, any) any { return nil }
func (testTarget) Open(any) (deploy.Deployer, error) {
	if testDeployer == nil {
		return nil, errors.New("no test deployer")
	}
	return testDeployer, nil
}

func init() { deploy.Register(testTarget{}) }

// testDeployer is the Deployer of the running test (tests using it do not
// run in parallel).
var testDeployer *fakeDeployer

// fakeDeployer records the requests, reports two steps and an upload,
// blocks in Deploy when told to (until cancelled), and serves a console.
type fakeDeployer struct {
	needsDisk bool
	block     bool

	mu       sync.Mutex
	planned  []deploy.Request
	deployed []deploy.Request
	cleaned  bool   // Deploy saw its context end and cleaned up
	console  string // the instance's console so far
	reads    []int64
}

func (f *fakeDeployer) NeedsDisk() bool { return f.needsDisk }

func (f *fakeDeployer) Plan(_ context.Context, r deploy.Request) (deploy.Plan, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.planned = append(f.planned, r)
	return deploy.Plan{Target: "devloop-test", Rows: []deploy.Row{{Key: "instance", Value: "hello-b1"}, {Key: "replaces", Value: "nothing"}}}, nil
}

func (f *fakeDeployer) Deploy(ctx context.Context, r deploy.Request, report func(deploy.Step)) (deploy.Result, error) {
	f.mu.Lock()
	f.deployed = append(f.deployed, r)
	f.mu.Unlock()
	report(deploy.Step{Name: "upload"})
	report(deploy.Step{Name: "upload", Done: 10, Total: 10, Finished: true})
	if f.block {
		<-ctx.Done()
		f.mu.Lock()
		f.cleaned = true
		f.mu.Unlock()
		return deploy.Result{}, ctx.Err()
	}
	report(deploy.Step{Name: "create instance", Finished: true})
	return deploy.Result{Instance: "i-1", ExternalIP: "203.0.113.7", URLs: []string{"http://203.0.113.7:8080"}}, nil
}

func (f *fakeDeployer) List(context.Context, string) ([]deploy.Instance, error)  { return nil, nil }
func (f *fakeDeployer) Destroy(context.Context, string, func(deploy.Step)) error { return nil }

func (f *fakeDeployer) Console(_ context.Context, instance string, offset int64) ([]byte, int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if instance != "i-1" {
		return nil, 0, errors.New("no such instance")
	}
	f.reads = append(f.reads, offset)
	return []byte(f.console[offset:]), int64(len(f.console)), nil
}

// say appends to the instance's console.
func (f *fakeDeployer) say(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.console += s
}

func (f *fakeDeployer) requests() (planned, deployed []deploy.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.planned), slices.Clone(f.deployed)
}

// diskKernel is a fakeKernel that writes disks: a small file.
type diskKernel struct{ *fakeKernel }

func (diskKernel) WriteDisk(_ context.Context, img image.Image, path string, opts image.DiskOptions) (image.Disk, error) {
	if err := os.WriteFile(path, []byte("disk of "+img.Kernel), 0o644); err != nil {
		return image.Disk{}, err
	}
	opts.Progress(1, 1)
	return image.Disk{Path: path, Size: 1, Machine: "pc"}, nil
}

const deployConfig = "[deploy.prod]\ntarget = \"devloop-test\"\n"

// deployHarness is a running loop with one good boot of build 1, whose
// kernel file exists, and testDeployer set to f.
func deployHarness(t *testing.T, f *fakeDeployer, o harnessOptions) *harness {
	t.Helper()
	testDeployer = f
	t.Cleanup(func() { testDeployer = nil })
	h := newHarness(t, o)
	h.l.deploys.poll = 10 * time.Millisecond
	if err := os.WriteFile(filepath.Join(h.root, "k.elf"), []byte("kernel 1"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.run()
	h.boot()
	return h
}

func TestLoopDeployPlanConfirmConsole(t *testing.T) {
	f := &fakeDeployer{}
	h := deployHarness(t, f, harnessOptions{config: "vm.ports = [\"8080:80\"]\n" + deployConfig})

	h.l.PlanDeploy("")
	start := h.wait(TypeDeployStart, nil)
	if start.Deploy != "prod" || start.Target != "devloop-test" || start.Build != 1 {
		t.Errorf("deploy.start %+v", start)
	}
	plan := h.wait(TypeDeployPlan, nil)
	want := []PlanRow{{"instance", "hello-b1"}, {"replaces", "nothing"}}
	if !slices.Equal(plan.Plan, want) || plan.Build != 1 || plan.Deploy != "prod" {
		t.Errorf("deploy.plan %+v, want rows %v", plan, want)
	}
	planned, deployed := f.requests()
	if len(planned) != 1 || len(deployed) != 0 {
		t.Fatalf("planned %d, deployed %d before the confirmation", len(planned), len(deployed))
	}
	r := planned[0]
	if r.Project == "" || r.Name != "prod" || r.Build != 1 || !r.BuildOK || len(r.Ports) != 1 || r.Disk != "" {
		t.Errorf("request %+v", r)
	}
	// The kernel is a private copy, kept while the deploy runs.
	if r.Kernel == filepath.Join(h.root, "k.elf") || !strings.HasPrefix(r.Kernel, h.l.runDir) {
		t.Errorf("request kernel %q is not a pinned copy", r.Kernel)
	}
	if b, err := os.ReadFile(r.Kernel); err != nil || string(b) != "kernel 1" {
		t.Errorf("pinned kernel: %q, %v", b, err)
	}

	f.say("booting\nhello from the cloud\npart")
	h.l.ConfirmDeploy()
	done := h.wait(TypeDeployDone, nil)
	if done.Instance != "i-1" || done.IP != "203.0.113.7" || len(done.URLs) != 1 {
		t.Errorf("deploy.done %+v", done)
	}
	waitFor(t, "the pinned copy removed", func() bool { _, err := os.Stat(r.Kernel); return errors.Is(err, os.ErrNotExist) })
	for _, want := range []string{"booting", "hello from the cloud"} {
		e := h.wait(TypeDeployConsole, nil)
		if e.Line != want || e.Deploy != "prod" || e.Instance != "i-1" {
			t.Errorf("deploy.console %+v, want line %q", e, want)
		}
	}
	f.say("ial line\n")
	if e := h.wait(TypeDeployConsole, nil); e.Line != "partial line" {
		t.Errorf("deploy.console %q, want the line completed by the next read", e.Line)
	}
	var cloud []string
	for _, l := range h.l.Ring().Snapshot() {
		if l.Source == CloudSource("prod") {
			cloud = append(cloud, l.Text)
		}
	}
	if !slices.Equal(cloud, []string{"booting", "hello from the cloud", "partial line"}) {
		t.Errorf("ring lines of cloud:prod %q", cloud)
	}
	f.mu.Lock()
	reads := slices.Clone(f.reads)
	f.mu.Unlock()
	if len(reads) < 2 || reads[0] != 0 || reads[1] == 0 {
		t.Errorf("console read at offsets %v, want 0 then where the last read ended", reads)
	}
	for _, e := range h.seen {
		if e.Type == TypeDeployProgress && e.Step == "upload" && e.Finished {
			return
		}
	}
	t.Errorf("no finished upload step among\n%s", h.types())
}

func TestLoopDeployWithDisk(t *testing.T) {
	f := &fakeDeployer{needsDisk: true}
	h := deployHarness(t, f, harnessOptions{config: deployConfig, disks: true})
	h.l.PlanDeploy("prod")
	// The boot test boots the disk alone on the loop's backend.
	m := h.be.next(t)
	if m.spec.BootDisk == "" || m.spec.Image.Kernel != "" {
		t.Errorf("boot test spec %+v", m.spec)
	}
	m.print(t, "first line\n")
	h.wait(TypeDeployPlan, nil)
	planned, _ := f.requests()
	r := planned[0]
	if r.DiskSize != deploy.GiB || !strings.HasPrefix(r.Disk, h.l.runDir) {
		t.Errorf("request disk %q of %d bytes", r.Disk, r.DiskSize)
	}
	if b, err := readStart(r.Disk, 200); err != nil || !strings.HasPrefix(string(b), "disk of "+h.l.runDir) {
		t.Errorf("disk: %q, %v; want the disk of the pinned kernel", b, err)
	}
	h.l.CancelDeploy()
	if e := h.wait(TypeDeployError, nil); !strings.Contains(e.Message, "not confirmed") {
		t.Errorf("deploy.error %q after a cancel at the question", e.Message)
	}
	waitFor(t, "the disk removed", func() bool { _, err := os.Stat(r.Disk); return errors.Is(err, os.ErrNotExist) })
	if _, deployed := f.requests(); len(deployed) != 0 {
		t.Errorf("deployed %d times without confirmation", len(deployed))
	}
}

func TestLoopDeployCancel(t *testing.T) {
	f := &fakeDeployer{block: true}
	h := deployHarness(t, f, harnessOptions{config: deployConfig})
	h.l.PlanDeploy("")
	h.wait(TypeDeployPlan, nil)
	h.l.ConfirmDeploy()
	h.wait(TypeDeployProgress, func(e Event) bool { return e.Finished })
	// A second deploy while one runs is refused.
	h.l.PlanDeploy("")
	if e := h.wait(TypeDeployError, nil); e.Build != 0 || e.Reason != "" {
		t.Errorf("second deploy: %+v", e)
	}
	h.l.CancelDeploy()
	e := h.wait(TypeDeployError, nil)
	if !strings.Contains(e.Message, "cancelled") || e.Build != 1 {
		t.Errorf("deploy.error %+v, want cancelled", e)
	}
	f.mu.Lock()
	cleaned := f.cleaned
	f.mu.Unlock()
	if !cleaned {
		t.Error("the deployer never saw the cancel")
	}
	// The next deploy may start.
	f.block = false
	h.l.PlanDeploy("")
	h.wait(TypeDeployPlan, nil)
}

func TestLoopDeployRefused(t *testing.T) {
	tests := []struct {
		name, config, deploy string
		boot                 bool
		reason               string
	}{
		{"no deploy configured", "", "", true, ReasonNoDeploy},
		{"unknown deploy", deployConfig, "staging", true, ReasonNoDeploy},
		{"no good build", deployConfig, "", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testDeployer = &fakeDeployer{}
			t.Cleanup(func() { testDeployer = nil })
			h := newHarness(t, harnessOptions{config: tt.config})
			h.run()
			if tt.boot {
				h.boot()
			} else {
				h.bld.next(t).finish(1)
				h.wait(TypeBuildDone, nil)
			}
			h.l.PlanDeploy(tt.deploy)
			e := h.wait(TypeDeployError, nil)
			if e.Reason != tt.reason || e.Detail == "" {
				t.Errorf("deploy.error %+v, want reason %q", e, tt.reason)
			}
			if h.sawType(TypeDeployStart) {
				t.Error("a refused deploy started")
			}
		})
	}
}

// readStart reads the first n bytes of the file at path (disks are 1 GiB,
// mostly sparse).
func readStart(path string, n int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, n)
	n, err = f.Read(b)
	return bytes.TrimRight(b[:n], "\x00"), err
}
