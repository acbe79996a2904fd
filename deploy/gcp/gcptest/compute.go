package gcptest

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// fakeOp is a long-running operation.
type fakeOp struct {
	body  map[string]any
	apply func() map[string]any // the change; a non-nil result is the operation's error
}

var (
	zonalPath  = regexp.MustCompile(`^/compute/v1/projects/([^/]+)/zones/([^/]+)/(instances|operations)(?:/([^/]+))?(?:/(serialPort|wait))?$`)
	globalPath = regexp.MustCompile(`^/compute/v1/projects/([^/]+)/global/(images|firewalls|operations)(?:/([^/]+))?(?:/(wait))?$`)
	filterTerm = regexp.MustCompile(`^\(labels\.([-_a-z0-9]+) = "([^"]*)"\)$`)
)

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

// serve answers the token endpoint and the Compute API. A Compute
// request may carry no token (clients made without authentication) or
// one the token endpoint issued; another is refused as Google does.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == tokenPath {
		s.token(w, r)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := Call{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query()}
	// The response format parameters the REST clients send on every call
	// are checked here and left out of the calls recorded.
	alt, pretty := c.Query.Get("alt"), c.Query.Get("prettyPrint")
	c.Query.Del("alt")
	c.Query.Del("prettyPrint")
	if (alt != "" && alt != "json") || (pretty != "" && pretty != "false") {
		googleError(w, 400, "invalidParameter", fmt.Sprintf("Invalid response format: alt=%q prettyPrint=%q", alt, pretty))
		return
	}
	if r.Body != nil {
		data, _ := io.ReadAll(r.Body)
		if len(data) > 0 {
			if err := json.Unmarshal(data, &c.Body); err != nil {
				googleError(w, 400, "parseError", "Parse Error")
				return
			}
		}
	}
	authorized, ok := s.authorized(r)
	c.Authorized = authorized
	s.calls = append(s.calls, c)
	if !ok {
		googleError(w, 401, "authError", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
		return
	}
	if m := zonalPath.FindStringSubmatch(r.URL.Path); m != nil && m[1] == s.Project && m[2] == s.Zone {
		s.zonal(w, r, c, m[3], m[4], m[5])
		return
	}
	if m := globalPath.FindStringSubmatch(r.URL.Path); m != nil && m[1] == s.Project {
		s.global(w, r, c, Kind(m[2]), m[3], m[4])
		return
	}
	googleError(w, 404, "notFound", fmt.Sprintf("The requested URL %s was not found.", r.URL.Path))
}

// newOp records an operation and answers it PENDING.
func (s *Server) newOp(w http.ResponseWriter, kind, target string, zonal bool, apply func() map[string]any) {
	s.opSeq++
	name := fmt.Sprintf("operation-%d-%s", s.opSeq, kind)
	op := map[string]any{
		"kind": "compute#operation", "id": strconv.Itoa(8000 + s.opSeq), "name": name,
		"operationType": kind, "targetLink": s.selfLink(target), "status": "PENDING", "progress": 0,
		"insertTime": "2026-12-04T22:30:00.000-08:00", "user": s.email,
	}
	if zonal {
		op["zone"] = s.selfLink("zones/" + s.Zone)
		op["selfLink"] = s.selfLink("zones/" + s.Zone + "/operations/" + name)
	} else {
		op["selfLink"] = s.selfLink("global/operations/" + name)
	}
	s.ops[name] = &fakeOp{body: op, apply: apply}
	writeJSON(w, op)
}

// creating reports whether an insert of the resource at target (a path
// under the project) is still running: Compute refuses to delete it then.
func (s *Server) creating(target string) bool {
	for _, op := range s.ops {
		if op.body["operationType"] == "insert" && op.body["targetLink"] == s.selfLink(target) && op.body["status"] != "DONE" {
			return true
		}
	}
	return false
}

