// Package gcptest runs fakes of the Google Cloud services the gcp deploy
// target uses, for tests in this process and for a ukdev binary the tests
// start: Cloud Storage is fake-gcs-server's emulator, over HTTP; Compute is
// an HTTP server that implements the REST calls Compute's Go client makes for
// the target, with long-running operations; a token endpoint issues access
// tokens for the fake service account whose key file Start writes.
//
// A test starts them with Start, points a ukdev process at them with Env
// and ConfigKeys, then looks at what the process left with Names, Objects,
// Resource and Disk, and injects failures with Fail.
package gcptest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

// Defaults of Options.
const (
	// DefaultProject is the Google Cloud project id of the fakes.
	DefaultProject = "my-proj"
	// DefaultZone is the zone the Compute fake serves.
	DefaultZone = "europe-west1-b"
	// DefaultBucket is the bucket Start creates in the storage emulator.
	DefaultBucket = "ukdev-uploads"
)

// Options configure Start; empty fields take the defaults.
type Options struct {
	// Project is the project id (DefaultProject), Zone the zone served
	// (DefaultZone), Bucket the bucket created (DefaultBucket).
	Project, Zone, Bucket string
}

// Server is the running fakes. Its methods are safe for concurrent use
// with the requests they serve.
type Server struct {
	// Project, Zone and Bucket are what the fakes serve.
	Project, Zone, Bucket string
	// Endpoint is the Compute fake's base URL, the value of the endpoint
	// key.
	Endpoint string
	// TokenURL is the token endpoint, the key file's token_uri.
	TokenURL string
	// KeyFile is a service account key file whose token_uri is TokenURL
	// and whose key is made for this Server.
	KeyFile string
	// Home is an empty directory to use as HOME, so that no gcloud
	// credential of the user's is read.
	Home string
	// GCS is the storage emulator, served over HTTP at StorageHost.
	GCS *fakestorage.Server
	// StorageHost is the emulator's host:port, the value of
	// STORAGE_EMULATOR_HOST.
	StorageHost string

	t   testing.TB
	srv *httptest.Server
	key *rsa.PublicKey
	// email is the service account's client_email.
	email string

	mu         sync.Mutex
	calls      []Call
	res        map[Kind]map[string]map[string]any
	ops        map[string]*fakeOp
	serial     map[string]string
	gets       map[string]int
	disks      map[string]Disk
	tokens     map[string]bool
	nextID     int
	opSeq      int
	fail       Failures
	serialKeep int
	onWait     func(op string)
}

// Kind is a Compute collection the fake keeps.
type Kind string

const (
	// Instances are the zone's instances.
	Instances Kind = "instances"
	// Images are the project's images.
	Images Kind = "images"
	// Firewalls are the project's firewall rules.
	Firewalls Kind = "firewalls"
)

// Failures are the failures the fakes inject; see Fail.
type Failures struct {
	// ImageInsert makes image inserts' operations end with an
	// INVALID_IMAGE_FILE error.
	ImageInsert bool
	// InstanceInsert makes instance inserts answer 403 quotaExceeded.
	InstanceInsert bool
	// Start makes new instances stop (TERMINATED) instead of running.
	Start bool
	// Credentials makes the token endpoint refuse the key (invalid_grant).
	Credentials bool
}

// Call is one request the Compute fake got.
type Call struct {
	Method, Path string
	Query        url.Values
	Body         map[string]any
	// Authorized says the request carried an access token the token
	// endpoint issued.
	Authorized bool
}

// String writes the call as "METHOD path?query".
func (c Call) String() string {
	s := c.Method + " " + c.Path
	if len(c.Query) > 0 {
		s += "?" + c.Query.Encode()
	}
	return s
}

// Disk is what Compute read of an image's disk.raw.
type Disk struct {
	// Size is disk.raw's size.
	Size int64
	// Head is its first HeadSize bytes (fewer when it is smaller).
	Head []byte
	// SHA256 is its sha256 sum.
	SHA256 [32]byte
}

// HeadSize is how many bytes of a disk.raw Disk keeps.
const HeadSize = 1 << 20

// BootOutput is the serial console output new instances get: the BIOS
// and boot loader lines Compute shows before the guest's own.
const BootOutput = "SeaBIOS (version 1.8.2-google)\r\nTotal RAM Size = 0x0000000080000000 = 2048 MiB\r\nBooting from Hard Disk 0...\r\n"

