package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"

	"github.com/ukdev/ukdev/deploy/aws"
	"github.com/ukdev/ukdev/deploy/aws/awstest"
)

// awsSection is the [deploy.prod] of the aws end-to-end tests.
const awsSection = "[deploy.prod]\ntarget = \"aws\"\nregion = \"eu-west-1\"\nkeep_images = 2\n"

// awsTags are the tags of a resource an aws deploy of build made.
func awsTags(project string, build int, name string) map[string]string {
	return map[string]string{aws.TagProject: project, aws.TagDeploy: "prod", aws.TagBuild: fmt.Sprint(build), "Name": name}
}

// seedAWS puts into c what two earlier deploys of project left (builds 7
// and 8, the second running), and another project's instance, which no
// command may touch.
func seedAWS(c *awstest.Cloud, project string) {
	day := func(hour int) time.Time { return time.Date(2026, 12, 4, hour, 0, 0, 0, time.UTC) }
	b7, b8 := project+"-prod-b7", project+"-prod-b8"
	c.Images = []*awstest.Image{
		{ID: "ami-b7", Name: b7, Snapshot: "snap-b7", Created: day(9), Tags: awsTags(project, 7, b7)},
		{ID: "ami-b8", Name: b8, Snapshot: "snap-b8", Created: day(10), Tags: awsTags(project, 8, b8)},
	}
	c.Snapshots = []*awstest.Snapshot{
		{ID: "snap-b7", State: "completed", Size: 1, Tags: awsTags(project, 7, b7)},
		{ID: "snap-b8", State: "completed", Size: 1, Tags: awsTags(project, 8, b8)},
	}
	c.Instances = []*awstest.Instance{
		{ID: "i-prev", Image: "ami-b8", State: "running", Type: "t2.micro", IP: "198.51.100.4", Tags: awsTags(project, 8, b8), Launched: day(10)},
		{ID: "i-other", Image: "ami-other", State: "running", Type: "t2.micro", Tags: awsTags("other", 1, "other-prod-b1"), Launched: day(11)},
	}
	// Snapshots and instances are ready at the first look: the binary
	// polls every few seconds.
	c.PendingPolls = 0
}

// awsProject is a copy of examples/hello deploying to aws, against a
// fake cloud seeded by seedAWS; env points the binary's SDK at it.
func awsProject(t *testing.T) (dir string, env []string, c *awstest.Cloud) {
	t.Helper()
	needQEMU(t)
	dir = copyExample(t)
	writeConfig(t, dir, "vm.ports = [\"8080:80\"]\n"+awsSection)
	c = awstest.New(t)
	seedAWS(c, "hello")
	return dir, append(testEnv(t), c.Env()...), c
}

// onlyLooks fails the test when calls holds a call that changes the cloud.
func onlyLooks(t *testing.T, what string, calls []string) {
	t.Helper()
	for _, call := range calls {
		if !strings.HasPrefix(call, "Describe") {
			t.Errorf("%s called %s", what, call)
		}
	}
}

