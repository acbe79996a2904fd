package gcp

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ukdev/ukdev/deploy"
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
	t.Setenv("HOME", t.TempDir())
	t.Setenv("GCE_METADATA_HOST", "")
	t.Setenv("STORAGE_EMULATOR_HOST", "")
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`))
			return
		}
		t.Errorf("request with a refused credential: %s %s", r.Method, r.URL)
	}))
	defer api.Close()

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	sa, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "my-proj", "private_key_id": "k1",
		"private_key": string(pemKey), "client_email": "deployer@my-proj.iam.gserviceaccount.com",
		"token_uri": api.URL + "/token",
	})
	keyFile := filepath.Join(t.TempDir(), "key.json")
	if err := os.WriteFile(keyFile, sa, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(adcEnv, keyFile)

	d, _ := Target{}.Open(testSettings(api.URL))
	_, err = d.Plan(context.Background(), deploy.Request{Project: "hello", Name: "default", Build: 1})
	var ce *CredentialsError
	if !errors.As(err, &ce) || !ce.Refused {
		t.Fatalf("error = %v, want a CredentialsError for a refused credential", err)
	}
	if !strings.Contains(err.Error(), "the Google Cloud credential from GOOGLE_APPLICATION_CREDENTIALS ("+keyFile+") was refused") ||
		!strings.Contains(err.Error(), "gcloud auth application-default login") {
		t.Errorf("error = %v", err)
	}
	if strings.Contains(err.Error(), "PRIVATE KEY") {
		t.Errorf("error shows the key: %v", err)
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
