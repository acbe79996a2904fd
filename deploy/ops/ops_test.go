package ops_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ukdev/ukdev/deploy"
	"github.com/ukdev/ukdev/deploy/deploytest"
	"github.com/ukdev/ukdev/deploy/ops"
	_ "github.com/ukdev/ukdev/flavor/all"
	"github.com/ukdev/ukdev/project"
	"github.com/ukdev/ukdev/project/projecttest"
)

// fakeOps is an ops that records its argv (one line per run, arguments
// separated by "|") in $FAKE_OPS_DIR/argv, prints what ops prints, and
// keeps the provider's instances in $FAKE_OPS_DIR/instances.json. After
// an instance create it lists after.json instead, where NEWNAME is the
// new instance's. FAKE_OPS_FAIL names a
// subcommand ("image create") that fails; FAKE_OPS_BLOCK one that hangs.
const fakeOps = `#!/bin/sh
d="$FAKE_OPS_DIR"
for a in "$@"; do printf '%s|' "$a"; done >> "$d/argv"
echo >> "$d/argv"
cmd="$1 $2"
if [ "$cmd" = "$FAKE_OPS_FAIL" ]; then
	echo "Please specify a cloud bucket in config" >&2
	exit 1
fi
if [ "$cmd" = "$FAKE_OPS_BLOCK" ]; then
	echo "Instance creation started using image $3. Monitoring operation operation-1733380000-abc."
	sleep 60
fi
case "$cmd" in
"instance list")
	cat "$d/instances.json" ;;
"image create")
	echo "100% |████████████████████████████████████████| (4.2/4.2 MB, 9.1 MB/s)"
	echo "gcp image '$(echo "$@" | sed 's/.*-i //')' created..." ;;
"instance create")
	echo "Instance creation started using image $3. Monitoring operation operation-1733380000-abc."
	echo "Instance creation succeeded $3."
	echo "gcp instance '$3' created..."
	[ -f "$d/after.json" ] && sed "s/NEWNAME/$3/g" "$d/after.json" > "$d/instances.json" ;;
"instance delete")
	echo "Instance deletion started. Monitoring operation operation-1733380100-def."
	echo "Instance deletion succeeded $3." ;;
"image delete")
	: ;;
esac
`

// setup puts the fake ops first in PATH and returns its directory and a
// project root with an ops config.
func setup(t *testing.T, instances, after string) (dir, root string) {
	t.Helper()
	dir, root = t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ops"), []byte(fakeOps), 0o755); err != nil {
		t.Fatal(err)
	}
	projecttest.WriteFiles(t, dir, map[string][]byte{"instances.json": []byte(instances)})
	if after != "" {
		projecttest.WriteFiles(t, dir, map[string][]byte{"after.json": []byte(after)})
	}
	projecttest.WriteFiles(t, root, map[string][]byte{"config.json": []byte(`{"CloudConfig": {"BucketName": "b"}}`), "hello": []byte("ELF")})
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("FAKE_OPS_DIR", dir)
	t.Setenv("FAKE_OPS_FAIL", "")
	t.Setenv("FAKE_OPS_BLOCK", "")
	return dir, root
}

