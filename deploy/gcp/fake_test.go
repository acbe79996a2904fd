package gcp

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

// fakeCompute implements the Compute REST calls the compute/apiv1 REST
// client makes for this target, keeping images, instances and firewall
// rules in memory. Insert and delete answer PENDING operations that the
// wait method moves to RUNNING and then to DONE, when the change happens.
// It records every request it gets.
type fakeCompute struct {
	t       *testing.T
	project string
	zone    string
	// gcs is the storage emulator that image inserts read tarballs from.
	gcs *fakestorage.Server
	srv *httptest.Server

	mu        sync.Mutex
	calls     []call
	images    map[string]map[string]any
	instances map[string]map[string]any
	firewalls map[string]map[string]any
	ops       map[string]*fakeOp
	serial    map[string]string
	// gets counts the Get calls of each instance, which move it from
	// PROVISIONING to STAGING to RUNNING.
	gets   map[string]int
	nextID int
	// opSeq numbers operations.
	opSeq int
	// failImage makes image inserts' operations fail; failInstance makes
	// instance inserts answer this HTTP error.
	failImage    bool
	failInstance bool
	// failStart makes new instances stop instead of running.
	failStart bool
	// disks are the disk.raw of the tarballs image inserts read.
	disks map[string][]byte
	// serialKeep is how many bytes of serial output an instance keeps.
	serialKeep int
	// onWait, when set, is called with the name of each operation waited
	// for.
	onWait func(op string)
}

// call is one request the fake got.
type call struct {
	Method, Path string
	Query        url.Values
	Body         map[string]any
}

// String writes the call as "METHOD path?query".
func (c call) String() string {
	s := c.Method + " " + c.Path
	if len(c.Query) > 0 {
		s += "?" + c.Query.Encode()
	}
	return s
}

// fakeOp is a long-running operation.
type fakeOp struct {
	body  map[string]any
	apply func() map[string]any // the change; a non-nil result is the operation's error
}

func newFakeCompute(t *testing.T, gcs *fakestorage.Server) *fakeCompute {
	f := &fakeCompute{
		t: t, project: "my-proj", zone: "europe-west1-b", gcs: gcs,
		images: map[string]map[string]any{}, instances: map[string]map[string]any{}, firewalls: map[string]map[string]any{},
		ops: map[string]*fakeOp{}, serial: map[string]string{}, gets: map[string]int{}, disks: map[string][]byte{},
		nextID: 1000, serialKeep: 1 << 20,
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// selfLink returns the URL of a resource path under the project.
func (f *fakeCompute) selfLink(rest string) string {
	return "https://www.googleapis.com/compute/v1/projects/" + f.project + "/" + rest
}

// googleError writes an error in Google's JSON error format.
func googleError(w http.ResponseWriter, code int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"code": code, "message": msg,
		"errors": []any{map[string]any{"message": msg, "domain": "global", "reason": reason}},
	}})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(v)
}

var (
	zonalPath  = regexp.MustCompile(`^/compute/v1/projects/([^/]+)/zones/([^/]+)/(instances|operations)(?:/([^/]+))?(?:/(serialPort|wait))?$`)
	globalPath = regexp.MustCompile(`^/compute/v1/projects/([^/]+)/global/(images|firewalls|operations)(?:/([^/]+))?(?:/(wait))?$`)
	filterTerm = regexp.MustCompile(`^\(labels\.([-_a-z0-9]+) = "([^"]*)"\)$`)
)

func (f *fakeCompute) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := call{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query()}
	if r.Body != nil {
		data, _ := io.ReadAll(r.Body)
		if len(data) > 0 {
			if err := json.Unmarshal(data, &c.Body); err != nil {
				googleError(w, 400, "parseError", "Parse Error")
				return
			}
		}
	}
	f.calls = append(f.calls, c)
	if r.Header.Get("Authorization") != "" {
		f.t.Errorf("%s: Authorization header sent to the fake without credentials", c)
	}
	if m := zonalPath.FindStringSubmatch(r.URL.Path); m != nil && m[1] == f.project && m[2] == f.zone {
		f.zonal(w, r, c, m[3], m[4], m[5])
		return
	}
	if m := globalPath.FindStringSubmatch(r.URL.Path); m != nil && m[1] == f.project {
		f.global(w, r, c, m[2], m[3], m[4])
		return
	}
	googleError(w, 404, "notFound", fmt.Sprintf("The requested URL %s was not found.", r.URL.Path))
}

