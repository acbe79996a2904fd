package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/charmbracelet/x/exp/golden"

	"github.com/ukdev/ukdev/deploy/gcp/gcptest"
)

// gcpEnv is the environment of a ukdev process deploying to the gcp
// fakes: the test environment, the fakes' (an empty HOME among them), and
// the caches HOME would otherwise locate, so that builds stay fast and a
// Nanos kernel in ops' home is found.
func gcpEnv(t *testing.T, fake *gcptest.Server) []string {
	t.Helper()
	env := append(testEnv(t), fake.Env()...)
	if os.Getenv("OPS_HOME") == "" {
		if home, err := os.UserHomeDir(); err == nil {
			env = append(env, "OPS_HOME="+home)
		}
	}
	if out, err := exec.Command("go", "env", "GOCACHE", "GOMODCACHE", "GOPATH").Output(); err == nil {
		vals := strings.Split(strings.TrimSpace(string(out)), "\n")
		for i, key := range []string{"GOCACHE", "GOMODCACHE", "GOPATH"} {
			if i < len(vals) && vals[i] != "" {
				env = append(env, key+"="+vals[i])
			}
		}
	}
	return env
}

// gcpSection is a [deploy.cloud] section with target gcp pointed at the
// fakes.
func gcpSection(fake *gcptest.Server) string {
	return "[deploy.cloud]\ntarget = \"gcp\"\n" + fake.ConfigKeys()
}

// gcpProject is a copy of examples/hello that forwards port 80 and
// deploys to the gcp fakes.
func gcpProject(t *testing.T, fake *gcptest.Server) (dir string, env []string) {
	t.Helper()
	needQEMU(t)
	needTools(t, "make", "cc")
	dir = copyExample(t)
	writeConfig(t, dir, "vm.ports = [\"8080:80\"]\n"+gcpSection(fake))
	return dir, gcpEnv(t, fake)
}

// TestDeployGCPPlanE2E keeps the plan `ukdev deploy --dry-run` prints for
// the gcp target, on examples/hello with an earlier deploy in the fakes,
// in testdata/TestDeployGCPPlanE2E (go test -update rewrites it). The dry
// run writes and boot-tests the disk and changes nothing.
func TestDeployGCPPlanE2E(t *testing.T) {
	fake := gcptest.Start(t, gcptest.Options{})
	dir, env := gcpProject(t, fake)
	fake.AddInstance("hello-b7", gcptest.Labels("hello", "cloud", 7), 3)
	for b, created := range map[int]string{5: "2026-12-01", 6: "2026-12-02", 7: "2026-12-03"} {
		fake.AddImage(fmt.Sprintf("hello-b%d", b), gcptest.Labels("hello", "cloud", b), created+"T10:00:00.000-08:00")
	}
	fake.CallLines()

	r := runCLI(t, dir, env, "", "deploy", "--dry-run")
	if r.code != 0 || !strings.Contains(r.stderr, "the disk boots") || !strings.Contains(r.stderr, "dry run: nothing was changed") {
		t.Fatalf("deploy --dry-run:\n%s", r)
	}
	golden.RequireEqual(t, r.stdout)
	for _, line := range fake.CallLines() {
		if !strings.HasPrefix(line, "GET ") {
			t.Errorf("the dry run changed something: %s", line)
		}
	}
	if got := fake.Names(gcptest.Instances); !slices.Equal(got, []string{"hello-b7"}) {
		t.Errorf("instances after the dry run: %v", got)
	}
	if got := fake.Objects(); len(got) != 0 {
		t.Errorf("the dry run uploaded %v", got)
	}
}