// settle finishes the operations still running, as time does, whether
// anybody waits for them or not.
func (s *Server) settle() {
	names := make([]string, 0, len(s.ops))
	for k := range s.ops {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, name := range names {
		op := s.ops[name]
		for op.body["status"] != "DONE" {
			s.advance(op)
		}
	}
}

// wait moves an operation on one state and answers it.
func (s *Server) wait(w http.ResponseWriter, name string) {
	if s.onWait != nil {
		s.onWait(name)
	}
	op, ok := s.ops[name]
	if !ok {
		googleError(w, 404, "notFound", fmt.Sprintf("The resource 'projects/%s/global/operations/%s' was not found", s.Project, name))
		return
	}
	s.advance(op)
	writeJSON(w, op.body)
}

// advance moves an operation on one state, making its change when it
// is done.
func (s *Server) advance(op *fakeOp) {
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
func (s *Server) matches(filter string, res map[string]any) bool {
	labels, _ := res["labels"].(map[string]any)
	for _, term := range strings.Split(filter, " AND ") {
		m := filterTerm.FindStringSubmatch(term)
		if m == nil {
			s.t.Errorf("gcptest: filter %q: term %q is not (labels.KEY = \"VALUE\")", filter, term)
			return false
		}
		if labels[m[1]] != m[2] {
			return false
		}
	}
	return true
}

// list answers a list call.
func (s *Server) list(w http.ResponseWriter, c Call, kind, link string, all map[string]map[string]any) {
	items := []any{}
	for _, name := range slices.Sorted(keys(all)) {
		if s.matches(c.Query.Get("filter"), all[name]) {
			items = append(items, all[name])
		}
	}
	writeJSON(w, map[string]any{"kind": kind, "id": link, "items": items, "selfLink": s.selfLink(link)})
}

// instanceName returns the name of the instance that name or id
// designates: Compute takes either (the discovery document's pattern of
// the instance parameter is a name or [1-9][0-9]{0,19}).
func (s *Server) instanceName(nameOrID string) string {
	if s.res[Instances][nameOrID] != nil {
		return nameOrID
	}
	for name, inst := range s.res[Instances] {
		if inst["id"] == nameOrID {
			return name
		}
	}
	return nameOrID
}

// operation answers a call on the zonal or global operation name: only
// its wait (sub "wait") is served.
func (s *Server) operation(w http.ResponseWriter, r *http.Request, name, sub string) {
	if r.Method == http.MethodPost && sub == "wait" {
		s.wait(w, name)
		return
	}
	googleError(w, 405, "httpMethodNotAllowed", "HTTP method not allowed")
}

func (s *Server) zonal(w http.ResponseWriter, r *http.Request, c Call, coll, name, sub string) {
	if coll == "operations" {
		s.operation(w, r, name, sub)
		return
	}
	all := s.res[Instances]
	if name != "" {
		name = s.instanceName(name)
	}
	inst := all[name]
	notFound := func() {
		googleError(w, 404, "notFound", fmt.Sprintf("The resource 'projects/%s/zones/%s/instances/%s' was not found", s.Project, s.Zone, name))
	}
	switch {
	case r.Method == http.MethodGet && name == "":
		s.list(w, c, "compute#instanceList", "zones/"+s.Zone+"/instances", all)
	case r.Method == http.MethodGet && sub == "serialPort":
		if inst == nil {
			notFound()
			return
		}
		out := s.serial[name]
		start, _ := strconv.Atoi(c.Query.Get("start"))
		start = max(start, len(out)-s.serialKeep)
		start = min(start, len(out))
		writeJSON(w, map[string]any{
			"kind": "compute#serialPortOutput", "contents": out[start:], "start": strconv.Itoa(start), "next": strconv.Itoa(len(out)),
			"selfLink": s.selfLink("zones/" + s.Zone + "/instances/" + name + "/serialPort"),
		})
	case r.Method == http.MethodGet:
		if inst == nil {
			notFound()
			return
		}
		s.gets[name]++
		switch s.gets[name] {
		case 1:
			inst["status"] = "PROVISIONING"
		case 2:
			inst["status"] = "STAGING"
		case 3:
			inst["status"] = "RUNNING"
			if s.fail.Start {
				inst["status"] = "TERMINATED"
			}
		}
		writeJSON(w, inst)
	case r.Method == http.MethodPost && name == "":
		if s.fail.InstanceInsert {
			googleError(w, 403, "quotaExceeded", "Quota 'CPUS' exceeded.  Limit: 8.0 in region europe-west1.")
			return
		}
		newName, _ := c.Body["name"].(string)
		if all[newName] != nil {
			googleError(w, 409, "alreadyExists", fmt.Sprintf("The resource 'projects/%s/zones/%s/instances/%s' already exists", s.Project, s.Zone, newName))
			return
		}
		s.newOp(w, "insert", "zones/"+s.Zone+"/instances/"+newName, true, func() map[string]any {
			s.nextID++
			body := c.Body
			body["kind"] = "compute#instance"
			body["id"] = strconv.Itoa(s.nextID)
			body["status"] = "PROVISIONING"
			body["zone"] = s.selfLink("zones/" + s.Zone)
			body["selfLink"] = s.selfLink("zones/" + s.Zone + "/instances/" + newName)
			body["creationTimestamp"] = "2026-12-04T22:30:04.000-08:00"
			nis, _ := body["networkInterfaces"].([]any)
			for _, ni := range nis {
				acs, _ := ni.(map[string]any)["accessConfigs"].([]any)
				for _, ac := range acs {
					ac.(map[string]any)["natIP"] = "203.0.113.12"
				}
			}
			all[newName] = body
			if _, ok := s.serial[newName]; !ok {
				s.serial[newName] = BootOutput
			}
			return nil
		})
	case r.Method == http.MethodDelete && name != "":
		if s.creating("zones/" + s.Zone + "/instances/" + name) {
			googleError(w, 400, "resourceNotReady", fmt.Sprintf("The resource 'projects/%s/zones/%s/instances/%s' is not ready", s.Project, s.Zone, name))
			return
		}
		if inst == nil {
			notFound()
			return
		}
		s.newOp(w, "delete", "zones/"+s.Zone+"/instances/"+name, true, func() map[string]any {
			delete(all, name)
			return nil
		})
	default:
		googleError(w, 405, "httpMethodNotAllowed", "HTTP method not allowed")
	}
}

func (s *Server) global(w http.ResponseWriter, r *http.Request, c Call, coll Kind, name, sub string) {
	if coll == "operations" {
		s.operation(w, r, name, sub)
		return
	}
	all := s.res[coll]
	kind := "compute#image"
	if coll == Firewalls {
		kind = "compute#firewall"
	}
	res := all[name]
	notFound := func() {
		googleError(w, 404, "notFound", fmt.Sprintf("The resource 'projects/%s/global/%s/%s' was not found", s.Project, coll, name))
	}
	switch {
	case r.Method == http.MethodGet && name == "":
		s.list(w, c, kind+"List", "global/"+string(coll), all)
	case r.Method == http.MethodGet:
		if res == nil {
			notFound()
			return
		}
		writeJSON(w, res)
	case r.Method == http.MethodPost && name == "":
		newName, _ := c.Body["name"].(string)
		if all[newName] != nil {
			googleError(w, 409, "alreadyExists", fmt.Sprintf("The resource 'projects/%s/global/%s/%s' already exists", s.Project, coll, newName))
			return
		}
		s.newOp(w, "insert", "global/"+string(coll)+"/"+newName, false, func() map[string]any {
			if coll == Images {
				if s.fail.ImageInsert {
					return map[string]any{"code": "INVALID_IMAGE_FILE", "message": "The image file is not valid: disk.raw is not a bootable disk."}
				}
				if e := s.readTarball(newName, c.Body); e != nil {
					return e
				}
			}
			s.nextID++
			body := c.Body
			body["kind"] = kind
			body["id"] = strconv.Itoa(s.nextID)
			body["selfLink"] = s.selfLink("global/" + string(coll) + "/" + newName)
			if coll == Images {
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
		s.newOp(w, "patch", "global/"+string(coll)+"/"+name, false, func() map[string]any {
			for k, v := range c.Body {
				res[k] = v
			}
			return nil
		})
	case r.Method == http.MethodDelete && name != "":
		if s.creating("global/" + string(coll) + "/" + name) {
			googleError(w, 400, "resourceNotReady", fmt.Sprintf("The resource 'projects/%s/global/%s/%s' is not ready", s.Project, coll, name))
			return
		}
		if res == nil {
			notFound()
			return
		}
		s.newOp(w, "delete", "global/"+string(coll)+"/"+name, false, func() map[string]any {
			delete(all, name)
			return nil
		})
	default:
		googleError(w, 405, "httpMethodNotAllowed", "HTTP method not allowed")
	}
}

// readTarball reads the image's raw disk source from the storage
// emulator, as Compute does, keeping what Disk returns of its disk.raw;
// a problem is the operation's error.
func (s *Server) readTarball(image string, body map[string]any) map[string]any {
	raw, _ := body["rawDisk"].(map[string]any)
	src, _ := raw["source"].(string)
	rest, ok := strings.CutPrefix(src, "https://storage.googleapis.com/")
	bucket, object, _ := strings.Cut(rest, "/")
	if !ok {
		return map[string]any{"code": "INVALID_FIELD_VALUE", "message": "Invalid value for field 'resource.rawDisk.source': " + src}
	}
	obj, err := s.GCS.GetObject(bucket, object)
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
	var d Disk
	head := &headWriter{max: HeadSize}
	sum := sha256.New()
	d.Size, err = io.Copy(io.MultiWriter(sum, head), tr)
	if err != nil {
		return map[string]any{"code": "INVALID_IMAGE_FILE", "message": err.Error()}
	}
	d.Head = head.b
	copy(d.SHA256[:], sum.Sum(nil))
	s.disks[image] = d
	return nil
}

// headWriter keeps the first max bytes written to it.
type headWriter struct {
	b   []byte
	max int
}

// Write keeps what fits of p.
func (h *headWriter) Write(p []byte) (int, error) {
	if n := h.max - len(h.b); n > 0 {
		h.b = append(h.b, p[:min(n, len(p))]...)
	}
	return len(p), nil
}
