package gcptest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
)

// assertion signs a JWT bearer assertion with key.
func assertion(t *testing.T, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		data, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(data)
	}
	signed := enc(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." + enc(claims)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// keyOf reads the private key of the key file.
func keyOf(t *testing.T, s *Server) *rsa.PrivateKey {
	t.Helper()
	data, err := os.ReadFile(s.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		PrivateKey string `json:"private_key"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode([]byte(f.PrivateKey))
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestTokenEndpoint(t *testing.T) {
	s := Start(t, Options{})
	key := keyOf(t, s)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	good := map[string]any{"iss": s.email, "aud": s.TokenURL, "scope": "https://www.googleapis.com/auth/cloud-platform"}
	tests := []struct {
		name      string
		grant     string
		jwt       string
		fail      Failures
		wantError string
	}{
		{"issued", "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion(t, key, good), Failures{}, ""},
		{"other key", "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion(t, other, good), Failures{}, "invalid_grant"},
		{"other audience", "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion(t, key, map[string]any{"iss": s.email, "aud": "https://oauth2.googleapis.com/token"}), Failures{}, "invalid_grant"},
		{"other grant", "client_credentials", assertion(t, key, good), Failures{}, "unsupported_grant_type"},
		{"refused", "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion(t, key, good), Failures{Credentials: true}, "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.Fail(tt.fail)
			resp, err := http.PostForm(s.TokenURL, url.Values{"grant_type": {tt.grant}, "assertion": {tt.jwt}})
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if tt.wantError != "" {
				if resp.StatusCode != http.StatusBadRequest || body["error"] != tt.wantError {
					t.Errorf("%d %v, want 400 %s", resp.StatusCode, body, tt.wantError)
				}
				return
			}
			tok, _ := body["access_token"].(string)
			if resp.StatusCode != http.StatusOK || tok == "" {
				t.Fatalf("%d %v, want a token", resp.StatusCode, body)
			}
			// The token opens Compute; another token does not.
			for _, c := range []struct {
				token string
				want  int
			}{{tok, http.StatusOK}, {tok + "x", http.StatusUnauthorized}} {
				req, _ := http.NewRequest(http.MethodGet, s.Endpoint+"/compute/v1/projects/"+s.Project+"/global/images", nil)
				req.Header.Set("Authorization", "Bearer "+c.token)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				data, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != c.want {
					t.Errorf("list images with token %q: %d %s, want %d", c.token, resp.StatusCode, strings.TrimSpace(string(data)), c.want)
				}
			}
			calls := s.Calls()
			if len(calls) < 2 || !calls[len(calls)-2].Authorized || calls[len(calls)-1].Authorized {
				t.Errorf("calls %+v: want the first authorized, the second not", calls)
			}
		})
	}
}

func TestInstanceByID(t *testing.T) {
	s := Start(t, Options{})
	s.AddInstance("hello-b1", Labels("hello", "default", 1), 4)
	s.SetSerial("hello-b1", "booted\r\n")
	id := s.Resource(Instances, "hello-b1")["id"].(string)
	for _, path := range []string{"/instances/" + id + "/serialPort?port=1&start=0", "/instances/hello-b1/serialPort?port=1&start=0"} {
		resp, err := http.Get(s.Endpoint + "/compute/v1/projects/" + s.Project + "/zones/" + s.Zone + path)
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || out["contents"] != "booted\r\n" || out["next"] != "8" {
			t.Errorf("GET %s: %d %v", path, resp.StatusCode, out)
		}
	}
}
