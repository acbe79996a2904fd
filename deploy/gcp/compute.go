package gcp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	"google.golang.org/api/storage/v1"
)

// computePath is the Compute API's path under its endpoint: the endpoint
// key names the host part, as "https://compute.googleapis.com".
const computePath = "/compute/v1/"

// storageEmulatorEnv names the storage emulator's host ("localhost:4443"
// or a URL), as Cloud Storage's client libraries read it.
const storageEmulatorEnv = "STORAGE_EMULATOR_HOST"

// clients are the API clients a deployer uses, made on its first call.
type clients struct {
	compute *compute.Service
	storage *storage.Service
}

// connector makes the clients once.
type connector struct {
	st Settings
	// computeOpts and storageOpts, when computeOpts is not nil, are used
	// instead of the Application Default Credentials (tests point the
	// clients at fakes with them).
	computeOpts, storageOpts []option.ClientOption

	mu sync.Mutex
	c  *clients
}

// connect returns the clients, making them on the first call: it looks
// up the credentials, and reaches no API.
func (k *connector) connect(ctx context.Context) (*clients, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.c != nil {
		return k.c, nil
	}
	emulator, err := storageEmulator(os.Getenv(storageEmulatorEnv))
	if err != nil {
		return nil, fmt.Errorf("gcp: %s: %w", storageEmulatorEnv, err)
	}
	copts, sopts := k.computeOpts, k.storageOpts
	if copts == nil {
		creds, err := detectCredentials()
		if err != nil {
			return nil, fmt.Errorf("gcp: credentials: %w", err)
		}
		copts = []option.ClientOption{option.WithAuthCredentials(creds)}
		// Cloud Storage's emulator takes no credentials; give it ours only
		// when it talks to Google.
		if emulator == "" {
			sopts = copts
		}
	}
	if k.st.Endpoint != "" {
		copts = append(copts[:len(copts):len(copts)], option.WithEndpoint(k.st.Endpoint+computePath))
	}
	if emulator != "" {
		sopts = append(sopts[:len(sopts):len(sopts)], option.WithoutAuthentication(), option.WithEndpoint(emulator))
	}
	var c clients
	if c.compute, err = compute.NewService(ctx, copts...); err != nil {
		return nil, fmt.Errorf("gcp: make compute client: %w", err)
	}
	if c.storage, err = storage.NewService(ctx, sopts...); err != nil {
		return nil, fmt.Errorf("gcp: make storage client: %w", err)
	}
	k.c = &c
	return k.c, nil
}

// storageEmulator returns the JSON API endpoint of the storage emulator
// that host (STORAGE_EMULATOR_HOST) names, "" when host is empty: as
// Cloud Storage's Go client does, a host without a scheme is reached over
// http, and the API is under /storage/v1/ (uploads under
// /upload/storage/v1/, which the client derives from it).
func storageEmulator(host string) (string, error) {
	if host == "" {
		return "", nil
	}
	u := &url.URL{Scheme: "http", Host: host}
	if strings.Contains(host, "://") {
		var err error
		if u, err = url.Parse(host); err != nil {
			return "", err
		}
	}
	u.Path = "storage/v1/"
	return u.String(), nil
}

// OperationError is a Compute operation that finished with errors.
type OperationError struct {
	// Operation is the operation's type and target ("insert
	// .../images/hello-b12").
	Operation string
	// Code and Message are its first error's.
	Code, Message string
}

// Error says what failed and why.
func (e *OperationError) Error() string {
	return fmt.Sprintf("%s failed: %s (%s)", e.Operation, e.Message, e.Code)
}

// wait waits for a Compute operation to finish, through the API's wait
// method (which returns when the operation is done or after about two
// minutes), and returns its error.
func (c *clients) wait(ctx context.Context, project string, op *compute.Operation) error {
	for op.Status != "DONE" {
		var err error
		if zone := op.Zone; zone != "" {
			op, err = c.compute.ZoneOperations.Wait(project, lastPart(zone), op.Name).Context(ctx).Do()
		} else {
			op, err = c.compute.GlobalOperations.Wait(project, op.Name).Context(ctx).Do()
		}
		if err != nil {
			return explainAuth(err)
		}
	}
	if op.Error != nil && len(op.Error.Errors) > 0 {
		e := op.Error.Errors[0]
		return &OperationError{Operation: op.OperationType + " " + op.TargetLink, Code: e.Code, Message: e.Message}
	}
	if code := op.HttpErrorStatusCode; code != 0 && (code < 200 || code > 299) {
		return &OperationError{Operation: op.OperationType + " " + op.TargetLink, Code: fmt.Sprint(code), Message: op.HttpErrorMessage}
	}
	return nil
}

// lastPart returns the last element of a resource URL ("europe-west1-b"
// of ".../zones/europe-west1-b").
func lastPart(s string) string {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return s[i+1:]
		}
	}
	return s
}

// isNotFound reports whether err is the API's 404.
func isNotFound(err error) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == http.StatusNotFound
}

// pollStatus waits until the instance's status is RUNNING, checking every
// interval, and fails when it stops or ctx ends.
func (c *clients) pollStatus(ctx context.Context, project, zone, name string, interval time.Duration) (*compute.Instance, error) {
	for {
		inst, err := c.compute.Instances.Get(project, zone, name).Context(ctx).Do()
		if err != nil {
			return nil, explainAuth(err)
		}
		switch inst.Status {
		case "RUNNING":
			return inst, nil
		case "STOPPING", "STOPPED", "SUSPENDING", "SUSPENDED", "TERMINATED":
			return nil, fmt.Errorf("instance %s is %s, not running", name, inst.Status)
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("instance %s still %s: %w", name, inst.Status, ctx.Err())
		case <-t.C:
		}
	}
}
