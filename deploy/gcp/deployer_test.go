package gcp

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"
	"google.golang.org/api/option"

	"github.com/ukdev/ukdev/deploy"
	"github.com/ukdev/ukdev/deploy/deploytest"
	"github.com/ukdev/ukdev/deploy/gcp/gcptest"
	"github.com/ukdev/ukdev/project"
)

// testBucket is the bucket the tests upload through.
const testBucket = gcptest.DefaultBucket

// env is a deployer pointed at the fakes.
type env struct {
	d    *deployer
	fake *gcptest.Server
	req  deploy.Request
	disk []byte
}

// newEnv starts the fakes, the storage emulator reached through
// STORAGE_EMULATOR_HOST (as users point Google's storage clients at one) and Compute
// reached through the endpoint key, and writes a disk of diskSize random
// bytes. The deployer's Compute clients send no credentials.
func newEnv(t *testing.T, diskSize int) *env {
	t.Helper()
	fake := gcptest.Start(t, gcptest.Options{})
	t.Setenv("STORAGE_EMULATOR_HOST", fake.StorageHost)
	d := newDeployer(testSettings(fake.Endpoint))
	d.computeOpts = []option.ClientOption{option.WithoutAuthentication()}
	d.align = 1 << 20
	d.chunk = 256 << 10
	d.poll = time.Millisecond

	disk := make([]byte, diskSize)
	_, _ = rand.Read(disk)
	path := filepath.Join(t.TempDir(), "disk.raw")
	if err := os.WriteFile(path, disk, 0o644); err != nil {
		t.Fatal(err)
	}
	req := deploy.Request{
		Project: "hello", Name: "default", Build: 12, Flavor: "elf",
		Disk: path, DiskSize: int64(diskSize),
		Ports: []project.Port{{Proto: "tcp", HostAddr: "127.0.0.1", HostPort: 18080, GuestPort: 8080, Spec: "18080:8080"}},
	}
	return &env{d: d, fake: fake, req: req, disk: disk}
}

// previous gives the fake a running instance of build 11 and the images
// of builds 9 to 11.
func (e *env) previous() {
	e.fake.AddInstance("hello-b11", gcptest.Labels("hello", "default", 11), 3)
	base := time.Date(2026, 12, 1, 10, 0, 0, 0, time.FixedZone("PST", -8*3600))
	for b := 9; b <= 11; b++ {
		e.fake.AddImage(fmt.Sprintf("hello-b%d", b), gcptest.Labels("hello", "default", b), base.Add(time.Duration(b)*time.Hour).Format("2006-01-02T15:04:05.000-07:00"))
	}
}

func diffLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\ngot:\n  %s\nwant:\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// asJSON reads a JSON literal for comparison with a recorded body.
func asJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

const (
	api           = "/compute/v1/projects/my-proj"
	projectFilter = `filter=%28labels.ukdev-project+%3D+%22hello%22%29`
)

