package gcp

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ukdev/ukdev/deploy"
	"github.com/ukdev/ukdev/deploy/gcp/gcptest"
)

// testSettings are settings that point Compute at endpoint.
func testSettings(endpoint string) Settings {
	return Settings{Project: "my-proj", Zone: "europe-west1-b", Region: "europe-west1", Bucket: testBucket,
		MachineType: DefaultMachineType, KeepImages: 2, Network: DefaultNetwork, Endpoint: endpoint}
}

func TestMissingCredentials(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv(adcEnv, "")
	t.Setenv("GCE_METADATA_HOST", "")
	t.Setenv("STORAGE_EMULATOR_HOST", "")
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request without credentials: %s %s", r.Method, r.URL)
	}))
	defer api.Close()

	d, err := Target{}.Open(testSettings(api.URL))
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Plan(context.Background(), deploy.Request{Project: "hello", Name: "default", Build: 1})
	var ce *CredentialsError
	if !errors.As(err, &ce) || ce.Refused {
		t.Fatalf("error = %v, want a CredentialsError for a missing credential", err)
	}
	want := "gcp: credentials: no usable Google Cloud credential: Application Default Credentials tried " +
		"GOOGLE_APPLICATION_CREDENTIALS (not set), gcloud's " + filepath.Join(home, ".config/gcloud/application_default_credentials.json") +
		" (not found) and the metadata server (not on Google Cloud): run `gcloud auth application-default login`, " +
		"or set GOOGLE_APPLICATION_CREDENTIALS to a service account key file"
	if err.Error() != want {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}
}

func TestRefusedCredentials(t *testing.T) {
	fake := gcptest.Start(t, gcptest.Options{})
	fake.Fail(gcptest.Failures{Credentials: true})
	t.Setenv("HOME", fake.Home)
	t.Setenv("GCE_METADATA_HOST", "")
	t.Setenv("STORAGE_EMULATOR_HOST", "")
	t.Setenv(adcEnv, fake.KeyFile)

	d, _ := Target{}.Open(testSettings(fake.Endpoint))
	_, err := d.Plan(context.Background(), deploy.Request{Project: "hello", Name: "default", Build: 1})
	var ce *CredentialsError
	if !errors.As(err, &ce) || !ce.Refused {
		t.Fatalf("error = %v, want a CredentialsError for a refused credential", err)
	}
	if !strings.Contains(err.Error(), "the Google Cloud credential from GOOGLE_APPLICATION_CREDENTIALS ("+fake.KeyFile+") was refused") ||
		!strings.Contains(err.Error(), "gcloud auth application-default login") {
		t.Errorf("error = %v", err)
	}
	if strings.Contains(err.Error(), "PRIVATE KEY") {
		t.Errorf("error shows the key: %v", err)
	}
	if calls := fake.Calls(); len(calls) != 0 {
		t.Errorf("requests with a refused credential: %v", calls)
	}
}

// TestServiceAccountCredentials deploys with the credentials a user's
// environment gives, a service account key file, through the token
// endpoint the key names: every Compute call carries the token it issued.
func TestServiceAccountCredentials(t *testing.T) {
	fake := gcptest.Start(t, gcptest.Options{})
	for _, kv := range fake.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	dep, err := Target{}.Open(testSettings(fake.Endpoint))
	if err != nil {
		t.Fatal(err)
	}
	d := dep.(*deployer)
	d.align, d.poll = 1<<20, time.Millisecond
	disk := filepath.Join(t.TempDir(), "disk.raw")
	if err := os.WriteFile(disk, make([]byte, 512), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := d.Deploy(context.Background(), deploy.Request{Project: "hello", Name: "default", Build: 3, Disk: disk, DiskSize: 512}, func(deploy.Step) {})
	if err != nil {
		t.Fatal(err)
	}
	if res.Instance != "hello-b3" {
		t.Errorf("instance = %q", res.Instance)
	}
	calls := fake.Calls()
	if len(calls) == 0 {
		t.Fatal("no Compute call")
	}
	for _, c := range calls {
		if !c.Authorized {
			t.Errorf("%s: no token from the token endpoint", c)
		}
	}
}

func TestCredentialsFileNotFound(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	missing := filepath.Join(t.TempDir(), "key.json")
	t.Setenv(adcEnv, missing)
	d, _ := Target{}.Open(testSettings("http://127.0.0.1:1"))
	_, err := d.List(context.Background(), "hello")
	want := "gcp: credentials: no usable Google Cloud credential: Application Default Credentials tried " +
		"GOOGLE_APPLICATION_CREDENTIALS (" + missing + ", not found): run `gcloud auth application-default login`, " +
		"or set GOOGLE_APPLICATION_CREDENTIALS to a service account key file"
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
}

func TestTarget(t *testing.T) {
	tg, err := deploy.Lookup("gcp")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tg.Open(42); err == nil {
		t.Error("Open(42) succeeded, want an error")
	}
	d, err := tg.Open(testSettings(""))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.(deploy.ConsoleReader); !ok {
		t.Error("the gcp Deployer is not a ConsoleReader")
	}
	if _, ok := tg.NewSection().(*section); !ok {
		t.Errorf("NewSection = %T", tg.NewSection())
	}
}