// Start starts the fakes, stopped when the test ends, and creates the
// bucket.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	s := &Server{
		Project: cmp(o.Project, DefaultProject), Zone: cmp(o.Zone, DefaultZone), Bucket: cmp(o.Bucket, DefaultBucket),
		t: t, res: map[Kind]map[string]map[string]any{Instances: {}, Images: {}, Firewalls: {}},
		ops: map[string]*fakeOp{}, serial: map[string]string{}, gets: map[string]int{}, disks: map[string]Disk{},
		tokens: map[string]bool{}, nextID: 1000, serialKeep: 1 << 20,
	}
	gcs, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1", PublicHost: "storage.googleapis.com"})
	if err != nil {
		t.Fatalf("gcptest: start storage emulator: %v", err)
	}
	t.Cleanup(gcs.Stop)
	gcs.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: s.Bucket})
	u, err := url.Parse(gcs.URL())
	if err != nil {
		t.Fatalf("gcptest: storage emulator URL: %v", err)
	}
	s.GCS, s.StorageHost = gcs, u.Host

	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	s.Endpoint = s.srv.URL
	s.TokenURL = s.srv.URL + tokenPath

	dir := t.TempDir()
	s.Home = filepath.Join(dir, "home")
	if err := os.Mkdir(s.Home, 0o700); err != nil {
		t.Fatalf("gcptest: %v", err)
	}
	s.KeyFile = filepath.Join(dir, "service-account.json")
	if err := s.writeKeyFile(); err != nil {
		t.Fatalf("gcptest: key file: %v", err)
	}
	return s
}

func cmp(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// writeKeyFile makes a key pair and writes the service account key file.
func (s *Server) writeKeyFile() error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	s.key = &key.PublicKey
	s.email = "deployer@" + s.Project + ".iam.gserviceaccount.com"
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	data, err := json.Marshal(map[string]string{
		"type": "service_account", "project_id": s.Project, "private_key_id": "gcptest-key",
		"private_key": string(pemKey), "client_email": s.email, "client_id": "100000000000000000001",
		"token_uri": s.TokenURL,
	})
	if err != nil {
		return err
	}
	return os.WriteFile(s.KeyFile, data, 0o600)
}

// Env is the environment a ukdev process needs to reach the fakes, as
// "KEY=value" entries to append to its environment: the storage emulator
// (STORAGE_EMULATOR_HOST), the key file as Application Default Credentials
// (GOOGLE_APPLICATION_CREDENTIALS), and an empty HOME and gcloud config
// directory, with no metadata server, so that no other credential is read.
func (s *Server) Env() []string {
	return []string{
		"STORAGE_EMULATOR_HOST=" + s.StorageHost,
		"GOOGLE_APPLICATION_CREDENTIALS=" + s.KeyFile,
		"HOME=" + s.Home,
		"CLOUDSDK_CONFIG=" + filepath.Join(s.Home, ".config", "gcloud"),
		"GCE_METADATA_HOST=",
		"NO_GCE_CHECK=True",
	}
}

// ConfigKeys are the keys of a [deploy.<name>] section with target =
// "gcp" that point it at the fakes: project, zone, bucket and endpoint, a
// line each.
func (s *Server) ConfigKeys() string {
	return fmt.Sprintf("project = %q\nzone = %q\nbucket = %q\nendpoint = %q\n", s.Project, s.Zone, s.Bucket, s.Endpoint)
}

// Fail sets the failures to inject from now on.
func (s *Server) Fail(f Failures) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = f
}

// OnWait makes the fake call f with the name of each operation waited
// for, before it answers; f must not call the Server.
func (s *Server) OnWait(f func(op string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onWait = f
}

// SetSerial sets an instance's serial port 1 output.
func (s *Server) SetSerial(instance, out string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.serial[instance] = out
}

// AppendSerial adds to an instance's serial port 1 output.
func (s *Server) AppendSerial(instance, out string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.serial[instance] += out
}

// Serial returns an instance's serial port 1 output.
func (s *Server) Serial(instance string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.serial[instance]
}

// SetSerialKeep sets how many bytes of serial output an instance keeps:
// reads from an older offset start at the oldest kept byte.
func (s *Server) SetSerialKeep(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.serialKeep = n
}

// Names returns the names of a collection, sorted, once the operations
// still running are done.
func (s *Server) Names(k Kind) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle()
	return slices.Sorted(keys(s.res[k]))
}