func TestDeployReplacesPreviousAfterTheNewRuns(t *testing.T) {
	e := newEnv(t, 5<<20+100)
	e.previous()
	var s deploytest.Steps
	res, err := e.d.Deploy(context.Background(), e.req, s.Report)
	if err != nil {
		t.Fatal(err)
	}

	if res.Instance != "hello-b12" || res.ExternalIP != "203.0.113.12" || !reflect.DeepEqual(res.URLs, []string{"http://203.0.113.12:8080"}) {
		t.Errorf("result = %+v", res)
	}
	diffLines(t, "calls", e.fake.CallLines(), []string{
		"GET " + api + "/zones/europe-west1-b/instances?" + projectFilter,
		"GET " + api + "/global/images?" + projectFilter,
		"GET " + api + "/global/firewalls/ukdev-hello",
		"POST " + api + "/global/images",
		"POST " + api + "/global/operations/operation-1-insert/wait",
		"POST " + api + "/global/operations/operation-1-insert/wait",
		"POST " + api + "/global/firewalls",
		"POST " + api + "/global/operations/operation-2-insert/wait",
		"POST " + api + "/global/operations/operation-2-insert/wait",
		"POST " + api + "/zones/europe-west1-b/instances",
		"POST " + api + "/zones/europe-west1-b/operations/operation-3-insert/wait",
		"POST " + api + "/zones/europe-west1-b/operations/operation-3-insert/wait",
		// PROVISIONING, STAGING, RUNNING: only then is the old one deleted.
		"GET " + api + "/zones/europe-west1-b/instances/hello-b12",
		"GET " + api + "/zones/europe-west1-b/instances/hello-b12",
		"GET " + api + "/zones/europe-west1-b/instances/hello-b12",
		"DELETE " + api + "/zones/europe-west1-b/instances/hello-b11",
		"POST " + api + "/zones/europe-west1-b/operations/operation-4-delete/wait",
		"POST " + api + "/zones/europe-west1-b/operations/operation-4-delete/wait",
		"GET " + api + "/global/images?" + projectFilter,
		"DELETE " + api + "/global/images/hello-b9",
		"POST " + api + "/global/operations/operation-5-delete/wait",
		"POST " + api + "/global/operations/operation-5-delete/wait",
		"DELETE " + api + "/global/images/hello-b10",
		"POST " + api + "/global/operations/operation-6-delete/wait",
		"POST " + api + "/global/operations/operation-6-delete/wait",
	})
	diffLines(t, "instances", e.fake.Names(gcptest.Instances), []string{"hello-b12"})
	diffLines(t, "images", e.fake.Names(gcptest.Images), []string{"hello-b11", "hello-b12"})
	if got := e.fake.Objects(); len(got) != 0 {
		t.Errorf("bucket holds %v after the deploy, want nothing", got)
	}
	diffLines(t, "finished steps", s.Finished(), []string{
		"upload disk", "create image: hello-b12", "open ports: tcp 8080", "create instance: hello-b12",
		"start instance: hello-b12", "remove previous instance: hello-b11", "remove tarball", "prune images",
	})

	// What Compute read: disk.raw, the disk padded with zeros to the
	// alignment.
	got, _ := e.fake.Disk("hello-b12")
	if want := sha256.Sum256(append(slices.Clone(e.disk), make([]byte, 6<<20-len(e.disk))...)); got.Size != 6<<20 || got.SHA256 != want {
		t.Errorf("disk.raw read by Compute: %d bytes, want the %d-byte disk padded with zeros to %d", got.Size, len(e.disk), 6<<20)
	}
	var last deploy.Step
	for _, st := range s.List() {
		if st.Name == stepUpload {
			if st.Total != 6<<20 || st.Done < last.Done {
				t.Errorf("upload progress %d/%d after %d", st.Done, st.Total, last.Done)
			}
			last = st
		}
	}
	if last.Done != 6<<20 || !last.Finished {
		t.Errorf("last upload report = %+v, want all 6 MiB, finished", last)
	}
}

