package gcp

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"

	"github.com/ukdev/ukdev/deploy"
)

// Timings of a deploy.
const (
	// statusPoll is the interval between two looks at a new instance's
	// status.
	statusPoll = 2 * time.Second
	// startTimeout bounds the wait for a new instance to run.
	startTimeout = 5 * time.Minute
	// cleanupTimeout bounds the removal of what a failed or cancelled
	// deploy created, which runs after the deploy's context ended.
	cleanupTimeout = 5 * time.Minute
)

// Step names of a deploy and a destroy.
const (
	stepImage    = "create image"
	stepPorts    = "open ports"
	stepInstance = "create instance"
	stepStart    = "start instance"
	stepReplace  = "remove previous instance"
	stepTarball  = "remove tarball"
	stepPrune    = "prune images"
	stepCleanup  = "clean up"
	stepDestroy  = "destroy"
)

// deployer carries out deploys of one [deploy.<name>] with target gcp.
type deployer struct {
	st Settings
	connector
	// align, chunk and poll are imageAlign, uploadChunk and statusPoll,
	// smaller in tests.
	align int64
	chunk int
	poll  time.Duration
}

// newDeployer returns a deployer for st, with no client made yet.
func newDeployer(st Settings) *deployer {
	return &deployer{st: st, connector: connector{st: st}, align: imageAlign, chunk: uploadChunk, poll: statusPoll}
}

// state is what the target holds for a deploy before it starts: the
// deploy's instances and images, and the project's firewall rule (nil
// when absent).
type state struct {
	instances []*compute.Instance
	images    []*compute.Image
	firewall  *compute.Firewall
	// name is the name of the new image and instance.
	name string
}

// look reads the state of the deploy of r. It lists the resources of
// all the project's deploys, whose names the new one must not take, and
// keeps those of r's deploy.
func (d *deployer) look(ctx context.Context, c *clients, r deploy.Request) (*state, error) {
	filter := labelFilter(labelProject, projectLabel(r.Project))
	instances, err := d.listInstances(ctx, c, filter)
	if err != nil {
		return nil, err
	}
	images, err := d.listImages(ctx, c, filter)
	if err != nil {
		return nil, err
	}
	taken := map[string]bool{}
	var s state
	for _, inst := range instances {
		taken[inst.Name] = true
		if ofDeploy(inst.Labels, r) {
			s.instances = append(s.instances, inst)
		}
	}
	for _, img := range images {
		taken[img.Name] = true
		if ofDeploy(img.Labels, r) {
			s.images = append(s.images, img)
		}
	}
	s.name = resourceName(d.st.family(r.Project), r.Build, taken)
	if len(r.Ports) > 0 {
		fw, err := c.compute.Firewalls.Get(d.st.Project, d.st.firewallName(r.Project)).Context(ctx).Do()
		switch {
		case isNotFound(err):
		case err != nil:
			return nil, fmt.Errorf("get firewall: %w", explainAuth(err))
		default:
			s.firewall = fw
		}
	}
	return &s, nil
}

// ofDeploy reports whether a resource's labels are those of r's deploy.
func ofDeploy(labels map[string]string, r deploy.Request) bool {
	return labels[labelProject] == projectLabel(r.Project) && labels[labelDeploy] == projectLabel(r.Name)
}