// newOp records an operation and answers it PENDING.
func (f *fakeCompute) newOp(w http.ResponseWriter, kind, target string, zonal bool, apply func() map[string]any) {
	f.opSeq++
	name := fmt.Sprintf("operation-%d-%s", f.opSeq, kind)
	op := map[string]any{
		"kind": "compute#operation", "id": strconv.Itoa(8000 + f.opSeq), "name": name,
		"operationType": kind, "targetLink": f.selfLink(target), "status": "PENDING", "progress": 0,
		"insertTime": "2026-12-04T22:30:00.000-08:00", "user": "dev@example.com",
	}
	if zonal {
		op["zone"] = f.selfLink("zones/" + f.zone)
		op["selfLink"] = f.selfLink("zones/" + f.zone + "/operations/" + name)
	} else {
		op["selfLink"] = f.selfLink("global/operations/" + name)
	}
	f.ops[name] = &fakeOp{body: op, apply: apply}
	writeJSON(w, op)
}

// creating reports whether an insert of the resource at target (a path
// under the project) is still running: Compute refuses to delete it then.
func (f *fakeCompute) creating(target string) bool {
	for _, op := range f.ops {
		if op.body["operationType"] == "insert" && op.body["targetLink"] == f.selfLink(target) && op.body["status"] != "DONE" {
			return true
		}
	}
	return false
}

// settle finishes the operations still running, as time does, whether
// anybody waits for them or not.
func (f *fakeCompute) settle() {
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range f.ops {
			if !yield(k) {
				return
			}
		}
	}) {
		op := f.ops[name]
		for op.body["status"] != "DONE" {
			f.advance(op)
		}
	}
}

// wait moves an operation on one state and answers it.
func (f *fakeCompute) wait(w http.ResponseWriter, name string) {
	if f.onWait != nil {
		f.onWait(name)
	}
	op, ok := f.ops[name]
	if !ok {
		googleError(w, 404, "notFound", fmt.Sprintf("The resource 'projects/%s/global/operations/%s' was not found", f.project, name))
		return
	}
	f.advance(op)
	writeJSON(w, op.body)
}

// advance moves an operation on one state, making its change when it
// is done.
func (f *fakeCompute) advance(op *fakeOp) {
	switch op.body["status"] {
	case "PENDING":
		op.body["status"] = "RUNNING"
		op.body["progress"] = 50
	case "RUNNING":
		op.body["status"] = "DONE"
		op.body["progress"] = 100
		op.body["endTime"] = "2026-12-04T22:30:05.000-08:00"
		if e := op.apply(); e != nil {
			op.body["error"] = map[string]any{"errors": []any{e}}
			op.body["httpErrorStatusCode"] = 400
			op.body["httpErrorMessage"] = "BAD REQUEST"
		}
	}
}

// matches reports whether a resource's labels match a list filter, which
// must be the form the target writes.
func (f *fakeCompute) matches(filter string, res map[string]any) bool {
	labels, _ := res["labels"].(map[string]any)
	for _, term := range strings.Split(filter, " AND ") {
		m := filterTerm.FindStringSubmatch(term)
		if m == nil {
			f.t.Errorf("filter %q: term %q is not (labels.KEY = \"VALUE\")", filter, term)
			return false
		}
		if labels[m[1]] != m[2] {
			return false
		}
	}
	return true
}

// list answers a list call.
func (f *fakeCompute) list(w http.ResponseWriter, c call, kind, link string, all map[string]map[string]any) {
	items := []any{}
	for _, name := range slices.Sorted(mapsKeys(all)) {
		if f.matches(c.Query.Get("filter"), all[name]) {
			items = append(items, all[name])
		}
	}
	writeJSON(w, map[string]any{"kind": kind, "id": link, "items": items, "selfLink": f.selfLink(link)})
}