func TestDeployBodies(t *testing.T) {
	e := newEnv(t, 1<<20)
	e.d.st.Tags = []string{"http-server"}
	e.d.st.Labels = map[string]string{"team": "web"}
	if _, err := e.d.Deploy(context.Background(), e.req, func(deploy.Step) {}); err != nil {
		t.Fatal(err)
	}
	labels := `{"team": "web", "ukdev-project": "hello", "ukdev-deploy": "default", "ukdev-build": "12"}`
	tests := []struct {
		method, path, want string
	}{
		{"POST", api + "/global/images", `{
			"name": "hello-b12", "family": "hello", "architecture": "X86_64",
			"description": "ukdev deploy default of project hello, build 12 (elf)",
			"labels": ` + labels + `,
			"rawDisk": {"source": "https://storage.googleapis.com/ukdev-uploads/ukdev/hello-b12.tar.gz"}}`},
		{"POST", api + "/global/firewalls", `{
			"name": "ukdev-hello", "description": "ukdev: the ports of the project's deployed instances",
			"network": "global/networks/default", "direction": "INGRESS",
			"allowed": [{"IPProtocol": "tcp", "ports": ["8080"]}],
			"sourceRanges": ["0.0.0.0/0"], "targetTags": ["ukdev-hello"]}`},
		{"POST", api + "/zones/europe-west1-b/instances", `{
			"name": "hello-b12", "description": "ukdev deploy default of project hello, build 12 (elf)",
			"machineType": "zones/europe-west1-b/machineTypes/e2-small",
			"labels": ` + labels + `,
			"tags": {"items": ["ukdev-hello", "http-server"]},
			"metadata": {"items": [{"key": "serial-port-enable", "value": "TRUE"}]},
			"disks": [{"boot": true, "autoDelete": true, "type": "PERSISTENT",
				"initializeParams": {"sourceImage": "global/images/hello-b12", "labels": ` + labels + `}}],
			"networkInterfaces": [{"network": "global/networks/default",
				"accessConfigs": [{"name": "External NAT", "type": "ONE_TO_ONE_NAT"}]}]}`},
	}
	for _, tt := range tests {
		got := e.fake.Body(tt.method, tt.path)
		// The fake adds what Compute adds once the operation is done.
		for _, k := range []string{"kind", "id", "selfLink", "status", "creationTimestamp", "zone"} {
			delete(got, k)
		}
		if ni, ok := got["networkInterfaces"].([]any); ok {
			for _, ac := range ni[0].(map[string]any)["accessConfigs"].([]any) {
				delete(ac.(map[string]any), "natIP")
			}
		}
		if want := asJSON(t, tt.want); !reflect.DeepEqual(got, want) {
			g, _ := json.MarshalIndent(got, "", "  ")
			w, _ := json.MarshalIndent(want, "", "  ")
			t.Errorf("%s %s body:\n%s\nwant:\n%s", tt.method, tt.path, g, w)
		}
	}
}

func TestDeployUpdatesAndReusesTheFirewallRule(t *testing.T) {
	e := newEnv(t, 1<<20)
	e.req.Ports = append(e.req.Ports, project.Port{Proto: "tcp", GuestPort: 443}, project.Port{Proto: "udp", GuestPort: 53})
	e.fake.Put(gcptest.Firewalls, map[string]any{
		"name": "ukdev-hello", "allowed": []any{map[string]any{"IPProtocol": "tcp", "ports": []any{"80"}}},
		"targetTags": []any{"ukdev-hello"}, "network": "https://www.googleapis.com/compute/v1/projects/my-proj/global/networks/default",
	})
	plan, err := e.d.Plan(context.Background(), e.req)
	if err != nil {
		t.Fatal(err)
	}
	if got := rowValue(plan, "ports opened"); got != "tcp 443, 8080; udp 53 to 0.0.0.0/0 (firewall rule ukdev-hello, updated from tcp 80)" {
		t.Errorf("ports opened = %q", got)
	}
	if _, err := e.d.Deploy(context.Background(), e.req, func(deploy.Step) {}); err != nil {
		t.Fatal(err)
	}
	patch := e.fake.Body("PATCH", api+"/global/firewalls/ukdev-hello")
	want := asJSON(t, `{"allowed": [{"IPProtocol": "tcp", "ports": ["443", "8080"]}, {"IPProtocol": "udp", "ports": ["53"]}]}`)
	if !reflect.DeepEqual(patch, want) {
		t.Errorf("patch body = %v, want %v", patch, want)
	}

	// The next deploy finds the rule as it wants it and leaves it alone.
	e.fake.CallLines()
	e.req.Build = 13
	if _, err := e.d.Deploy(context.Background(), e.req, func(deploy.Step) {}); err != nil {
		t.Fatal(err)
	}
	for _, line := range e.fake.CallLines() {
		if strings.Contains(line, "/firewalls") && !strings.HasPrefix(line, "GET ") {
			t.Errorf("second deploy changed the firewall rule: %s", line)
		}
	}
}

