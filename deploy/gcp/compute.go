package gcp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/storage"
	"github.com/googleapis/gax-go/v2/apierror"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
)

// clients are the SDK clients a deployer uses, made on its first call.
type clients struct {
	images    *compute.ImagesClient
	instances *compute.InstancesClient
	firewalls *compute.FirewallsClient
	zoneOps   *compute.ZoneOperationsClient
	globalOps *compute.GlobalOperationsClient
	storage   *storage.Client
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
	copts, sopts := k.computeOpts, k.storageOpts
	if copts == nil {
		creds, err := detectCredentials()
		if err != nil {
			return nil, fmt.Errorf("gcp: credentials: %w", err)
		}
		copts = []option.ClientOption{option.WithAuthCredentials(creds)}
		// With STORAGE_EMULATOR_HOST the storage SDK talks to the emulator
		// without credentials; give it ours only when it talks to Google.
		if os.Getenv("STORAGE_EMULATOR_HOST") == "" {
			sopts = copts
		}
	}
	if k.st.Endpoint != "" {
		copts = append(copts[:len(copts):len(copts)], option.WithEndpoint(k.st.Endpoint))
	}
	var (
		c   clients
		err error
	)
	mk := func(f func() error) {
		if err == nil {
			err = f()
		}
	}
	mk(func() (e error) { c.images, e = compute.NewImagesRESTClient(ctx, copts...); return })
	mk(func() (e error) { c.instances, e = compute.NewInstancesRESTClient(ctx, copts...); return })
	mk(func() (e error) { c.firewalls, e = compute.NewFirewallsRESTClient(ctx, copts...); return })
	mk(func() (e error) { c.zoneOps, e = compute.NewZoneOperationsRESTClient(ctx, copts...); return })
	mk(func() (e error) { c.globalOps, e = compute.NewGlobalOperationsRESTClient(ctx, copts...); return })
	mk(func() (e error) { c.storage, e = storage.NewClient(ctx, sopts...); return })
	if err != nil {
		c.close()
		return nil, fmt.Errorf("gcp: make clients: %w", err)
	}
	k.c = &c
	return k.c, nil
}

// close closes the clients that were made.
func (c *clients) close() {
	if c.images != nil {
		_ = c.images.Close()
	}
	if c.instances != nil {
		_ = c.instances.Close()
	}
	if c.firewalls != nil {
		_ = c.firewalls.Close()
	}
	if c.zoneOps != nil {
		_ = c.zoneOps.Close()
	}
	if c.globalOps != nil {
		_ = c.globalOps.Close()
	}
	if c.storage != nil {
		_ = c.storage.Close()
	}
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
func (c *clients) wait(ctx context.Context, project string, op *computepb.Operation) error {
	for op.GetStatus() != computepb.Operation_DONE {
		var err error
		if zone := op.GetZone(); zone != "" {
			op, err = c.zoneOps.Wait(ctx, &computepb.WaitZoneOperationRequest{Project: project, Zone: lastPart(zone), Operation: op.GetName()})
		} else {
			op, err = c.globalOps.Wait(ctx, &computepb.WaitGlobalOperationRequest{Project: project, Operation: op.GetName()})
		}
		if err != nil {
			return explainAuth(err)
		}
	}
	if errs := op.GetError().GetErrors(); len(errs) > 0 {
		return &OperationError{Operation: op.GetOperationType() + " " + op.GetTargetLink(), Code: errs[0].GetCode(), Message: errs[0].GetMessage()}
	}
	if code := op.GetHttpErrorStatusCode(); code != 0 && (code < 200 || code > 299) {
		return &OperationError{Operation: op.GetOperationType() + " " + op.GetTargetLink(), Code: fmt.Sprint(code), Message: op.GetHttpErrorMessage()}
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
	if errors.As(err, &ge) {
		return ge.Code == http.StatusNotFound
	}
	var ae *apierror.APIError
	if errors.As(err, &ae) {
		return ae.HTTPCode() == http.StatusNotFound
	}
	return errors.Is(err, storage.ErrObjectNotExist)
}

// pollStatus waits until the instance's status is RUNNING, checking every
// interval, and fails when it stops or ctx ends.
func (c *clients) pollStatus(ctx context.Context, project, zone, name string, interval time.Duration) (*computepb.Instance, error) {
	for {
		inst, err := c.instances.Get(ctx, &computepb.GetInstanceRequest{Project: project, Zone: zone, Instance: name})
		if err != nil {
			return nil, explainAuth(err)
		}
		switch inst.GetStatus() {
		case "RUNNING":
			return inst, nil
		case "STOPPING", "STOPPED", "SUSPENDING", "SUSPENDED", "TERMINATED":
			return nil, fmt.Errorf("instance %s is %s, not running", name, inst.GetStatus())
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("instance %s still %s: %w", name, inst.GetStatus(), ctx.Err())
		case <-t.C:
		}
	}
}