// TestDeployAWSE2E runs the aws target through the binary against the
// fake cloud: the plan, a deploy that fails half-way and removes what it
// made, a deploy that goes through (disk written, boot-tested and
// uploaded, image registered, instance run, the previous one terminated,
// the oldest image pruned), list, logs and destroy.
func TestDeployAWSE2E(t *testing.T) {
	dir, env, c := awsProject(t)
	seeded := c.State()

	ok := t.Run("dry run", func(t *testing.T) {
		r := runCLIWithin(t, 3*bootWait, dir, env, "", "deploy", "--dry-run")
		if r.code != 0 || !strings.Contains(r.stderr, "the disk boots") || !strings.Contains(r.stderr, "dry run: nothing was changed") {
			t.Fatalf("deploy --dry-run:\n%s", r)
		}
		golden.RequireEqual(t, r.stdout)
		if got := c.State(); got != seeded {
			t.Errorf("the dry run changed the cloud:\n%s", got)
		}
		onlyLooks(t, "the dry run", c.Calls())
	})
	if !ok {
		return
	}

	// The security group is created before RunInstances and kept for the
	// next deploy; nothing else of the failed deploy stays.
	const group = "group sg-0003 ukdev-hello-prod tcp/80\n"
	ok = t.Run("instance refused", func(t *testing.T) {
		c.Fail("RunInstances", "InsufficientInstanceCapacity")
		defer c.Fail("RunInstances", "")
		r := runCLIWithin(t, 3*bootWait, dir, env, "", "deploy", "--yes")
		if r.code == 0 || !strings.Contains(r.stderr, "run instances") || !strings.Contains(r.stderr, "InsufficientInstanceCapacity") ||
			strings.Contains(r.stdout, "Deployed") {
			t.Fatalf("deploy --yes with RunInstances failing:\n%s", r)
		}
		if !c.Ordered("StartSnapshot snap-0001", "CompleteSnapshot snap-0001", "RegisterImage ami-0002 hello-prod-b1",
			"RunInstances failed", "DeregisterImage ami-0002", "DeleteSnapshot snap-0001") {
			t.Errorf("calls:\n%s", strings.Join(c.Calls(), "\n"))
		}
		if got := c.State(); got != seeded+group {
			t.Errorf("cloud after the failed deploy:\n%s\nwant:\n%s%s", got, seeded, group)
		}
		for _, call := range c.Calls() {
			if strings.HasPrefix(call, "TerminateInstances") || strings.HasPrefix(call, "DeregisterImage ami-b") {
				t.Errorf("the failed deploy touched the previous one: %s", call)
			}
		}
	})
	if !ok {
		return
	}

	ok = t.Run("yes", func(t *testing.T) {
		c.ResetCalls()
		r := runCLIWithin(t, 3*bootWait, dir, env, "", "deploy", "--yes")
		if r.code != 0 || !strings.Contains(r.stderr, "the disk boots") || !hasLine(r.stdout, "instance  i-0006") ||
			!hasLine(r.stdout, "ip        "+awstest.PublicIP) || !hasLine(r.stdout, "url       http://"+awstest.PublicIP) {
			t.Fatalf("deploy --yes:\n%s", r)
		}
		if !c.Ordered("StartSnapshot snap-0004 1 GiB", "CompleteSnapshot snap-0004", "RegisterImage ami-0005 hello-prod-b1 ena=false",
			"RunInstances i-0006 ami-0005 t2.micro groups=sg-0003", "DescribeInstances i-0006 running",
			"TerminateInstances i-prev", "DeregisterImage ami-b7", "DeleteSnapshot snap-b7") {
			t.Errorf("calls out of order:\n%s", strings.Join(c.Calls(), "\n"))
		}
		for _, call := range c.Calls() {
			if strings.HasPrefix(call, "CreateSecurityGroup") || strings.Contains(call, "i-other") {
				t.Errorf("deploy: %s", call)
			}
		}
		// The group the failed deploy made is reused; the new image
		// and the previous one are kept (keep_images = 2).
		want := `instance i-prev hello-prod-b8 ami-b8 shutting-down
instance i-other other-prod-b1 ami-other running
instance i-0006 hello-prod-b1 ami-0005 running
image ami-b8 hello-prod-b8 snap-b8
image ami-0005 hello-prod-b1 snap-0004
snapshot snap-b8 completed
snapshot snap-0004 completed
` + group
		if got := c.State(); got != want {
			t.Errorf("cloud after the deploy:\n%s\nwant:\n%s", got, want)
		}
		// What went up is the bootable disk: its first block holds the
		// boot sector.
		blocks := c.Written()
		if len(blocks) == 0 || len(blocks[0]) != awstest.BlockSize || !bytes.Equal(blocks[0][510:512], []byte{0x55, 0xaa}) {
			t.Errorf("%d blocks written; the first is not a boot sector", len(blocks))
		}
	})
	if !ok {
		return
	}

	t.Run("list", func(t *testing.T) {
		r := runCLI(t, dir, env, "", "deploy", "list")
		if r.code != 0 {
			t.Fatalf("deploy list:\n%s", r)
		}
		// The previous instance is still shutting down.
		var rows []string
		for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
			rows = append(rows, strings.Join(strings.Fields(l), " "))
		}
		if len(rows) != 3 || rows[0] != "NAME ID BUILD STATE IP CREATED" ||
			!strings.HasPrefix(rows[1], "hello-prod-b8 i-prev 8 shutting-down 198.51.100.4 2026-12-0") ||
			!strings.HasPrefix(rows[2], "hello-prod-b1 i-0006 1 running "+awstest.PublicIP+" 2026-12-0") {
			t.Errorf("deploy list:\n%s", r)
		}
	})

	t.Run("logs", func(t *testing.T) {
		c.SetConsole("SeaBIOS (version 1.16)\r\nhello from ukdev\r\n\x1b]52;c;eA==\x07done\n")
		r := runCLI(t, dir, env, "", "deploy", "logs")
		if r.code != 0 || r.stdout != "SeaBIOS (version 1.16)\nhello from ukdev\ndone\n" {
			t.Errorf("deploy logs: stdout %q\n%s", r.stdout, r)
		}
		if !c.Ordered("GetConsoleOutput i-0006") {
			t.Errorf("calls:\n%s", strings.Join(c.Calls(), "\n"))
		}
	})

	t.Run("destroy", func(t *testing.T) {
		r := runCLIWithin(t, 3*bootWait, dir, env, "", "deploy", "destroy", "--yes")
		if r.code != 0 || !strings.Contains(r.stderr, "destroyed what hello ran on prod") || !strings.Contains(r.stdout, "i-0006") {
			t.Fatalf("deploy destroy --yes:\n%s", r)
		}
		want := `instance i-prev hello-prod-b8 ami-b8 terminated
instance i-other other-prod-b1 ami-other running
instance i-0006 hello-prod-b1 ami-0005 terminated
`
		if got := c.State(); got != want {
			t.Errorf("cloud after destroy:\n%s\nwant:\n%s", got, want)
		}
		r = runCLI(t, dir, env, "", "deploy", "list")
		if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "hello runs nothing on prod (aws)") {
			t.Errorf("deploy list after destroy:\n%s", r)
		}
	})
}