func TestDeploySameBuildAgainGetsANewName(t *testing.T) {
	e := newEnv(t, 1<<20)
	e.fake.AddInstance("hello-b12", gcptest.Labels("hello", "default", 12), 4)
	e.fake.AddImage("hello-b12", gcptest.Labels("hello", "default", 12), "2026-12-04T00:00:00.000Z")
	res, err := e.d.Deploy(context.Background(), e.req, func(deploy.Step) {})
	if err != nil {
		t.Fatal(err)
	}
	if res.Instance != "hello-b12-2" {
		t.Errorf("instance = %q, want hello-b12-2", res.Instance)
	}
	diffLines(t, "instances", e.fake.Names(gcptest.Instances), []string{"hello-b12-2"})
	diffLines(t, "images", e.fake.Names(gcptest.Images), []string{"hello-b12", "hello-b12-2"})
}

func TestDeployLeavesOtherDeploysAlone(t *testing.T) {
	e := newEnv(t, 1<<20)
	e.d.st.KeepImages = 1
	e.fake.AddInstance("hello-b12", gcptest.Labels("hello", "staging", 12), 4)
	e.fake.AddImage("hello-b12", gcptest.Labels("hello", "staging", 12), "2026-12-04T00:00:00.000Z")
	e.fake.AddImage("hello-b11", gcptest.Labels("hello", "default", 11), "2026-12-03T00:00:00.000Z")
	res, err := e.d.Deploy(context.Background(), e.req, func(deploy.Step) {})
	if err != nil {
		t.Fatal(err)
	}
	if res.Instance != "hello-b12-2" {
		t.Errorf("instance = %q, want hello-b12-2 (staging has hello-b12)", res.Instance)
	}
	diffLines(t, "instances", e.fake.Names(gcptest.Instances), []string{"hello-b12", "hello-b12-2"})
	diffLines(t, "images", e.fake.Names(gcptest.Images), []string{"hello-b12", "hello-b12-2"})
}

// failedDeploy runs a deploy that must fail, and checks that it left
// nothing behind: no object, no new image or instance, the previous
// instance running.
func failedDeploy(t *testing.T, e *env, ctx context.Context, report func(deploy.Step)) error {
	t.Helper()
	e.previous()
	_, err := e.d.Deploy(ctx, e.req, report)
	if err == nil {
		t.Fatal("deploy succeeded")
	}
	if got := e.fake.Objects(); len(got) != 0 {
		t.Errorf("bucket holds %v after the failed deploy", got)
	}
	diffLines(t, "instances", e.fake.Names(gcptest.Instances), []string{"hello-b11"})
	diffLines(t, "images", e.fake.Names(gcptest.Images), []string{"hello-b10", "hello-b11", "hello-b9"})
	return err
}

func TestDeployImageInsertFailureLeavesNothing(t *testing.T) {
	e := newEnv(t, 1<<20)
	e.fake.Fail(gcptest.Failures{ImageInsert: true})
	var s deploytest.Steps
	err := failedDeploy(t, e, context.Background(), s.Report)
	var oe *OperationError
	if !errors.As(err, &oe) || oe.Code != "INVALID_IMAGE_FILE" {
		t.Errorf("error = %v, want the operation's INVALID_IMAGE_FILE", err)
	}
	want := "gcp: deploy: create image hello-b12: insert https://www.googleapis.com/compute/v1/projects/my-proj/global/images/hello-b12 failed: The image file is not valid: disk.raw is not a bootable disk. (INVALID_IMAGE_FILE)"
	if err.Error() != want {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}
	diffLines(t, "finished steps", s.Finished(), []string{"upload disk", "clean up"})
	calls := e.fake.CallLines()
	if got := calls[len(calls)-1]; got != "DELETE "+api+"/global/images/hello-b12" {
		t.Errorf("last call = %s, want the delete of the image (which is not there)", got)
	}
}