// argv returns the recorded runs of the fake ops.
func argv(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "argv"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

const section = "[deploy.prod]\ntarget = \"ops\"\nprovider = \"gcp\"\nzone = \"europe-west1-b\"\nproject_id = \"my-proj\"\n"

// open opens the deploy prod of a project hello with the deploy section sec.
func open(t *testing.T, root, sec string) deploy.Deployer {
	t.Helper()
	return deploytest.Open(t, root, "name = \"hello\"\nkernel.image = \"hello\"\n"+sec, "prod")
}

func request(root string) deploy.Request {
	return deploy.Request{
		Project: "hello", Name: "prod", Build: 12, BuildOK: true, Flavor: "nanos",
		Ports: []project.Port{{Proto: "tcp", HostPort: 8080, GuestPort: 8080}, {Proto: "udp", HostPort: 5353, GuestPort: 53}},
		Root:  root, Program: filepath.Join(root, "hello"),
	}
}

const before = `[{"ID":"1001","Name":"hello-prod-b11-1204100000","Status":"RUNNING","Created":"2026-12-04T10:00:00Z","PrivateIps":["10.0.0.2"],"PublicIps":["203.0.113.5"],"Ports":[],"Image":"hello-prod-b11-1204100000"},
 {"ID":"1002","Name":"hello-staging-b4-1201000000","Status":"RUNNING","Created":"","PrivateIps":[],"PublicIps":[],"Ports":[],"Image":""},
 {"ID":"1003","Name":"web-b3","Status":"RUNNING","Created":"","PrivateIps":[],"PublicIps":[],"Ports":[],"Image":""}]
`

const after = `[{"ID":"1001","Name":"hello-prod-b11-1204100000","Status":"RUNNING","Created":"2026-12-04T10:00:00Z","PrivateIps":["10.0.0.2"],"PublicIps":["203.0.113.5"],"Ports":[],"Image":"hello-prod-b11-1204100000"},
 {"ID":"1004","Name":"NEWNAME","Status":"RUNNING","Created":"2026-12-05T07:00:00Z","PrivateIps":["10.0.0.3"],"PublicIps":["203.0.113.9"],"Ports":[],"Image":"NEWNAME"}]
`

func TestDeploy(t *testing.T) {
	dir, root := setup(t, before, after)
	dep := open(t, root, section)
	name := planned(t, dep, request(root))
	var msgs []string
	res, err := dep.Deploy(context.Background(), request(root), func(s deploy.Step) {
		if s.Message != "" {
			msgs = append(msgs, s.Name+": "+s.Message)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	flags := "-t|gcp|-z|europe-west1-b|-g|my-proj|-c|" + root + "/config.json|"
	want := []string{
		"instance|list|" + flags + "--json|", // Plan
		"instance|list|" + flags + "--json|",
		"image|create|" + root + "/hello|" + flags + "-i|" + name + "|",
		"instance|create|" + name + "|" + flags + "-i|" + name + "|-p|8080|--udp|53|",
		"instance|list|" + flags + "--json|",
		"instance|delete|hello-prod-b11-1204100000|" + flags,
		"image|delete|hello-prod-b11-1204100000|" + flags + "--assume-yes|",
	}
	if got := argv(t, dir); !reflect.DeepEqual(got, want) {
		t.Errorf("ops ran\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	wantRes := deploy.Result{Instance: "1004", ExternalIP: "203.0.113.9", URLs: []string{"http://203.0.113.9:8080", "udp://203.0.113.9:53"}}
	if !reflect.DeepEqual(res, wantRes) {
		t.Errorf("result %+v, want %+v", res, wantRes)
	}
	for _, m := range []string{"create image: gcp image '" + name + "' created...", "create instance: Instance creation succeeded " + name + "."} {
		if !slices.Contains(msgs, m) {
			t.Errorf("no step %q in %q", m, msgs)
		}
	}
}

// planned runs dep's Plan for r and returns the name it gives the image
// and the instance.
func planned(t *testing.T, dep deploy.Deployer, r deploy.Request) string {
	t.Helper()
	p, err := dep.Plan(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range p.Rows {
		if row.Key == "image" {
			if !strings.HasPrefix(row.Value, "hello-prod-b12-") {
				t.Errorf("image name %q", row.Value)
			}
			return row.Value
		}
	}
	t.Fatalf("plan has no image: %+v", p)
	return ""
}

// A failure half-way removes what the deploy was creating, and nothing
// else.
func TestDeployFailureCleansUp(t *testing.T) {
	flags := func(root string) string {
		return "-t|gcp|-z|europe-west1-b|-g|my-proj|-c|" + root + "/config.json|"
	}
	tests := []struct {
		name string
		fail string
		want func(root, name string) []string
	}{
		{"image create fails", "image create", func(root, name string) []string {
			return []string{
				"instance|list|" + flags(root) + "--json|",
				"instance|list|" + flags(root) + "--json|",
				"image|create|" + root + "/hello|" + flags(root) + "-i|" + name + "|",
				"image|delete|" + name + "|" + flags(root) + "--assume-yes|",
			}
		}},
		{"instance create fails", "instance create", func(root, name string) []string {
			return []string{
				"instance|list|" + flags(root) + "--json|",
				"instance|list|" + flags(root) + "--json|",
				"image|create|" + root + "/hello|" + flags(root) + "-i|" + name + "|",
				"instance|create|" + name + "|" + flags(root) + "-i|" + name + "|-p|8080|--udp|53|",
				"instance|delete|" + name + "|" + flags(root),
				"image|delete|" + name + "|" + flags(root) + "--assume-yes|",
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, root := setup(t, before, after)
			t.Setenv("FAKE_OPS_FAIL", tt.fail)
			dep := open(t, root, section)
			name := planned(t, dep, request(root))
			_, err := dep.Deploy(context.Background(), request(root), func(deploy.Step) {})
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Errorf("Deploy = %v, want ops' exit status", err)
			}
			if got, want := argv(t, dir), tt.want(root, name); !reflect.DeepEqual(got, want) {
				t.Errorf("ops ran\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestDeployCancelCleansUp(t *testing.T) {
	dir, root := setup(t, before, after)
	t.Setenv("FAKE_OPS_BLOCK", "instance create")
	dep := open(t, root, section)
	name := planned(t, dep, request(root))
	deploytest.Cancel(t, dep, request(root), func(s deploy.Step) bool {
		return strings.HasPrefix(s.Message, "Instance creation started")
	}, 30*time.Second)
	got := argv(t, dir)
	flags := "-t|gcp|-z|europe-west1-b|-g|my-proj|-c|" + root + "/config.json|"
	want := []string{"instance|delete|" + name + "|" + flags, "image|delete|" + name + "|" + flags + "--assume-yes|"}
	if len(got) < 2 || !reflect.DeepEqual(got[len(got)-2:], want) {
		t.Errorf("ops ran\n%s\nwant it to end with\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestPlan(t *testing.T) {
	dir, root := setup(t, before, "")
	p, err := open(t, root, section).Plan(context.Background(), request(root))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, r := range p.Rows {
		rows[r.Key] = r.Value
	}
	if !strings.HasPrefix(rows["image"], "hello-prod-b12-") || rows["instance"] != rows["image"] {
		t.Errorf("image %q, instance %q", rows["image"], rows["instance"])
	}
	want := map[string]string{
		"replaces": "instances and images hello-prod-b11-1204100000 (deleted once the new instance is created)",
		"ports":    "8080/tcp, 53/udp",
		"zone":     "europe-west1-b",
	}
	for k, v := range want {
		if rows[k] != v {
			t.Errorf("plan %s = %q, want %q", k, rows[k], v)
		}
	}
	// Planning only lists.
	if got := argv(t, dir); len(got) != 1 || !strings.HasPrefix(got[0], "instance|list|") {
		t.Errorf("Plan ran %q", got)
	}
}

func TestListAndDestroy(t *testing.T) {
	dir, root := setup(t, strings.ReplaceAll(after, "NEWNAME", "hello-prod-b12-1205070000"), "")
	dep := open(t, root, "[deploy.prod]\ntarget = \"ops\"\nprovider = \"aws\"\n")
	list, err := dep.List(context.Background(), "hello")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "hello-prod-b11-1204100000" || list[1].Build != 12 || list[1].ExternalIP != "203.0.113.9" || list[1].State != "RUNNING" {
		t.Errorf("List = %+v", list)
	}
	if err := dep.Destroy(context.Background(), "hello", func(deploy.Step) {}); err != nil {
		t.Fatal(err)
	}
	flags := "-t|aws|-c|" + root + "/config.json|"
	want := []string{
		"instance|list|" + flags + "--json|",
		"instance|list|" + flags + "--json|",
		"instance|delete|hello-prod-b11-1204100000|" + flags,
		"image|delete|hello-prod-b11-1204100000|" + flags + "--assume-yes|",
		"instance|delete|hello-prod-b12-1205070000|" + flags,
		"image|delete|hello-prod-b12-1205070000|" + flags + "--assume-yes|",
	}
	if got := argv(t, dir); !reflect.DeepEqual(got, want) {
		t.Errorf("ops ran\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestOpsMissing(t *testing.T) {
	_, root := setup(t, "[]", "")
	dep := open(t, root, section+"ops = \"ukdev-test-no-such-ops\"\n")
	_, err := dep.Plan(context.Background(), request(root))
	if !errors.Is(err, exec.ErrNotFound) {
		t.Errorf("Plan = %v, want exec.ErrNotFound", err)
	}
}

func TestDecode(t *testing.T) {
	root := t.TempDir()
	tests := []struct {
		name   string
		sec    string
		config bool // the project has a config.json
		want   ops.Settings
	}{
		{"minimal", "provider = \"do\"\n", false, ops.Settings{Provider: "do", Binary: "ops", Root: root, Deploy: "prod"}},
		{"project config by default", "provider = \"gcp\"\n", true,
			ops.Settings{Provider: "gcp", Binary: "ops", Config: root + "/config.json", Root: root, Deploy: "prod"}},
		{"all keys", "provider = \"aws\"\nzone = \"us-east-1a\"\nproject_id = \"p\"\nconfig = \"ops/aws.json\"\nops = \"/opt/ops\"\nprogram = \"bin/app\"\n", true,
			ops.Settings{Provider: "aws", Zone: "us-east-1a", ProjectID: "p", Config: root + "/ops/aws.json", Binary: "/opt/ops", Program: root + "/bin/app", Root: root, Deploy: "prod"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(filepath.Join(root, "config.json"))
			if tt.config {
				projecttest.WriteFiles(t, root, map[string][]byte{"config.json": []byte("{}")})
			}
			c, err := project.Parse(filepath.Join(root, project.FileName), []byte("kernel.image = \"k\"\n[deploy.prod]\ntarget = \"ops\"\n"+tt.sec))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Deploys["prod"].Settings; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("settings %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	const head = "kernel.image = \"k\"\n[deploy.prod]\ntarget = \"ops\"\n"
	tests := []struct {
		name      string
		doc       string
		line, col int
		key, msg  string
	}{
		{"no provider", head, 2, 9, "deploy.prod.provider", "required: ops' target cloud"},
		{"misspelt key", head + "provider = \"gcp\"\nzoen = \"a\"\n", 5, 1, "deploy.prod.zoen", "did you mean zone?"},
		{"empty config", head + "provider = \"gcp\"\nconfig = \"\"\n", 5, 10, "deploy.prod.config", "empty path"},
		{"empty ops", head + "provider = \"gcp\"\nops = \"\"\n", 5, 7, "deploy.prod.ops", "empty ops binary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			projecttest.CheckError(t, tt.doc, tt.line, tt.col, tt.key, tt.msg)
		})
	}
}

func TestResourceName(t *testing.T) {
	at := time.Date(2026, 12, 5, 7, 8, 9, 0, time.FixedZone("CET", 3600))
	for _, tt := range []struct {
		project, name string
		want          string
	}{
		{"hello", "prod", "hello-prod-b7-1205060809"},
		{"My_App.v2", "EU", "my-app-v2-eu-b7-1205060809"},
	} {
		if got := ops.ResourceName(tt.project, tt.name, 7, at); got != tt.want {
			t.Errorf("ResourceName(%q, %q) = %q, want %q", tt.project, tt.name, got, tt.want)
		}
	}
}

// Once the new instance is created the deploy has succeeded: a previous
// instance ops cannot delete is reported, not an error.
func TestDeployOldInstanceLeft(t *testing.T) {
	_, root := setup(t, before, after)
	t.Setenv("FAKE_OPS_FAIL", "instance delete")
	var msgs []string
	res, err := open(t, root, section).Deploy(context.Background(), request(root), func(s deploy.Step) {
		if s.Message != "" {
			msgs = append(msgs, s.Message)
		}
	})
	if err != nil || res.ExternalIP != "203.0.113.9" {
		t.Fatalf("Deploy = %+v, %v", res, err)
	}
	found := false
	for _, m := range msgs {
		found = found || strings.HasPrefix(m, "hello-prod-b11-1204100000 is left running: ")
	}
	if !found {
		t.Errorf("no step says the old instance is left: %q", msgs)
	}
}
