package gcp

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/api/compute/v1"
	"google.golang.org/api/storage/v1"

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
			ID:         strconv.FormatUint(inst.Id, 10),
			Name:       inst.Name,
			Build:      buildOf(inst.Labels),
			State:      inst.Status,
			ExternalIP: externalIP(inst),
			Created:    created(inst.CreationTimestamp),
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
		one("instance "+inst.Name, func() error { return d.deleteInstance(ctx, c, inst.Name) })
	}
	for _, img := range images {
		one("image "+img.Name, func() error { return d.deleteImage(ctx, c, img.Name) })
	}
	fw := d.st.firewallName(project)
	switch _, err := c.compute.Firewalls.Get(d.st.Project, fw).Context(ctx).Do(); {
	case isNotFound(err):
	case err != nil:
		errs = append(errs, fmt.Errorf("get firewall rule %s: %w", fw, explainAuth(err)))
	default:
		one("firewall rule "+fw, func() error {
			err := d.do(ctx, c, "delete firewall rule "+fw, func() (*compute.Operation, error) {
				return c.compute.Firewalls.Delete(d.st.Project, fw).Context(ctx).Do()
			})
			if isNotFound(err) {
				return nil
			}
			return err
		})
	}
	prefix := strings.TrimSuffix(objectName(d.st.family(project)+"-b"), ".tar.gz")
	err = c.storage.Objects.List(d.st.Bucket).Prefix(prefix).Pages(ctx, func(page *storage.Objects) error {
		for _, obj := range page.Items {
			one("gs://"+d.st.Bucket+"/"+obj.Name, func() error { return d.deleteObject(ctx, c, obj.Name) })
		}
		return nil
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("list gs://%s: %w", d.st.Bucket, explainAuth(err)))
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
	out, err := c.compute.Instances.GetSerialPortOutput(d.st.Project, d.st.Zone, instance).Port(1).Start(offset).Context(ctx).Do()
	if err != nil {
		return nil, offset, fmt.Errorf("gcp: console of %s: %w", instance, explainAuth(err))
	}
	return []byte(out.Contents), out.Next, nil
}
