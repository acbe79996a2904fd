package gcptest

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// tokenPath is the token endpoint's path on the Compute fake's server.
const tokenPath = "/token"

// token answers the OAuth 2.0 JWT bearer grant a service account key
// makes: the assertion must be signed with the key Start wrote, by its
// account, for this endpoint. With Failures.Credentials it refuses the
// key as Google does a revoked one.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	refuse := func(code, desc string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
	}
	if err := r.ParseForm(); err != nil {
		refuse("invalid_request", err.Error())
		return
	}
	if r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		refuse("unsupported_grant_type", "Invalid grant_type: "+r.PostForm.Get("grant_type"))
		return
	}
	if err := s.checkAssertion(r.PostForm.Get("assertion")); err != nil {
		refuse("invalid_grant", err.Error())
		return
	}
	s.mu.Lock()
	refused := s.fail.Credentials
	var tok string
	if !refused {
		tok = fmt.Sprintf("ya29.gcptest-%d", len(s.tokens)+1)
		s.tokens[tok] = true
	}
	s.mu.Unlock()
	if refused {
		refuse("invalid_grant", "Invalid JWT Signature.")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "expires_in": 3599, "token_type": "Bearer"})
}

// checkAssertion checks a JWT bearer assertion: RS256, signed with the
// service account's key, issued by it for the token endpoint.
func (s *Server) checkAssertion(jwt string) error {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return fmt.Errorf("the assertion is not a JWT")
	}
	var header, claims map[string]any
	for i, v := range []*map[string]any{&header, &claims} {
		data, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return fmt.Errorf("the assertion's part %d: %w", i, err)
		}
		if err := json.Unmarshal(data, v); err != nil {
			return fmt.Errorf("the assertion's part %d: %w", i, err)
		}
	}
	if header["alg"] != "RS256" {
		return fmt.Errorf("the assertion's alg is %v, not RS256", header["alg"])
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return fmt.Errorf("the assertion's signature: %w", err)
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(s.key, crypto.SHA256, sum[:], sig); err != nil {
		return fmt.Errorf("Invalid JWT Signature.")
	}
	if claims["iss"] != s.email || claims["aud"] != s.TokenURL {
		return fmt.Errorf("the assertion is from %v for %v, not from %s for %s", claims["iss"], claims["aud"], s.email, s.TokenURL)
	}
	return nil
}

// authorized reports whether a request carries a token the endpoint
// issued; ok is false when it carries another.
func (s *Server) authorized(r *http.Request) (authorized, ok bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return false, true
	}
	tok, found := strings.CutPrefix(h, "Bearer ")
	return found && s.tokens[tok], found && s.tokens[tok]
}
