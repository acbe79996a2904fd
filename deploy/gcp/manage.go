package gcp

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/storage"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"

	"github.com/ukdev/ukdev/deploy"
)

// List returns the instances of the zone labelled with project.
func (d *deployer) List(ctx context.Context, project string) ([]deploy.Instance, error) {
	c, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	list, err := d.listInstances(ctx, c, labelFilter(labelProject, projectLabel(project)))
	if err != nil {
		return nil, fmt.Errorf("gcp: list: %w", err)
	}
	out := make([]deploy.Instance, 0, len(list))
	for _, inst := range list {
		out = append(out, deploy.Instance{
			ID:         strconv.FormatUint(inst.GetId(), 10),
			Name:       inst.GetName(),
			Build:      buildOf(inst.GetLabels()),
			State:      inst.GetStatus(),
			ExternalIP: externalIP(inst),
			Created:    created(inst.GetCreationTimestamp()),
		})
	}
	return out, nil
}

// Destroy removes the project's instances and images of the zone and
// project, its firewall rule and any tarball left in the bucket.
func (d *deployer) Destroy(ctx context.Context, project string, report func(deploy.Step)) error {
	c, err := d.connect(ctx)
	if err != nil {
		return err
	}
	filter := labelFilter(labelProject, projectLabel(project))
	instances, err := d.listInstances(ctx, c, filter)
	if err != nil {
		return fmt.Errorf("gcp: destroy: %w", err)
	}
	images, err := d.listImages(ctx, c, filter)
	if err != nil {
		return fmt.Errorf("gcp: destroy: %w", err)
	}
	var errs []error
	one := func(what string, del func() error) {
		report(deploy.Step{Name: stepDestroy, Message: what})
		if err := del(); err != nil {
			errs = append(errs, err)
			return
		}
		report(deploy.Step{Name: stepDestroy, Message: what, Finished: true})
	}
	for _, inst := range instances {
		one("instance "+inst.GetName(), func() error { return d.deleteInstance(ctx, c, inst.GetName()) })
	}
	for _, img := range images {
		one("image "+img.GetName(), func() error { return d.deleteImage(ctx, c, img.GetName()) })
	}
	fw := d.st.firewallName(project)
	switch _, err := c.firewalls.Get(ctx, &computepb.GetFirewallRequest{Project: d.st.Project, Firewall: fw}); {
	case isNotFound(err):
	case err != nil:
		errs = append(errs, fmt.Errorf("get firewall rule %s: %w", fw, explainAuth(err)))
	default:
		one("firewall rule "+fw, func() error {
			err := d.do(ctx, c, "delete firewall rule "+fw, func() (opProto, error) {
				return c.firewalls.Delete(ctx, &computepb.DeleteFirewallRequest{Project: d.st.Project, Firewall: fw})
			})
			if isNotFound(err) {
				return nil
			}
			return err
		})
	}
	it := c.storage.Bucket(d.st.Bucket).Objects(ctx, &storage.Query{Prefix: strings.TrimSuffix(objectName(d.st.family(project)+"-b"), ".tar.gz")})
	for {
		attrs, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("list gs://%s: %w", d.st.Bucket, explainAuth(err)))
			break
		}
		one("gs://"+d.st.Bucket+"/"+attrs.Name, func() error { return d.deleteObject(ctx, c, attrs.Name) })
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("gcp: destroy: %w", err)
	}
	return nil
}

// Console returns the instance's serial port 1 output from offset on,
// and the offset to ask from next. When offset is older than what the
// instance keeps, the output starts later than asked.
func (d *deployer) Console(ctx context.Context, instance string, offset int64) ([]byte, int64, error) {
	c, err := d.connect(ctx)
	if err != nil {
		return nil, offset, err
	}
	out, err := c.instances.GetSerialPortOutput(ctx, &computepb.GetSerialPortOutputInstanceRequest{
		Project: d.st.Project, Zone: d.st.Zone, Instance: instance, Port: proto.Int32(1), Start: proto.Int64(offset),
	})
	if err != nil {
		return nil, offset, fmt.Errorf("gcp: console of %s: %w", instance, explainAuth(err))
	}
	return []byte(out.GetContents()), out.GetNext(), nil
}