func TestDeployInstanceInsertFailureLeavesNothing(t *testing.T) {
	e := newEnv(t, 1<<20)
	e.fake.Fail(gcptest.Failures{InstanceInsert: true})
	var s deploytest.Steps
	err := failedDeploy(t, e, context.Background(), s.Report)
	if !strings.Contains(err.Error(), "create instance hello-b12") || !strings.Contains(err.Error(), "Quota 'CPUS' exceeded") {
		t.Errorf("error = %v", err)
	}
	diffLines(t, "finished steps", s.Finished(), []string{"upload disk", "create image: hello-b12", "open ports: tcp 8080", "clean up"})
	calls := e.fake.CallLines()
	// The refused insert made nothing: no instance of that name is
	// deleted.
	diffLines(t, "cleanup calls", calls[len(calls)-4:], []string{
		"POST " + api + "/zones/europe-west1-b/instances",
		"DELETE " + api + "/global/images/hello-b12",
		"POST " + api + "/global/operations/operation-3-delete/wait",
		"POST " + api + "/global/operations/operation-3-delete/wait",
	})
}

func TestDeployInstanceThatStopsLeavesNothing(t *testing.T) {
	e := newEnv(t, 1<<20)
	e.fake.Fail(gcptest.Failures{Start: true})
	var s deploytest.Steps
	err := failedDeploy(t, e, context.Background(), s.Report)
	if want := "gcp: deploy: start instance: instance hello-b12 is TERMINATED, not running"; err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}
	diffLines(t, "finished steps", s.Finished(), []string{
		"upload disk", "create image: hello-b12", "open ports: tcp 8080", "create instance: hello-b12", "clean up",
	})
}

func TestDeployCancelDuringUploadLeavesNothing(t *testing.T) {
	e := newEnv(t, 12<<20)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var s deploytest.Steps
	report := func(st deploy.Step) {
		s.Report(st)
		if st.Name == stepUpload && st.Done > 0 && !st.Finished {
			cancel()
		}
	}
	err := failedDeploy(t, e, ctx, report)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
	for _, line := range e.fake.CallLines() {
		if !strings.HasPrefix(line, "GET ") {
			t.Errorf("a cancelled upload went on to %s", line)
		}
	}
	diffLines(t, "finished steps", s.Finished(), []string{"clean up"})
}

func TestDeployCancelDuringImageCreationLeavesNothing(t *testing.T) {
	e := newEnv(t, 1<<20)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.fake.OnWait(func(op string) {
		if op == "operation-1-insert" {
			cancel()
		}
	})
	var s deploytest.Steps
	err := failedDeploy(t, e, ctx, s.Report)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
	// The cleanup waited for the insert before deleting the image.
	calls := e.fake.CallLines()
	diffLines(t, "cleanup calls", calls[len(calls)-3:], []string{
		"DELETE " + api + "/global/images/hello-b12",
		"POST " + api + "/global/operations/operation-2-delete/wait",
		"POST " + api + "/global/operations/operation-2-delete/wait",
	})
	diffLines(t, "finished steps", s.Finished(), []string{"upload disk", "clean up"})
}

// rowValue returns the value of a plan's row.
func rowValue(p deploy.Plan, key string) string {
	for _, r := range p.Rows {
		if r.Key == key {
			return r.Value
		}
	}
	return ""
}

func TestPlan(t *testing.T) {
	tests := []struct {
		name  string
		setup func(e *env)
	}{
		{"replaces", func(e *env) { e.previous() }},
		{"first", func(e *env) {
			e.req.Ports = nil
			e.d.align = imageAlign
			e.d.st.ImageFamily, e.d.st.MachineType = "web", "n2-standard-2"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 5<<20+100)
			tt.setup(e)
			plan, err := e.d.Plan(context.Background(), e.req)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			fmt.Fprintf(&b, "plan of %s:\n", plan.Target)
			for _, r := range plan.Rows {
				fmt.Fprintf(&b, "  %-13s %s\n", r.Key+":", r.Value)
			}
			golden.RequireEqual(t, []byte(b.String()))
			for _, line := range e.fake.CallLines() {
				if !strings.HasPrefix(line, "GET ") {
					t.Errorf("plan changed something: %s", line)
				}
			}
			if got := e.fake.Objects(); len(got) != 0 {
				t.Errorf("plan wrote %v", got)
			}
		})
	}
}