// Resource returns a copy of a resource as the API shows it, once the
// operations still running are done; nil when there is none.
func (s *Server) Resource(k Kind, name string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle()
	res := s.res[k][name]
	if res == nil {
		return nil
	}
	var out map[string]any
	data, _ := json.Marshal(res)
	_ = json.Unmarshal(data, &out)
	return out
}

// Put adds or replaces a resource, as JSON-shaped maps; its name is
// res["name"].
func (s *Server) Put(k Kind, res map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name, _ := res["name"].(string)
	s.res[k][name] = res
}

// Modify calls f on a resource, which must exist, to change it.
func (s *Server) Modify(k Kind, name string, f func(res map[string]any)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	res := s.res[k][name]
	if res == nil {
		s.t.Fatalf("gcptest: no %s %s", k, name)
	}
	f(res)
}

// Labels are the labels the gcp target puts on what it makes.
func Labels(project, deploy string, build int) map[string]any {
	return map[string]any{"ukdev-project": project, "ukdev-deploy": deploy, "ukdev-build": fmt.Sprint(build)}
}

// AddInstance adds a running instance with labels, created on day (of
// December 2026) at 10:00 PST, with the external IP 198.51.100.7.
func (s *Server) AddInstance(name string, labels map[string]any, day int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	s.res[Instances][name] = map[string]any{
		"kind": "compute#instance", "id": fmt.Sprint(s.nextID), "name": name, "status": "RUNNING",
		"creationTimestamp": fmt.Sprintf("2026-12-%02dT10:00:00.000-08:00", day),
		"labels":            labels,
		"networkInterfaces": []any{map[string]any{"accessConfigs": []any{map[string]any{"name": "External NAT", "natIP": "198.51.100.7"}}}},
		"selfLink":          s.selfLink("zones/" + s.Zone + "/instances/" + name),
	}
	s.gets[name] = 2
}

// AddImage adds a ready image with labels, created at the timestamp
// created (RFC 3339).
func (s *Server) AddImage(name string, labels map[string]any, created string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	s.res[Images][name] = map[string]any{
		"kind": "compute#image", "id": fmt.Sprint(s.nextID), "name": name, "status": "READY",
		"creationTimestamp": created, "labels": labels,
		"selfLink": s.selfLink("global/images/" + name),
	}
}

// Disk returns what Compute read of the disk.raw of an image it made.
func (s *Server) Disk(image string) (Disk, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.disks[image]
	return d, ok
}

// Calls returns the Compute calls made so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// CallLines returns the Compute calls made so far as "METHOD path?query"
// lines, and forgets them.
func (s *Server) CallLines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var lines []string
	for _, c := range s.calls {
		lines = append(lines, c.String())
	}
	s.calls = nil
	return lines
}

// Body returns the body of the first call with method and path, and
// fails the test when there is none.
func (s *Server) Body(method, path string) map[string]any {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.calls {
		if c.Method == method && c.Path == path {
			return c.Body
		}
	}
	s.t.Fatalf("gcptest: no %s %s call", method, path)
	return nil
}

// Objects lists the names of the bucket's objects.
func (s *Server) Objects() []string {
	s.t.Helper()
	list, _, err := s.GCS.ListObjects(s.Bucket, "", "", false)
	if err != nil {
		s.t.Fatalf("gcptest: list objects: %v", err)
	}
	var names []string
	for _, o := range list {
		names = append(names, o.Name)
	}
	slices.Sort(names)
	return names
}

// PutObject writes an object into the bucket.
func (s *Server) PutObject(name string, content []byte) {
	s.GCS.CreateObject(fakestorage.Object{ObjectAttrs: fakestorage.ObjectAttrs{BucketName: s.Bucket, Name: name}, Content: content})
}

// keys iterates over a map's keys.
func keys(m map[string]map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// selfLink returns the URL of a resource path under the project.
func (s *Server) selfLink(rest string) string {
	return "https://www.googleapis.com/compute/v1/projects/" + s.Project + "/" + rest
}