// listInstances lists the instances of the zone that match filter.
func (d *deployer) listInstances(ctx context.Context, c *clients, filter string) ([]*compute.Instance, error) {
	var list []*compute.Instance
	err := c.compute.Instances.List(d.st.Project, d.st.Zone).Filter(filter).Pages(ctx, func(page *compute.InstanceList) error {
		list = append(list, page.Items...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list instances: %w", explainAuth(err))
	}
	return list, nil
}

// listImages lists the project's images that match filter.
func (d *deployer) listImages(ctx context.Context, c *clients, filter string) ([]*compute.Image, error) {
	var list []*compute.Image
	err := c.compute.Images.List(d.st.Project).Filter(filter).Pages(ctx, func(page *compute.ImageList) error {
		list = append(list, page.Items...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list images: %w", explainAuth(err))
	}
	return list, nil
}

// resources are the resources a deploy made, removed when it fails.
type resources struct {
	object   string
	image    string
	instance string
	// pending is the insert operation of the image or instance while it
	// runs: Compute refuses to delete a resource still being created, so
	// the cleanup waits for it first.
	pending *compute.Operation
}

// Deploy carries out r: upload, image, ports, instance, and once the
// instance runs, the previous instance, the tarball and the old images
// go. A failure or cancel before the instance runs removes what was made
// and leaves the previous instance running.
func (d *deployer) Deploy(ctx context.Context, r deploy.Request, report func(deploy.Step)) (deploy.Result, error) {
	start := time.Now()
	c, err := d.connect(ctx)
	if err != nil {
		return deploy.Result{}, err
	}
	s, err := d.look(ctx, c, r)
	if err != nil {
		return deploy.Result{}, fmt.Errorf("gcp: deploy: %w", err)
	}
	var made resources
	inst, err := d.create(ctx, c, r, s, &made, report)
	if err != nil {
		d.cleanup(c, made, report)
		return deploy.Result{}, fmt.Errorf("gcp: deploy: %w", err)
	}
	// The new instance runs: from here on a failure is reported, not
	// undone, and the deploy goes on.
	warn := func(step string, err error) {
		report(deploy.Step{Name: step, Finished: true, Message: "failed: " + explainAuth(err).Error()})
	}
	for _, old := range s.instances {
		report(deploy.Step{Name: stepReplace, Message: old.Name})
		if err := d.deleteInstance(ctx, c, old.Name); err != nil {
			warn(stepReplace, fmt.Errorf("instance %s: %w", old.Name, err))
		} else {
			report(deploy.Step{Name: stepReplace, Message: old.Name, Finished: true})
		}
	}
	report(deploy.Step{Name: stepTarball})
	if err := d.deleteObject(ctx, c, made.object); err != nil {
		warn(stepTarball, err)
	} else {
		report(deploy.Step{Name: stepTarball, Finished: true})
	}
	report(deploy.Step{Name: stepPrune})
	if err := d.prune(ctx, c, r, made.image); err != nil {
		warn(stepPrune, err)
	} else {
		report(deploy.Step{Name: stepPrune, Finished: true})
	}
	res := deploy.Result{Instance: inst.Name, ExternalIP: externalIP(inst), Elapsed: time.Since(start)}
	if res.ExternalIP != "" {
		open := ports(r.Ports)
		for _, p := range open["tcp"] {
			res.URLs = append(res.URLs, fmt.Sprintf("http://%s:%s", res.ExternalIP, p))
		}
		for _, p := range open["udp"] {
			res.URLs = append(res.URLs, fmt.Sprintf("udp://%s:%s", res.ExternalIP, p))
		}
	}
	return res, nil
}

// create makes the tarball, the image and the instance, and waits for the
// instance to run, recording in made what exists.
func (d *deployer) create(ctx context.Context, c *clients, r deploy.Request, s *state, made *resources, report func(deploy.Step)) (*compute.Instance, error) {
	labels := d.labels(r)
	desc := fmt.Sprintf("ukdev deploy %s of project %s, build %d (%s)", r.Name, r.Project, r.Build, r.Flavor)

	report(deploy.Step{Name: stepUpload, Total: alignUp(r.DiskSize, d.align)})
	made.object = objectName(s.name)
	if err := upload(ctx, c.storage, d.st.Bucket, made.object, r.Disk, d.align, d.chunk, report); err != nil {
		return nil, fmt.Errorf("upload gs://%s/%s: %w", d.st.Bucket, made.object, explainAuth(err))
	}

	report(deploy.Step{Name: stepImage, Message: s.name})
	img := d.imageSpec(s.name, r.Project, made.object, desc, labels)
	if err := d.doTracked(ctx, c, "create image "+s.name, made, func() { made.image = s.name }, func() (*compute.Operation, error) {
		return c.compute.Images.Insert(d.st.Project, img).Context(ctx).Do()
	}); err != nil {
		return nil, err
	}
	report(deploy.Step{Name: stepImage, Message: s.name, Finished: true})

	var tags []string
	if open := ports(r.Ports); len(open) > 0 {
		report(deploy.Step{Name: stepPorts})
		name := d.st.firewallName(r.Project)
		tags = append(tags, name)
		if err := d.openPorts(ctx, c, s.firewall, d.firewallRule(name, open)); err != nil {
			return nil, err
		}
		report(deploy.Step{Name: stepPorts, Message: describePorts(open), Finished: true})
	}
	for _, t := range d.st.Tags {
		if !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}

	report(deploy.Step{Name: stepInstance, Message: s.name})
	inst := d.instanceSpec(s.name, desc, labels, tags)
	if err := d.doTracked(ctx, c, "create instance "+s.name, made, func() { made.instance = s.name }, func() (*compute.Operation, error) {
		return c.compute.Instances.Insert(d.st.Project, d.st.Zone, inst).Context(ctx).Do()
	}); err != nil {
		return nil, err
	}
	report(deploy.Step{Name: stepInstance, Message: s.name, Finished: true})

	report(deploy.Step{Name: stepStart, Message: s.name})
	wctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	running, err := c.pollStatus(wctx, d.st.Project, d.st.Zone, s.name, d.poll)
	if err != nil {
		return nil, fmt.Errorf("start instance: %w", err)
	}
	report(deploy.Step{Name: stepStart, Message: s.name, Finished: true})
	return running, nil
}

// labels are the labels of the image and instance of r: the user's and
// ukdev's own.
func (d *deployer) labels(r deploy.Request) map[string]string {
	labels := map[string]string{}
	maps.Copy(labels, d.st.Labels)
	labels[labelProject] = projectLabel(r.Project)
	labels[labelDeploy] = projectLabel(r.Name)
	labels[labelBuild] = strconv.Itoa(r.Build)
	return labels
}

// imageSpec is the image made from the tarball object.
func (d *deployer) imageSpec(name, project, object, desc string, labels map[string]string) *compute.Image {
	return &compute.Image{
		Name:        name,
		Family:      d.st.family(project),
		Description: desc,
		Labels:      labels,
		// Every flavor's disk boots by BIOS from its MBR, and only the boot
		// loader or the unikernel reads it: no guest OS feature is needed,
		// and UEFI_COMPATIBLE would make it boot by UEFI, which fails.
		Architecture: "X86_64",
		RawDisk:      &compute.ImageRawDisk{Source: fmt.Sprintf("https://storage.googleapis.com/%s/%s", d.st.Bucket, object)},
	}
}

// instanceSpec is the instance booted from the image of the same name,
// with its serial port enabled, an external address, the network tags
// and no service account.
func (d *deployer) instanceSpec(name, desc string, labels map[string]string, tags []string) *compute.Instance {
	inst := &compute.Instance{
		Name:        name,
		Description: desc,
		MachineType: fmt.Sprintf("zones/%s/machineTypes/%s", d.st.Zone, d.st.MachineType),
		Labels:      labels,
		Metadata: &compute.Metadata{Items: []*compute.MetadataItems{
			{Key: "serial-port-enable", Value: googleapi.String("TRUE")},
		}},
		Disks: []*compute.AttachedDisk{{
			Boot:             true,
			AutoDelete:       true,
			Type:             "PERSISTENT",
			InitializeParams: &compute.AttachedDiskInitializeParams{SourceImage: "global/images/" + name, Labels: labels},
		}},
		NetworkInterfaces: []*compute.NetworkInterface{{
			Network:       "global/networks/" + d.st.Network,
			AccessConfigs: []*compute.AccessConfig{{Name: "External NAT", Type: "ONE_TO_ONE_NAT"}},
		}},
	}
	if len(tags) > 0 {
		inst.Tags = &compute.Tags{Items: tags}
	}
	return inst
}

// do runs call, which starts a Compute operation, and waits for it.
func (d *deployer) do(ctx context.Context, c *clients, what string, call func() (*compute.Operation, error)) error {
	op, err := call()
	if err != nil {
		return fmt.Errorf("%s: %w", what, explainAuth(err))
	}
	if err := c.wait(ctx, d.st.Project, op); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// doTracked is do for an insert that the cleanup may have to undo. Once
// the insert is accepted it calls accepted, which records the resource in
// made (an insert that was refused made nothing, and a resource of that
// name is not this deploy's to remove), and the operation stays in
// made.pending until it is done.
func (d *deployer) doTracked(ctx context.Context, c *clients, what string, made *resources, accepted func(), call func() (*compute.Operation, error)) error {
	op, err := call()
	if err != nil {
		return fmt.Errorf("%s: %w", what, explainAuth(err))
	}
	accepted()
	made.pending = op
	if err := c.wait(ctx, d.st.Project, made.pending); err != nil {
		var oe *OperationError
		if errors.As(err, &oe) {
			// Done, and failed: nothing is left to wait for.
			made.pending = nil
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	made.pending = nil
	return nil
}

// deleteInstance deletes an instance and waits until it is gone; one
// already gone is not an error.
func (d *deployer) deleteInstance(ctx context.Context, c *clients, name string) error {
	err := d.do(ctx, c, "delete instance "+name, func() (*compute.Operation, error) {
		return c.compute.Instances.Delete(d.st.Project, d.st.Zone, name).Context(ctx).Do()
	})
	if isNotFound(err) {
		return nil
	}
	return err
}

// deleteImage deletes an image; one already gone is not an error.
func (d *deployer) deleteImage(ctx context.Context, c *clients, name string) error {
	err := d.do(ctx, c, "delete image "+name, func() (*compute.Operation, error) {
		return c.compute.Images.Delete(d.st.Project, name).Context(ctx).Do()
	})
	if isNotFound(err) {
		return nil
	}
	return err
}

// deleteObject deletes an object of the bucket; one already gone (or
// never made) is not an error.
func (d *deployer) deleteObject(ctx context.Context, c *clients, name string) error {
	err := c.storage.Objects.Delete(d.st.Bucket, name).Context(ctx).Do()
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("delete gs://%s/%s: %w", d.st.Bucket, name, explainAuth(err))
	}
	return nil
}

// prune deletes the deploy's images beyond keep_images, never keep, the
// image just made.
func (d *deployer) prune(ctx context.Context, c *clients, r deploy.Request, keep string) error {
	images, err := d.listImages(ctx, c, labelFilter(labelProject, projectLabel(r.Project)))
	if err != nil {
		return err
	}
	images = slices.DeleteFunc(images, func(img *compute.Image) bool {
		return img.Name == keep || !ofDeploy(img.Labels, r)
	})
	var errs []error
	for _, name := range pruned(images, d.st.KeepImages) {
		errs = append(errs, d.deleteImage(ctx, c, name))
	}
	return errors.Join(errs...)
}

// cleanup removes what a failed deploy made, newest first, under a
// context of its own: the deploy's may be cancelled. What it cannot
// remove it reports.
func (d *deployer) cleanup(c *clients, made resources, report func(deploy.Step)) {
	if made == (resources{}) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	report(deploy.Step{Name: stepCleanup})
	var errs []error
	if made.pending != nil {
		// Its outcome does not matter, only that it is over.
		_ = c.wait(ctx, d.st.Project, made.pending)
	}
	if made.instance != "" {
		errs = append(errs, d.deleteInstance(ctx, c, made.instance))
	}
	if made.image != "" {
		errs = append(errs, d.deleteImage(ctx, c, made.image))
	}
	if made.object != "" {
		errs = append(errs, d.deleteObject(ctx, c, made.object))
	}
	if err := errors.Join(errs...); err != nil {
		report(deploy.Step{Name: stepCleanup, Finished: true, Message: "could not remove everything (ukdev deploy destroy retries): " + err.Error()})
		return
	}
	report(deploy.Step{Name: stepCleanup, Finished: true})
}

// externalIP returns the instance's public address, "" when it has none.
func externalIP(inst *compute.Instance) string {
	for _, ni := range inst.NetworkInterfaces {
		for _, ac := range ni.AccessConfigs {
			if ip := ac.NatIP; ip != "" {
				return ip
			}
		}
	}
	return ""
}

// Interface checks.
var (
	_ deploy.Target        = Target{}
	_ deploy.Deployer      = (*deployer)(nil)
	_ deploy.ConsoleReader = (*deployer)(nil)
)