func mapsKeys(m map[string]map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func (f *fakeCompute) zonal(w http.ResponseWriter, r *http.Request, c call, coll, name, sub string) {
	if coll == "operations" {
		if r.Method == http.MethodPost && sub == "wait" {
			f.wait(w, name)
			return
		}
		googleError(w, 405, "httpMethodNotAllowed", "HTTP method not allowed")
		return
	}
	inst := f.instances[name]
	notFound := func() {
		googleError(w, 404, "notFound", fmt.Sprintf("The resource 'projects/%s/zones/%s/instances/%s' was not found", f.project, f.zone, name))
	}
	switch {
	case r.Method == http.MethodGet && name == "":
		f.list(w, c, "compute#instanceList", "zones/"+f.zone+"/instances", f.instances)
	case r.Method == http.MethodGet && sub == "serialPort":
		if inst == nil {
			notFound()
			return
		}
		out := f.serial[name]
		start, _ := strconv.Atoi(c.Query.Get("start"))
		start = max(start, len(out)-f.serialKeep)
		start = min(start, len(out))
		writeJSON(w, map[string]any{
			"kind": "compute#serialPortOutput", "contents": out[start:], "start": strconv.Itoa(start), "next": strconv.Itoa(len(out)),
			"selfLink": f.selfLink("zones/" + f.zone + "/instances/" + name + "/serialPort"),
		})
	case r.Method == http.MethodGet:
		if inst == nil {
			notFound()
			return
		}
		f.gets[name]++
		switch f.gets[name] {
		case 1:
			inst["status"] = "PROVISIONING"
		case 2:
			inst["status"] = "STAGING"
		case 3:
			inst["status"] = "RUNNING"
			if f.failStart {
				inst["status"] = "TERMINATED"
			}
		}
		writeJSON(w, inst)
	case r.Method == http.MethodPost && name == "":
		if f.failInstance {
			googleError(w, 403, "quotaExceeded", "Quota 'CPUS' exceeded.  Limit: 8.0 in region europe-west1.")
			return
		}
		newName, _ := c.Body["name"].(string)
		if f.instances[newName] != nil {
			googleError(w, 409, "alreadyExists", fmt.Sprintf("The resource 'projects/%s/zones/%s/instances/%s' already exists", f.project, f.zone, newName))
			return
		}
		f.newOp(w, "insert", "zones/"+f.zone+"/instances/"+newName, true, func() map[string]any {
			f.nextID++
			body := c.Body
			body["kind"] = "compute#instance"
			body["id"] = strconv.Itoa(f.nextID)
			body["status"] = "PROVISIONING"
			body["zone"] = f.selfLink("zones/" + f.zone)
			body["selfLink"] = f.selfLink("zones/" + f.zone + "/instances/" + newName)
			body["creationTimestamp"] = "2026-12-04T22:30:04.000-08:00"
			for _, ni := range body["networkInterfaces"].([]any) {
				for _, ac := range ni.(map[string]any)["accessConfigs"].([]any) {
					ac.(map[string]any)["natIP"] = "203.0.113.12"
				}
			}
			f.instances[newName] = body
			return nil
		})
	case r.Method == http.MethodDelete && name != "":
		if f.creating("zones/" + f.zone + "/instances/" + name) {
			googleError(w, 400, "resourceNotReady", fmt.Sprintf("The resource 'projects/%s/zones/%s/instances/%s' is not ready", f.project, f.zone, name))
			return
		}
		if inst == nil {
			notFound()
			return
		}
		f.newOp(w, "delete", "zones/"+f.zone+"/instances/"+name, true, func() map[string]any {
			delete(f.instances, name)
			return nil
		})
	default:
		googleError(w, 405, "httpMethodNotAllowed", "HTTP method not allowed")
	}
}

func (f *fakeCompute) global(w http.ResponseWriter, r *http.Request, c call, coll, name, sub string) {
	if coll == "operations" {
		if r.Method == http.MethodPost && sub == "wait" {
			f.wait(w, name)
			return
		}
		googleError(w, 405, "httpMethodNotAllowed", "HTTP method not allowed")
		return
	}
	all := f.images
	kind := "compute#image"
	if coll == "firewalls" {
		all, kind = f.firewalls, "compute#firewall"
	}
	res := all[name]
	notFound := func() {
		googleError(w, 404, "notFound", fmt.Sprintf("The resource 'projects/%s/global/%s/%s' was not found", f.project, coll, name))
	}
	switch {
	case r.Method == http.MethodGet && name == "":
		f.list(w, c, kind+"List", "global/"+coll, all)
	case r.Method == http.MethodGet:
		if res == nil {
			notFound()
			return
		}
		writeJSON(w, res)
	case r.Method == http.MethodPost && name == "":
		newName, _ := c.Body["name"].(string)
		if all[newName] != nil {
			googleError(w, 409, "alreadyExists", fmt.Sprintf("The resource 'projects/%s/global/%s/%s' already exists", f.project, coll, newName))
			return
		}
		f.newOp(w, "insert", "global/"+coll+"/"+newName, false, func() map[string]any {
			if kind == "compute#image" {
				if f.failImage {
					return map[string]any{"code": "INVALID_IMAGE_FILE", "message": "The image file is not valid: disk.raw is not a bootable disk."}
				}
				if e := f.readTarball(newName, c.Body); e != nil {
					return e
				}
			}
			f.nextID++
			body := c.Body
			body["kind"] = kind
			body["id"] = strconv.Itoa(f.nextID)
			body["selfLink"] = f.selfLink("global/" + coll + "/" + newName)
			if kind == "compute#image" {
				body["status"] = "READY"
				body["creationTimestamp"] = "2026-12-04T22:30:02.000-08:00"
			}
			all[newName] = body
			return nil
		})
	case r.Method == http.MethodPatch && name != "":
		if res == nil {
			notFound()
			return
		}
		f.newOp(w, "patch", "global/"+coll+"/"+name, false, func() map[string]any {
			for k, v := range c.Body {
				res[k] = v
			}
			return nil
		})
	case r.Method == http.MethodDelete && name != "":
		if f.creating("global/" + coll + "/" + name) {
			googleError(w, 400, "resourceNotReady", fmt.Sprintf("The resource 'projects/%s/global/%s/%s' is not ready", f.project, coll, name))
			return
		}
		if res == nil {
			notFound()
			return
		}
		f.newOp(w, "delete", "global/"+coll+"/"+name, false, func() map[string]any {
			delete(all, name)
			return nil
		})
	default:
		googleError(w, 405, "httpMethodNotAllowed", "HTTP method not allowed")
	}
}

// readTarball reads the image's raw disk source from the storage
// emulator, as Compute does, keeping its disk.raw; a problem is the
// operation's error.
func (f *fakeCompute) readTarball(image string, body map[string]any) map[string]any {
	raw, _ := body["rawDisk"].(map[string]any)
	src, _ := raw["source"].(string)
	rest, ok := strings.CutPrefix(src, "https://storage.googleapis.com/")
	bucket, object, _ := strings.Cut(rest, "/")
	if !ok {
		return map[string]any{"code": "INVALID_FIELD_VALUE", "message": "Invalid value for field 'resource.rawDisk.source': " + src}
	}
	obj, err := f.gcs.GetObject(bucket, object)
	if err != nil {
		return map[string]any{"code": "NOT_FOUND", "message": "The resource '" + src + "' was not found"}
	}
	zr, err := gzip.NewReader(strings.NewReader(string(obj.Content)))
	if err != nil {
		return map[string]any{"code": "INVALID_IMAGE_FILE", "message": "not a gzip'd tar: " + err.Error()}
	}
	tr := tar.NewReader(zr)
	hdr, err := tr.Next()
	if err != nil || hdr.Name != "disk.raw" {
		return map[string]any{"code": "INVALID_IMAGE_FILE", "message": fmt.Sprintf("the tarball's first file is not disk.raw (%v)", err)}
	}
	data, err := io.ReadAll(tr)
	if err != nil {
		return map[string]any{"code": "INVALID_IMAGE_FILE", "message": err.Error()}
	}
	f.disks[image] = data
	return nil
}

// addInstance adds a running instance of a deploy.
func (f *fakeCompute) addInstance(name string, build int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	f.instances[name] = map[string]any{
		"kind": "compute#instance", "id": strconv.Itoa(f.nextID), "name": name, "status": "RUNNING",
		"creationTimestamp": fmt.Sprintf("2026-12-0%dT10:00:00.000-08:00", build%9+1),
		"labels":            map[string]any{labelProject: "hello", labelDeploy: "default", labelBuild: strconv.Itoa(build)},
		"networkInterfaces": []any{map[string]any{"accessConfigs": []any{map[string]any{"name": "External NAT", "natIP": "198.51.100.7"}}}},
		"selfLink":          f.selfLink("zones/" + f.zone + "/instances/" + name),
	}
	f.gets[name] = 2
}

// addImage adds an image of a deploy, created at when.
func (f *fakeCompute) addImage(name string, build int, when time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	f.images[name] = map[string]any{
		"kind": "compute#image", "id": strconv.Itoa(f.nextID), "name": name, "status": "READY",
		"creationTimestamp": when.Format("2006-01-02T15:04:05.000-07:00"),
		"labels":            map[string]any{labelProject: "hello", labelDeploy: "default", labelBuild: strconv.Itoa(build)},
		"selfLink":          f.selfLink("global/images/" + name),
	}
}

// names returns the names of a collection, sorted, once the operations
// still running are done.
func (f *fakeCompute) names(all map[string]map[string]any) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.settle()
	return slices.Sorted(mapsKeys(all))
}

// callLines returns the calls made so far as "METHOD path?query" lines,
// and forgets them.
func (f *fakeCompute) callLines() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var lines []string
	for _, c := range f.calls {
		lines = append(lines, c.String())
	}
	f.calls = nil
	return lines
}

// body returns the body of the first call with method and path.
func (f *fakeCompute) body(method, path string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.calls {
		if c.Method == method && c.Path == path {
			return c.Body
		}
	}
	f.t.Fatalf("no %s %s call", method, path)
	return nil
}
