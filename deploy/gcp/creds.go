package gcp

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/auth/credentials"
)

// adcEnv is the environment variable Application Default Credentials read
// first.
const adcEnv = "GOOGLE_APPLICATION_CREDENTIALS"

// adcFix is what to do about missing or refused credentials.
const adcFix = "run `gcloud auth application-default login`, or set " + adcEnv + " to a service account key file"

// scope is the OAuth scope the clients ask for: Compute and Cloud Storage
// are both under it.
const scope = "https://www.googleapis.com/auth/cloud-platform"

// CredentialsError is returned (wrapped) when Application Default
// Credentials give no usable credential: none was found, or the one found
// could not be read or was refused (expired, revoked). Its message names
// the source tried and how to fix it, never the credential itself.
type CredentialsError struct {
	// Source is where ADC looked, in words ("GOOGLE_APPLICATION_CREDENTIALS
	// (/path/key.json)").
	Source string
	// Refused says the credential was found but the token service refused
	// it, rather than not found or unreadable.
	Refused bool
	// Err is the auth library's error.
	Err error
}

// Error says what was tried and how to fix it.
func (e *CredentialsError) Error() string {
	if e.Refused {
		return fmt.Sprintf("the Google Cloud credential from %s was refused (expired or revoked?): %s", e.Source, adcFix)
	}
	return fmt.Sprintf("no usable Google Cloud credential: Application Default Credentials tried %s: %s", e.Source, adcFix)
}

// Unwrap returns the auth library's error.
func (e *CredentialsError) Unwrap() error { return e.Err }

// adcSource says where Application Default Credentials find (or looked for)
// a credential, in the order the auth library tries them.
func adcSource() string {
	if f := os.Getenv(adcEnv); f != "" {
		if _, err := os.Stat(f); err != nil {
			return fmt.Sprintf("%s (%s, not found)", adcEnv, f)
		}
		return fmt.Sprintf("%s (%s)", adcEnv, f)
	}
	home := os.Getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	wellKnown := filepath.Join(home, ".config", "gcloud", "application_default_credentials.json")
	if _, err := os.Stat(wellKnown); err == nil {
		return fmt.Sprintf("gcloud's %s", wellKnown)
	}
	return fmt.Sprintf("%s (not set), gcloud's %s (not found) and the metadata server (not on Google Cloud)", adcEnv, wellKnown)
}

// detectCredentials finds the Application Default Credentials, the same
// search as the API clients' option defaults.
func detectCredentials() (*auth.Credentials, error) {
	creds, err := credentials.DetectDefault(&credentials.DetectOptions{Scopes: []string{scope}})
	if err != nil {
		return nil, &CredentialsError{Source: adcSource(), Err: err}
	}
	return creds, nil
}

// explainAuth turns an API call's failure to get a token into a
// CredentialsError; other errors are returned as they are.
func explainAuth(err error) error {
	var ae *auth.Error
	if err != nil && errors.As(err, &ae) {
		return &CredentialsError{Source: adcSource(), Refused: true, Err: err}
	}
	return err
}
