package aws

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/smithy-go"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/ukdev/ukdev/deploy"
	"github.com/ukdev/ukdev/deploy/aws/awstest"
	"github.com/ukdev/ukdev/deploy/deploytest"
	"github.com/ukdev/ukdev/project"
)

var (
	date = func(min int) time.Time { return time.Date(2026, 12, 4, 10, min, 0, 0, time.UTC) }
	tags = func(project, deploy string, build int, name string) map[string]string {
		return map[string]string{TagProject: project, TagDeploy: deploy, TagBuild: fmt.Sprint(build), "Name": name}
	}
	ports = []project.Port{
		{Proto: "tcp", HostPort: 8080, GuestPort: 8080, Spec: "8080"},
		{Proto: "tcp", HostPort: 8081, GuestPort: 80, Spec: "8081:80"},
	}
)

// seed puts into c what two earlier deploys of hello left (builds 10 and
// 11, the second running), and another project's instance and image.
func seed(c *awstest.Cloud) {
	c.Images = []*awstest.Image{
		{ID: "ami-b10", Name: "hello-aws-b10", Snapshot: "snap-b10", Created: date(1), Tags: tags("hello", "aws", 10, "hello-aws-b10")},
		{ID: "ami-b11", Name: "hello-aws-b11", Snapshot: "snap-b11", Created: date(2), Tags: tags("hello", "aws", 11, "hello-aws-b11")},
		{ID: "ami-other", Name: "other-aws-b1", Snapshot: "snap-other", Created: date(3), Tags: tags("other", "aws", 1, "other-aws-b1")},
	}
	c.Snapshots = []*awstest.Snapshot{
		{ID: "snap-b10", State: "completed", Size: 1, Tags: tags("hello", "aws", 10, "hello-aws-b10")},
		{ID: "snap-b11", State: "completed", Size: 1, Tags: tags("hello", "aws", 11, "hello-aws-b11")},
		{ID: "snap-other", State: "completed", Size: 1, Tags: tags("other", "aws", 1, "other-aws-b1")},
	}
	c.Instances = []*awstest.Instance{
		{ID: "i-prev", Image: "ami-b11", State: "running", Type: "t2.micro", IP: "198.51.100.4", Groups: []string{"sg-hello"},
			Tags: tags("hello", "aws", 11, "hello-aws-b11"), Launched: date(2)},
		{ID: "i-other", Image: "ami-other", State: "running", Type: "t2.micro", Tags: tags("other", "aws", 1, "other-aws-b1"), Launched: date(3)},
	}
	c.Groups = []*awstest.Group{{ID: "sg-hello", Name: "ukdev-hello-aws", VPC: "vpc-default", Rules: []string{"tcp/80"},
		Tags: map[string]string{TagProject: "hello", TagDeploy: "aws", "Name": "ukdev-hello-aws"}}}
}

// open returns a Deployer of st that polls without waiting.
func open(t *testing.T, st Settings) *Deployer {
	t.Helper()
	dep, err := Target{}.Open(st)
	if err != nil {
		t.Fatal(err)
	}
	d := dep.(*Deployer)
	d.poll = time.Millisecond
	d.now = func() time.Time { return date(30) }
	return d
}