func TestList(t *testing.T) {
	e := newEnv(t, 1<<20)
	e.previous()
	e.fake.AddInstance("hello-b10", gcptest.Labels("hello", "staging", 10), 2)
	e.fake.Modify(gcptest.Instances, "hello-b10", func(res map[string]any) { res["status"] = "STOPPING" })
	e.fake.Put(gcptest.Instances, map[string]any{"name": "other-b1", "labels": map[string]any{labelProject: "other"}})
	got, err := e.d.List(context.Background(), "hello")
	if err != nil {
		t.Fatal(err)
	}
	want := []deploy.Instance{
		{ID: "1005", Name: "hello-b10", Build: 10, State: "STOPPING", ExternalIP: "198.51.100.7", Created: time.Date(2026, 12, 2, 18, 0, 0, 0, time.UTC)},
		{ID: "1001", Name: "hello-b11", Build: 11, State: "RUNNING", ExternalIP: "198.51.100.7", Created: time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)},
	}
	for i := range got {
		got[i].Created = got[i].Created.UTC()
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List:\n%+v\nwant\n%+v", got, want)
	}
	diffLines(t, "calls", e.fake.CallLines(), []string{"GET " + api + "/zones/europe-west1-b/instances?" + projectFilter})
}

func TestDestroy(t *testing.T) {
	e := newEnv(t, 1<<20)
	e.previous()
	e.fake.Put(gcptest.Firewalls, map[string]any{"name": "ukdev-hello"})
	e.fake.Put(gcptest.Firewalls, map[string]any{"name": "default-allow-ssh"})
	e.fake.Put(gcptest.Images, map[string]any{"name": "debian-12"})
	e.fake.PutObject("ukdev/hello-b7.tar.gz", []byte("left"))
	e.fake.PutObject("ukdev/hello2-b7.tar.gz", []byte("not ours"))
	var s deploytest.Steps
	if err := e.d.Destroy(context.Background(), "hello", s.Report); err != nil {
		t.Fatal(err)
	}
	diffLines(t, "instances", e.fake.Names(gcptest.Instances), nil)
	diffLines(t, "images", e.fake.Names(gcptest.Images), []string{"debian-12"})
	diffLines(t, "firewalls", e.fake.Names(gcptest.Firewalls), []string{"default-allow-ssh"})
	diffLines(t, "objects", e.fake.Objects(), []string{"ukdev/hello2-b7.tar.gz"})
	diffLines(t, "finished steps", s.Finished(), []string{
		"destroy: instance hello-b11", "destroy: image hello-b10", "destroy: image hello-b11", "destroy: image hello-b9",
		"destroy: firewall rule ukdev-hello", "destroy: gs://ukdev-uploads/ukdev/hello-b7.tar.gz",
	})
}

func TestConsoleOffsets(t *testing.T) {
	e := newEnv(t, 1<<20)
	e.previous()
	e.fake.SetSerial("hello-b11", "SeaBIOS\r\nBooting from Hard Disk...\r\n")
	e.fake.SetSerialKeep(40)
	ctx := context.Background()

	data, next, err := e.d.Console(ctx, "hello-b11", 0)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != e.fake.Serial("hello-b11") || next != 36 {
		t.Errorf("Console(0) = %q, %d", data, next)
	}
	data, next, _ = e.d.Console(ctx, "hello-b11", next)
	if len(data) != 0 || next != 36 {
		t.Errorf("Console(36) with nothing new = %q, %d", data, next)
	}
	e.fake.AppendSerial("hello-b11", "hello from the cloud\r\n")
	data, next, _ = e.d.Console(ctx, "hello-b11", next)
	if string(data) != "hello from the cloud\r\n" || next != 58 {
		t.Errorf("Console(36) = %q, %d", data, next)
	}
	// The instance keeps the last 40 bytes only: an old offset reads
	// from the oldest kept byte.
	data, next, _ = e.d.Console(ctx, "hello-b11", 0)
	if string(data) != e.fake.Serial("hello-b11")[18:] || next != 58 {
		t.Errorf("Console(0) past the kept output = %q, %d", data, next)
	}
	diffLines(t, "calls", e.fake.CallLines()[:1], []string{"GET " + api + "/zones/europe-west1-b/instances/hello-b11/serialPort?port=1&start=0"})

	if _, _, err := e.d.Console(ctx, "gone", 0); !isNotFound(err) {
		t.Errorf("Console of a missing instance: %v, want a not-found error", err)
	}
}

