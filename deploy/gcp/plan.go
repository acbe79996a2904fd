package gcp

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/api/compute/v1"

	"github.com/ukdev/ukdev/deploy"
)

// Plan reads what the deploy of r would replace and delete, and says
// what it would make; it changes nothing.
func (d *deployer) Plan(ctx context.Context, r deploy.Request) (deploy.Plan, error) {
	c, err := d.connect(ctx)
	if err != nil {
		return deploy.Plan{}, err
	}
	s, err := d.look(ctx, c, r)
	if err != nil {
		return deploy.Plan{}, fmt.Errorf("gcp: plan: %w", err)
	}
	size := alignUp(r.DiskSize, d.align)
	rows := []deploy.Row{
		{Key: "target", Value: TargetName},
		{Key: "project", Value: d.st.Project},
		{Key: "zone", Value: fmt.Sprintf("%s (region %s)", d.st.Zone, d.st.Region)},
		{Key: "bucket", Value: fmt.Sprintf("gs://%s/%s (the upload, removed once the image is made)", d.st.Bucket, objectName(s.name))},
		{Key: "image", Value: fmt.Sprintf("%s (family %s)", s.name, d.st.family(r.Project))},
		{Key: "disk size", Value: fmt.Sprintf("%s, as a %s image", sizeText(r.DiskSize), sizeText(size))},
		{Key: "instance", Value: s.name},
		{Key: "machine type", Value: d.st.MachineType},
		{Key: "network", Value: d.st.Network},
		{Key: "ports opened", Value: d.planPorts(r, s)},
		{Key: "replaces", Value: planReplaced(s.instances)},
		{Key: "deletes", Value: d.planDeleted(s.images)},
	}
	return deploy.Plan{Target: TargetName, Rows: rows}, nil
}

// planPorts says which ports the deploy opens and with which rule.
func (d *deployer) planPorts(r deploy.Request, s *state) string {
	open := ports(r.Ports)
	if len(open) == 0 {
		return "none (no vm.ports)"
	}
	name := d.st.firewallName(r.Project)
	how := "new"
	switch {
	case s.firewall == nil:
	case sameAllowed(s.firewall, open):
		how = "exists"
	default:
		how = "updated from " + describePorts(ports(portsOf(s.firewall)))
	}
	return fmt.Sprintf("%s to 0.0.0.0/0 (firewall rule %s, %s)", describePorts(open), name, how)
}

// planReplaced says which instances the deploy removes once the new one
// runs.
func planReplaced(instances []*compute.Instance) string {
	if len(instances) == 0 {
		return "nothing (no instance of this deploy runs)"
	}
	var parts []string
	for _, inst := range instances {
		parts = append(parts, fmt.Sprintf("instance %s (%s, build %d)", inst.Name, inst.Status, buildOf(inst.Labels)))
	}
	return strings.Join(parts, ", ") + ", once the new one runs"
}

// planDeleted says which images pruning deletes.
func (d *deployer) planDeleted(images []*compute.Image) string {
	names := pruned(images, d.st.KeepImages)
	if len(names) == 0 {
		return fmt.Sprintf("no image (keep_images = %d)", d.st.KeepImages)
	}
	return fmt.Sprintf("images %s (keep_images = %d)", strings.Join(names, ", "), d.st.KeepImages)
}

// sizeText writes a byte count for people.
func sizeText(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}