// TestDeployGCPE2E runs the gcp target's whole path through the ukdev
// binary against the fakes: a deploy, a deploy whose image insert fails
// and one interrupted during the upload, which must leave nothing
// behind, then list, logs and destroy.
func TestDeployGCPE2E(t *testing.T) {
	fake := gcptest.Start(t, gcptest.Options{})
	dir, env := gcpProject(t, fake)

	r := runCLI(t, dir, env, "", "deploy", "--yes")
	if r.code != 0 || !strings.Contains(r.stderr, "the disk boots") || !hasLine(r.stdout, "instance  hello-b1") ||
		!hasLine(r.stdout, "ip        203.0.113.12") || !hasLine(r.stdout, "url       http://203.0.113.12:80") {
		t.Fatalf("deploy --yes:\n%s", r)
	}
	for _, step := range []string{"upload disk", "create image: hello-b1", "open ports: tcp 80", "start instance: hello-b1", "remove tarball"} {
		if !strings.Contains(r.stderr, step) {
			t.Errorf("no %q step in the progress:\n%s", step, r.stderr)
		}
	}
	wantState(t, fake, "after the deploy", []string{"hello-b1"}, []string{"hello-b1"}, []string{"ukdev-hello"})
	disk, ok := fake.Disk("hello-b1")
	if !ok || disk.Size == 0 || disk.Size%(1<<30) != 0 || len(disk.Head) < 512 || string(disk.Head[510:512]) != "\x55\xaa" {
		t.Errorf("Compute read a disk.raw of %d bytes (found %v), want whole GiB with a boot signature", disk.Size, ok)
	}
	inst := fake.Resource(gcptest.Instances, "hello-b1")
	if items, _ := inst["metadata"].(map[string]any)["items"].([]any); len(items) != 1 || items[0].(map[string]any)["key"] != "serial-port-enable" {
		t.Errorf("instance metadata = %v, want serial-port-enable", inst["metadata"])
	}
	fw := fake.Resource(gcptest.Firewalls, "ukdev-hello")
	if allowed, _ := fw["allowed"].([]any); len(allowed) != 1 || allowed[0].(map[string]any)["IPProtocol"] != "tcp" {
		t.Errorf("firewall rule allows %v, want tcp 80", fw["allowed"])
	}
	for _, c := range fake.Calls() {
		if !c.Authorized {
			t.Errorf("%s: sent without the token of the service account", c)
		}
	}
	if leftovers, _ := filepath.Glob(filepath.Join(os.TempDir(), "ukdev-deploy*", "*.raw")); len(leftovers) > 0 {
		t.Errorf("disks left behind: %v", leftovers)
	}

	t.Run("image insert fails", func(t *testing.T) {
		fake.Fail(gcptest.Failures{ImageInsert: true})
		defer fake.Fail(gcptest.Failures{})
		r := runCLI(t, dir, env, "", "deploy", "--yes")
		// ukdev deploy numbers its build as the dashboard's next one, #1
		// again here: the image gets a name of its own.
		if r.code == 0 || !strings.Contains(r.stderr, "create image hello-b1-2") || !strings.Contains(r.stderr, "INVALID_IMAGE_FILE") {
			t.Fatalf("deploy with a failing image insert:\n%s", r)
		}
		// The previous deploy is untouched, and the failed one left no
		// image, instance or tarball.
		wantState(t, fake, "after the failed deploy", []string{"hello-b1"}, []string{"hello-b1"}, []string{"ukdev-hello"})
	})

	t.Run("interrupt during the upload", func(t *testing.T) {
		cmd := exec.Command(ukdevBin, "deploy", "--yes")
		cmd.Dir, cmd.Env = dir, env
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "upload disk: ") && !strings.Contains(sc.Text(), "(100%)") && !strings.Contains(sc.Text(), "(0%)") {
				_ = cmd.Process.Signal(os.Interrupt)
				break
			}
		}
		_, _ = io.Copy(&out, stderr)
		err = cmd.Wait()
		if err == nil || !strings.Contains(out.String(), "clean up: done") || !strings.Contains(out.String(), "context canceled") {
			t.Fatalf("deploy interrupted during the upload: %v\n%s", err, out.String())
		}
		wantState(t, fake, "after the interrupted deploy", []string{"hello-b1"}, []string{"hello-b1"}, []string{"ukdev-hello"})
		if leftovers, _ := filepath.Glob(filepath.Join(os.TempDir(), "ukdev-deploy*", "*.raw")); len(leftovers) > 0 {
			t.Errorf("disks left behind: %v", leftovers)
		}
	})

	t.Run("list", func(t *testing.T) {
		r := runCLI(t, dir, env, "", "deploy", "list")
		id := fake.Resource(gcptest.Instances, "hello-b1")["id"]
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if r.code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "NAME") ||
			!slices.Equal(strings.Fields(lines[1])[:5], []string{"hello-b1", fmt.Sprint(id), "1", "RUNNING", "203.0.113.12"}) {
			t.Fatalf("deploy list:\n%s", r)
		}
	})

	t.Run("logs", func(t *testing.T) {
		fake.AppendSerial("hello-b1", helloBanner+"\r\n")
		r := runCLI(t, dir, env, "", "deploy", "logs")
		want := strings.ReplaceAll(gcptest.BootOutput, "\r\n", "\n") + helloBanner + "\n"
		if r.code != 0 || r.stdout != want {
			t.Fatalf("deploy logs printed %q, want %q\n%s", r.stdout, want, r)
		}
	})

	t.Run("destroy", func(t *testing.T) {
		r := runCLI(t, dir, env, "", "deploy", "destroy", "--yes")
		if r.code != 0 || !strings.Contains(r.stderr, "destroyed what hello ran on cloud") {
			t.Fatalf("deploy destroy --yes:\n%s", r)
		}
		wantState(t, fake, "after destroy", nil, nil, nil)
		r = runCLI(t, dir, env, "", "deploy", "list")
		if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "hello runs nothing on cloud") {
			t.Errorf("deploy list after destroy:\n%s", r)
		}
	})
}