// storageRequest is a request the storage client sent.
type storageRequest struct {
	method, host, path, contentRange string
	query                            url.Values
	authorized                       bool
}

// recordingTransport records the requests it passes on.
type recordingTransport struct {
	mu   sync.Mutex
	reqs []storageRequest
}

// RoundTrip records r and sends it.
func (rt *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	rt.reqs = append(rt.reqs, storageRequest{
		method: r.Method, host: r.URL.Host, path: r.URL.Path, contentRange: r.Header.Get("Content-Range"),
		query: r.URL.Query(), authorized: r.Header.Get("Authorization") != "",
	})
	rt.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

// TestDeployUploadsResumablyToTheEmulator follows the storage requests of
// a deploy: STORAGE_EMULATOR_HOST sends them, unauthenticated, to the
// emulator, and the tarball goes as a resumable upload in chunks that
// only creates the object.
func TestDeployUploadsResumablyToTheEmulator(t *testing.T) {
	e := newEnv(t, 5<<20+100)
	rt := &recordingTransport{}
	e.d.storageOpts = []option.ClientOption{option.WithHTTPClient(&http.Client{Transport: rt})}
	if _, err := e.d.Deploy(context.Background(), e.req, func(deploy.Step) {}); err != nil {
		t.Fatal(err)
	}

	rt.mu.Lock()
	reqs := slices.Clone(rt.reqs)
	rt.mu.Unlock()
	if len(reqs) < 3 {
		t.Fatalf("storage requests: %+v, want an upload started, its chunks and a delete", reqs)
	}
	for _, r := range reqs {
		if r.host != e.fake.StorageHost || r.authorized {
			t.Errorf("%s %s to %s, authorized %v: want the emulator, unauthenticated", r.method, r.path, r.host, r.authorized)
		}
	}
	start := reqs[0]
	if start.method != http.MethodPost || start.path != "/upload/storage/v1/b/"+testBucket+"/o" ||
		start.query.Get("uploadType") != "resumable" || start.query.Get("ifGenerationMatch") != "0" ||
		start.query.Get("name") != "ukdev/hello-b12.tar.gz" {
		t.Errorf("first request = %s %s?%s, want the start of a resumable upload of ukdev/hello-b12.tar.gz if it does not exist",
			start.method, start.path, start.query.Encode())
	}
	chunks := reqs[1 : len(reqs)-1]
	if len(chunks) < 2 {
		t.Errorf("the upload went in %d chunk(s), want several of %d bytes", len(chunks), e.d.chunk)
	}
	for i, r := range chunks {
		var from, to int
		// The chunks go to the session URI the start answered with, as
		// Google's Go clients send them.
		if _, err := fmt.Sscanf(r.contentRange, "bytes %d-%d/", &from, &to); r.method != http.MethodPost || err != nil ||
			r.path != start.path || r.query.Get("upload_id") == "" ||
			from != i*e.d.chunk || (i < len(chunks)-1 && to-from+1 != e.d.chunk) {
			t.Errorf("chunk %d: %s %s?%s, Content-Range %q, want bytes from %d to the upload session, %d of them but for the last",
				i, r.method, r.path, r.query.Encode(), r.contentRange, i*e.d.chunk, e.d.chunk)
		}
	}
	if del := reqs[len(reqs)-1]; del.method != http.MethodDelete || del.path != "/storage/v1/b/"+testBucket+"/o/ukdev/hello-b12.tar.gz" {
		t.Errorf("last request = %s %s, want the tarball's delete", del.method, del.path)
	}
}