// TestDeployAWSNanosPlanE2E: the plan of examples/nanos-http on aws with
// ENA, where a Nanos kernel is present.
func TestDeployAWSNanosPlanE2E(t *testing.T) {
	dir := nanosProject(t, 8090)
	appendFile(t, filepath.Join(dir, "ukdev.toml"), "\n"+awsSection+"ena = true\n")
	c := awstest.New(t)
	project := filepath.Base(dir)
	seedAWS(c, project)
	seeded := c.State()
	env := append(testEnv(t), c.Env()...)
	r := runCLIWithin(t, 3*bootWait, dir, env, "", "deploy", "--dry-run")
	if r.code != 0 || !strings.Contains(r.stderr, "the disk boots") {
		t.Fatalf("deploy --dry-run:\n%s", r)
	}
	for _, want := range []string{
		"Plan of deploy prod (target aws):",
		"target          aws",
		"account         " + awstest.Account,
		"region          eu-west-1",
		"image           " + project + "-prod-b1",
		"ena             yes",
		"instance type   " + aws.DefaultENAInstanceType,
		"ports           tcp/8090",
		"security group  ukdev-" + project + "-prod (new)",
		"replaces        i-prev (" + project + "-prod-b8)",
		"deletes         image ami-b7 (" + project + "-prod-b7) and its snapshot",
	} {
		if !hasLine(r.stdout, want) {
			t.Errorf("the plan has no line %q:\n%s", want, r)
		}
	}
	if got := c.State(); got != seeded {
		t.Errorf("the dry run changed the cloud:\n%s", got)
	}
	onlyLooks(t, "the dry run", c.Calls())
}