// wantState checks the fakes' instances, images and firewall rules, and
// that the bucket is empty.
func wantState(t *testing.T, fake *gcptest.Server, when string, instances, images, firewalls []string) {
	t.Helper()
	for _, c := range []struct {
		kind gcptest.Kind
		want []string
	}{{gcptest.Instances, instances}, {gcptest.Images, images}, {gcptest.Firewalls, firewalls}} {
		if got := fake.Names(c.kind); !slices.Equal(got, c.want) {
			t.Errorf("%s %s: %v, want %v", c.kind, when, got, c.want)
		}
	}
	if got := fake.Objects(); len(got) != 0 {
		t.Errorf("the bucket holds %v %s, want nothing", got, when)
	}
}

// TestDeployGCPNanosPlanE2E prints the gcp plan of examples/nanos-http,
// where a Nanos kernel is present: its disk (the Nanos image with ops'
// boot loader) is written and boot-tested, and the plan opens its port.
func TestDeployGCPNanosPlanE2E(t *testing.T) {
	key := needNanos(t)
	fake := gcptest.Start(t, gcptest.Options{})
	dir := copyGoExample(t, "nanos-http")
	appendFile(t, filepath.Join(dir, "ukdev.toml"), "\n[nanos]\n"+key+"\n\n"+gcpSection(fake))
	env := gcpEnv(t, fake)
	r := runCLI(t, dir, env, "", "deploy", "--dry-run")
	if r.code != 0 || !strings.Contains(r.stderr, "the disk boots") {
		t.Fatalf("deploy --dry-run:\n%s", r)
	}
	for _, want := range []string{
		"Plan of deploy cloud (target gcp):",
		"target        gcp",
		"project       my-proj",
		"image         nanos-http-b1 (family nanos-http)",
		"instance      nanos-http-b1",
		"replaces      nothing (no instance of this deploy runs)",
	} {
		if !hasLine(r.stdout, want) {
			t.Errorf("the plan has no line %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "to 0.0.0.0/0 (firewall rule ukdev-nanos-http, new)") {
		t.Errorf("the plan opens no port:\n%s", r.stdout)
	}
	for _, line := range fake.CallLines() {
		if !strings.HasPrefix(line, "GET ") {
			t.Errorf("the dry run changed something: %s", line)
		}
	}
}