// disk writes a disk of size bytes with data at the given offsets, zeros
// elsewhere, and returns its path.
func disk(t *testing.T, size int64, data ...int64) string {
	t.Helper()
	b := make([]byte, size)
	for _, off := range data {
		copy(b[off:], fmt.Sprintf("data at %d", off))
	}
	path := filepath.Join(t.TempDir(), "disk.raw")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func request(path string, size int64) deploy.Request {
	return deploy.Request{Project: "hello", Name: "aws", Build: 12, Flavor: "nanos", Disk: path, DiskSize: size, Ports: ports}
}

func TestDeploy(t *testing.T) {
	c := newCloud(t)
	seed(c)
	c.Groups = nil
	c.Instances[0].Groups = nil
	// Blocks 0, 3 and the last, partial one hold data; 1, 2 and 4 are zeros.
	size := int64(5*BlockSize + 100)
	path := disk(t, size, 0, 3*BlockSize+4096, 5*BlockSize)
	d := open(t, Settings{Region: "eu-west-1", KeepImages: 2, ENA: true, InstanceType: "t3.micro", PublicIP: true})
	var s deploytest.Steps
	res, err := d.Deploy(context.Background(), request(path, size), s.Report)
	if err != nil {
		t.Fatal(err)
	}

	want := deploy.Result{Instance: "i-0004", ExternalIP: "203.0.113.7", URLs: []string{"http://203.0.113.7:8080", "http://203.0.113.7"}}
	if !reflect.DeepEqual(res, want) {
		t.Errorf("result %+v, want %+v", res, want)
	}
	// Only the blocks with data went up, each whole and as on the disk.
	raw, _ := os.ReadFile(path)
	raw = append(raw, make([]byte, 6*BlockSize-len(raw))...)
	if len(c.Written()) != 3 {
		t.Errorf("%d blocks written, want 3 (0, 3, 5)", len(c.Written()))
	}
	for i, b := range c.Written() {
		if !bytes.Equal(b, raw[i*BlockSize:(i+1)*BlockSize]) {
			t.Errorf("block %d differs from the disk", i)
		}
	}
	// The previous instance goes only once the new one runs; the oldest
	// image goes last.
	if !c.Ordered("StartSnapshot snap-0001", "CompleteSnapshot snap-0001 3 blocks", "RegisterImage ami-0002 hello-aws-b12 ena=true",
		"CreateSecurityGroup sg-0003 ukdev-hello-aws", "AuthorizeSecurityGroupIngress sg-0003 tcp/8080", "AuthorizeSecurityGroupIngress sg-0003 tcp/80",
		"RunInstances i-0004 ami-0002 t3.micro groups=sg-0003", "DescribeInstances i-0004 running", "TerminateInstances i-prev",
		"DeregisterImage ami-b10", "DeleteSnapshot snap-b10") {
		t.Errorf("calls out of order:\n%s", strings.Join(c.Calls(), "\n"))
	}
	wantState := `instance i-prev hello-aws-b11 ami-b11 shutting-down
instance i-other other-aws-b1 ami-other running
instance i-0004 hello-aws-b12 ami-0002 running
image ami-b11 hello-aws-b11 snap-b11
image ami-other other-aws-b1 snap-other
image ami-0002 hello-aws-b12 snap-0001
snapshot snap-b11 completed
snapshot snap-other completed
snapshot snap-0001 completed
group sg-0003 ukdev-hello-aws tcp/8080,tcp/80
`
	if got := c.State(); got != wantState {
		t.Errorf("cloud after the deploy:\n%s\nwant:\n%s", got, wantState)
	}
	// The upload's progress counts every byte of the disk, up to its end.
	var last int64
	var finished bool
	for _, st := range s.List() {
		if st.Name != stepUpload {
			continue
		}
		if st.Total != size || st.Done < last {
			t.Errorf("upload progress %d/%d after %d", st.Done, st.Total, last)
		}
		last, finished = st.Done, finished || st.Finished
	}
	if last != size || !finished {
		t.Errorf("upload ended at %d of %d (finished %v)", last, size, finished)
	}
	// A second deploy of the same build reuses the group and names its
	// image apart.
	c.ResetCalls()
	if _, err := d.Deploy(context.Background(), request(path, size), s.Report); err != nil {
		t.Fatal(err)
	}
	if !c.Ordered("RegisterImage ami-0006 hello-aws-b12-2", "RunInstances i-0007 ami-0006 t3.micro groups=sg-0003", "TerminateInstances i-0004", "DeregisterImage ami-b11") {
		t.Errorf("second deploy's calls:\n%s", strings.Join(c.Calls(), "\n"))
	}
	for _, call := range c.Calls() {
		if strings.HasPrefix(call, "CreateSecurityGroup") || strings.HasPrefix(call, "Authorize") {
			t.Errorf("second deploy: %s", call)
		}
	}
}

func TestDeploySubnet(t *testing.T) {
	c := newCloud(t)
	size := int64(BlockSize)
	d := open(t, Settings{Region: "eu-west-1", KeepImages: 3, Subnet: "subnet-0a", SecurityGroups: []string{"sg-extra"}})
	if _, err := d.Deploy(context.Background(), request(disk(t, size, 0), size), func(deploy.Step) {}); err != nil {
		t.Fatal(err)
	}
	if !c.Ordered("CreateSecurityGroup sg-0003 ukdev-hello-aws vpc-0001", "RunInstances network interface subnet=subnet-0a public=false",
		"RunInstances i-0004 ami-0002 t2.micro groups=sg-0003,sg-extra") {
		t.Errorf("calls:\n%s", strings.Join(c.Calls(), "\n"))
	}
}

func TestDeployFailureLeavesNothing(t *testing.T) {
	for _, tc := range []struct {
		action, code string
		// group says the deploy got as far as creating the security
		// group, which is kept for the next deploy.
		group string
	}{
		{action: "RegisterImage", code: "InvalidParameterValue"},
		{action: "RunInstances", code: "InsufficientInstanceCapacity", group: "group sg-0003 ukdev-hello-aws tcp/8080,tcp/80\n"},
	} {
		t.Run(tc.action, func(t *testing.T) {
			c := newCloud(t)
			seed(c)
			c.Groups = nil
			before := c.State()
			c.Fail(tc.action, tc.code)
			size := int64(2 * BlockSize)
			d := open(t, Settings{Region: "eu-west-1", KeepImages: 1})
			_, err := d.Deploy(context.Background(), request(disk(t, size, 0, BlockSize), size), func(deploy.Step) {})
			var api smithy.APIError
			if !errors.As(err, &api) || api.ErrorCode() != tc.code {
				t.Fatalf("error %v, want the %s error", err, tc.code)
			}
			if got := c.State(); got != before+tc.group {
				t.Errorf("cloud after the failure:\n%s\nwant:\n%s%s", got, before, tc.group)
			}
			for _, call := range c.Calls() {
				if strings.HasPrefix(call, "TerminateInstances i-prev") || strings.HasPrefix(call, "DeregisterImage ami-b") {
					t.Errorf("the failed deploy touched the previous one: %s", call)
				}
			}
		})
	}
}

func TestDeployCancelDuringUpload(t *testing.T) {
	c := newCloud(t)
	seed(c)
	before := c.State()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var once sync.Once
	c.OnBlock = func(int) { once.Do(cancel) }
	size := int64(16 * BlockSize)
	var offs []int64
	for i := range int64(16) {
		offs = append(offs, i*BlockSize)
	}
	d := open(t, Settings{Region: "eu-west-1"})
	_, err := d.Deploy(ctx, request(disk(t, size, offs...), size), func(deploy.Step) {})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if !c.Ordered("StartSnapshot snap-0001", "DeleteSnapshot snap-0001") {
		t.Errorf("calls:\n%s", strings.Join(c.Calls(), "\n"))
	}
	if got := c.State(); got != before {
		t.Errorf("cloud after the cancel:\n%s\nwant:\n%s", got, before)
	}
}

// planText shows a plan as `ukdev deploy --dry-run` would.
func planText(p deploy.Plan) string {
	var b strings.Builder
	for _, r := range p.Rows {
		fmt.Fprintf(&b, "%-15s %s\n", r.Key, r.Value)
	}
	return b.String()
}

func TestPlan(t *testing.T) {
	c := newCloud(t)
	seed(c)
	before := c.State()
	d := open(t, Settings{Region: "eu-west-1", KeepImages: 2, InstanceType: DefaultInstanceType, SecurityGroups: []string{"sg-extra"}, PublicIP: true})
	p, err := d.Plan(context.Background(), request("/tmp/disk.raw", 300<<20))
	if err != nil {
		t.Fatal(err)
	}
	if p.Target != "aws" {
		t.Errorf("plan of target %q", p.Target)
	}
	golden.RequireEqual(t, planText(p))
	if got := c.State(); got != before {
		t.Errorf("the plan changed the cloud:\n%s", got)
	}
	for _, call := range c.Calls() {
		if !strings.HasPrefix(call, "Describe") {
			t.Errorf("the plan called %s", call)
		}
	}
}

func TestPlanSubnet(t *testing.T) {
	c := newCloud(t)
	d := open(t, Settings{Region: "eu-west-1", KeepImages: 3, ENA: true, InstanceType: DefaultENAInstanceType, Subnet: "subnet-0a", NamePrefix: "web"})
	p, err := d.Plan(context.Background(), request("/tmp/disk.raw", 3<<30+1))
	if err != nil {
		t.Fatal(err)
	}
	golden.RequireEqual(t, planText(p))
	if len(c.Calls()) != 0 {
		t.Errorf("the plan changed the cloud: %q", c.Calls())
	}
}

func TestList(t *testing.T) {
	c := newCloud(t)
	seed(c)
	c.Instances = append(c.Instances, &awstest.Instance{ID: "i-gone", State: "terminated", Tags: tags("hello", "aws", 9, "hello-aws-b9"), Launched: date(0)})
	d := open(t, Settings{Region: "eu-west-1"})
	got, err := d.List(context.Background(), "hello")
	if err != nil {
		t.Fatal(err)
	}
	want := []deploy.Instance{{ID: "i-prev", Name: "hello-aws-b11", Build: 11, State: "running", ExternalIP: "198.51.100.4", Created: date(2)}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("list %+v, want %+v", got, want)
	}
}

func TestDestroy(t *testing.T) {
	c := newCloud(t)
	seed(c)
	// A snapshot a crashed deploy left, of no image.
	c.Snapshots = append(c.Snapshots, &awstest.Snapshot{ID: "snap-crash", State: "pending", Tags: tags("hello", "aws", 12, "hello-aws-b12")})
	d := open(t, Settings{Region: "eu-west-1"})
	var s deploytest.Steps
	if err := d.Destroy(context.Background(), "hello", s.Report); err != nil {
		t.Fatalf("%v\ncalls:\n%s", err, strings.Join(c.Calls(), "\n"))
	}
	want := `instance i-prev hello-aws-b11 ami-b11 terminated
instance i-other other-aws-b1 ami-other running
image ami-other other-aws-b1 snap-other
snapshot snap-other completed
`
	if got := c.State(); got != want {
		t.Errorf("cloud after destroy:\n%s\nwant:\n%s", got, want)
	}
	var names []string
	for _, st := range s.List() {
		if st.Finished {
			names = append(names, st.Name)
		}
	}
	if want := []string{stepTerminate, stepImages, stepGroups}; !reflect.DeepEqual(names, want) {
		t.Errorf("steps %q, want %q", names, want)
	}
}

func TestConsole(t *testing.T) {
	c := newCloud(t)
	d := open(t, Settings{Region: "eu-west-1"})
	steps := []struct {
		console string
		offset  int64
		want    string
		next    int64
	}{
		{"", 0, "", 0},
		{"boot\nhello\n", 0, "boot\nhello\n", 11},
		{"boot\nhello\n", 11, "", 11},
		{"boot\nhello\nworld\n", 11, "world\n", 17},
		// A restart: the output is shorter than what was read.
		{"boot\n", 17, "boot\n", 5},
	}
	for _, st := range steps {
		c.SetConsole(st.console)
		data, next, err := d.Console(context.Background(), "i-prev", st.offset)
		if err != nil {
			t.Fatal(err)
		}
		if string(data) != st.want || next != st.next {
			t.Errorf("console %q from %d: %q next %d, want %q next %d", st.console, st.offset, data, next, st.want, st.next)
		}
	}
}

func TestCredentials(t *testing.T) {
	t.Run("none in the chain", func(t *testing.T) {
		awstest.Isolate(t)
		d := open(t, Settings{Region: "eu-west-1"})
		_, err := d.Plan(context.Background(), request("/tmp/disk.raw", 1<<20))
		var ce *CredentialsError
		if !errors.As(err, &ce) {
			t.Fatalf("error %v, want a CredentialsError", err)
		}
		msg := err.Error()
		for _, s := range []string{"default chain", "AWS_ACCESS_KEY_ID", "~/.aws/credentials", "instance metadata", "aws configure", "aws sso login"} {
			if !strings.Contains(msg, s) {
				t.Errorf("message %q does not say %q", msg, s)
			}
		}
	})
	t.Run("refused by the service", func(t *testing.T) {
		c := newCloud(t)
		c.Fail("DescribeImages", "AuthFailure")
		d := open(t, Settings{Region: "eu-west-1"})
		_, err := d.Plan(context.Background(), request("/tmp/disk.raw", 1<<20))
		var ce *CredentialsError
		if !errors.As(err, &ce) {
			t.Fatalf("error %v, want a CredentialsError", err)
		}
		if strings.Contains(err.Error(), "fake-secret") {
			t.Errorf("the message holds the secret: %v", err)
		}
	})
	t.Run("no region", func(t *testing.T) {
		newCloud(t)
		t.Setenv("AWS_REGION", "")
		d := open(t, Settings{})
		if _, err := d.List(context.Background(), "hello"); !errors.Is(err, ErrNoRegion) {
			t.Errorf("error %v, want ErrNoRegion", err)
		}
	})
	t.Run("a profile of the shared files", func(t *testing.T) {
		c := newCloud(t)
		t.Setenv("AWS_REGION", "")
		t.Setenv("AWS_ACCESS_KEY_ID", "")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "")
		if err := os.WriteFile(os.Getenv("AWS_CONFIG_FILE"), []byte("[profile dev]\nregion = eu-central-1\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(os.Getenv("AWS_SHARED_CREDENTIALS_FILE"), []byte("[dev]\naws_access_key_id = AKIDUKDEVTEST\naws_secret_access_key = fake-secret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		seed(c)
		d := open(t, Settings{Profile: "dev"})
		list, err := d.List(context.Background(), "hello")
		if err != nil || len(list) != 1 {
			t.Fatalf("list %v, %v", list, err)
		}
	})
}

// newCloud starts a fake cloud and points the SDK at it, with nothing of
// the host's configuration.
func newCloud(t *testing.T) *awstest.Cloud {
	c := awstest.New(t)
	c.Setenv(t)
	return c
}
