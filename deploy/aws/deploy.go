package aws

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	awsv2 "github.com/aws/aws-sdk-go-v2/aws"
	ebstypes "github.com/aws/aws-sdk-go-v2/service/ebs/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ukdev/ukdev/deploy"
	"github.com/ukdev/ukdev/project"
)

// rootDevice is the device name of the image's root volume.
const rootDevice = "/dev/xvda"

// cleanupTimeout bounds the removal of what a failed deploy created, which
// runs after its context may have been cancelled.
const cleanupTimeout = 2 * time.Minute

// Step names of a deploy, besides stepUpload.
const (
	stepSnapshot  = "wait for snapshot"
	stepImage     = "register image"
	stepGroup     = "security group"
	stepInstance  = "start instance"
	stepRunning   = "wait for instance"
	stepReplace   = "terminate previous instance"
	stepPrune     = "prune old images"
	stepCleanup   = "remove what the deploy created"
	stepTerminate = "terminate instances"
	stepImages    = "delete images and snapshots"
	stepGroups    = "delete security groups"
)

// prefix is the start of the names of r's images and instances.
func (d *Deployer) prefix(r deploy.Request) string {
	if d.st.NamePrefix != "" {
		return d.st.NamePrefix
	}
	return r.Project + "-" + r.Name
}

// groupName is the name of the security group ukdev creates for the
// deploy name of project: stable, so that every deploy reuses it.
func groupName(project, name string) string {
	return "ukdev-" + project + "-" + name
}

// instanceType is the instance type of the settings.
func (d *Deployer) instanceType() string {
	if d.st.InstanceType != "" {
		return d.st.InstanceType
	}
	if d.st.ENA {
		return DefaultENAInstanceType
	}
	return DefaultInstanceType
}

// keepImages is the number of images kept.
func (d *Deployer) keepImages() int {
	if d.st.KeepImages > 0 {
		return d.st.KeepImages
	}
	return DefaultKeepImages
}

// ec2Tags are the tags of a resource of r; with build, also its build
// and, when name is given, its Name.
func ec2Tags(r deploy.Request, name string, build bool) []types.Tag {
	tags := []types.Tag{
		{Key: awsv2.String(TagProject), Value: awsv2.String(r.Project)},
		{Key: awsv2.String(TagDeploy), Value: awsv2.String(r.Name)},
	}
	if build {
		tags = append(tags, types.Tag{Key: awsv2.String(TagBuild), Value: awsv2.String(strconv.Itoa(r.Build))})
	}
	if name != "" {
		tags = append(tags, types.Tag{Key: awsv2.String("Name"), Value: awsv2.String(name)})
	}
	return tags
}

// tagFilters select the resources of project, and of deploy name unless
// it is empty.
func tagFilters(project, name string) []types.Filter {
	f := []types.Filter{{Name: awsv2.String("tag:" + TagProject), Values: []string{project}}}
	if name != "" {
		f = append(f, types.Filter{Name: awsv2.String("tag:" + TagDeploy), Values: []string{name}})
	}
	return f
}

// tag returns the value of key among tags.
func tag(tags []types.Tag, key string) string {
	for _, t := range tags {
		if awsv2.ToString(t.Key) == key {
			return awsv2.ToString(t.Value)
		}
	}
	return ""
}

// liveStates are the instance states of an instance that is still there.
var liveStates = []string{"pending", "running", "stopping", "stopped"}

// instances returns the live instances of project (and deploy name,
// unless empty), oldest first.
func (d *Deployer) instances(ctx context.Context, c *clients, project, name string, states []string) ([]types.Instance, error) {
	filters := tagFilters(project, name)
	if states != nil {
		filters = append(filters, types.Filter{Name: awsv2.String("instance-state-name"), Values: states})
	}
	var list []types.Instance
	p := ec2.NewDescribeInstancesPaginator(c.ec2, &ec2.DescribeInstancesInput{Filters: filters})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, d.wrap("describe instances", err)
		}
		for _, res := range out.Reservations {
			list = append(list, res.Instances...)
		}
	}
	slices.SortStableFunc(list, func(a, b types.Instance) int {
		return awsv2.ToTime(a.LaunchTime).Compare(awsv2.ToTime(b.LaunchTime))
	})
	return list, nil
}

// images returns the images ukdev registered for project (and deploy
// name, unless empty), newest first.
func (d *Deployer) images(ctx context.Context, c *clients, project, name string) ([]types.Image, error) {
	var list []types.Image
	p := ec2.NewDescribeImagesPaginator(c.ec2, &ec2.DescribeImagesInput{Owners: []string{"self"}, Filters: tagFilters(project, name)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, d.wrap("describe images", err)
		}
		list = append(list, out.Images...)
	}
	slices.SortStableFunc(list, func(a, b types.Image) int {
		// CreationDate is ISO 8601 in UTC: its order is the time's.
		return cmp.Or(cmp.Compare(awsv2.ToString(b.CreationDate), awsv2.ToString(a.CreationDate)),
			cmp.Compare(awsv2.ToString(b.Name), awsv2.ToString(a.Name)))
	})
	return list, nil
}

// imageName returns the name of r's image: "<prefix>-b<build>", or with
// "-2", "-3"... when a build is deployed again while its image is kept
// (image names are unique in a region).
func (d *Deployer) imageName(ctx context.Context, c *clients, r deploy.Request) (string, error) {
	base := fmt.Sprintf("%s-b%d", d.prefix(r), r.Build)
	out, err := c.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{
		Owners:  []string{"self"},
		Filters: []types.Filter{{Name: awsv2.String("name"), Values: []string{base, base + "-*"}}},
	})
	if err != nil {
		return "", d.wrap("describe images", err)
	}
	taken := map[string]bool{}
	for _, im := range out.Images {
		taken[awsv2.ToString(im.Name)] = true
	}
	name := base
	for i := 2; taken[name]; i++ {
		name = fmt.Sprintf("%s-%d", base, i)
	}
	return name, nil
}

// group is the security group of a deploy: ID empty when it is still to
// be created; Missing are the ingress rules it lacks.
type group struct {
	ID, Name, VPC string
	Missing       []types.IpPermission
}

// findGroup looks up the security group of r, and says which of r's
// ports it does not open yet.
func (d *Deployer) findGroup(ctx context.Context, c *clients, r deploy.Request) (group, error) {
	g := group{Name: groupName(r.Project, r.Name)}
	if d.st.Subnet != "" {
		out, err := c.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{d.st.Subnet}})
		if err != nil {
			return g, d.wrap("describe subnets", err)
		}
		if len(out.Subnets) == 0 {
			return g, fmt.Errorf("aws: subnet %s not found in the region", d.st.Subnet)
		}
		g.VPC = awsv2.ToString(out.Subnets[0].VpcId)
	}
	filters := append(tagFilters(r.Project, r.Name), types.Filter{Name: awsv2.String("group-name"), Values: []string{g.Name}})
	if g.VPC != "" {
		filters = append(filters, types.Filter{Name: awsv2.String("vpc-id"), Values: []string{g.VPC}})
	}
	out, err := c.ec2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: filters})
	if err != nil {
		return g, d.wrap("describe security groups", err)
	}
	var have []types.IpPermission
	if len(out.SecurityGroups) > 0 {
		sg := out.SecurityGroups[0]
		g.ID = awsv2.ToString(sg.GroupId)
		have = sg.IpPermissions
	}
	g.Missing = missingRules(have, r.Ports)
	return g, nil
}

// missingRules returns the ingress rules, open to everyone, of the guest
// ports of ports that have does not hold yet.
func missingRules(have []types.IpPermission, ports []project.Port) []types.IpPermission {
	open := func(proto string, port int32) bool {
		for _, p := range have {
			if awsv2.ToString(p.IpProtocol) != proto || awsv2.ToInt32(p.FromPort) > port || awsv2.ToInt32(p.ToPort) < port {
				continue
			}
			for _, r := range p.IpRanges {
				if awsv2.ToString(r.CidrIp) == "0.0.0.0/0" {
					return true
				}
			}
		}
		return false
	}
	var missing []types.IpPermission
	seen := map[string]bool{}
	for _, p := range ports {
		key := fmt.Sprintf("%s/%d", p.Proto, p.GuestPort)
		if seen[key] || open(p.Proto, int32(p.GuestPort)) {
			continue
		}
		seen[key] = true
		missing = append(missing, types.IpPermission{
			IpProtocol: awsv2.String(p.Proto),
			FromPort:   awsv2.Int32(int32(p.GuestPort)),
			ToPort:     awsv2.Int32(int32(p.GuestPort)),
			IpRanges:   []types.IpRange{{CidrIp: awsv2.String("0.0.0.0/0"), Description: awsv2.String("ukdev: " + key)}},
		})
	}
	return missing
}

// portList shows the guest ports opened to the outside.
func portList(ports []project.Port) string {
	var s []string
	for _, p := range ports {
		if x := fmt.Sprintf("%s/%d", p.Proto, p.GuestPort); !slices.Contains(s, x) {
			s = append(s, x)
		}
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// size shows a byte count.
func size(n int64) string {
	switch {
	case n >= gib:
		return fmt.Sprintf("%.1f GiB", float64(n)/gib)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KiB", (n+1023)/1024)
}

// describeInstance shows an instance as "i-0abc (hello-aws-b11)".
func describeInstance(in types.Instance) string {
	s := awsv2.ToString(in.InstanceId)
	if n := tag(in.Tags, "Name"); n != "" {
		s += " (" + n + ")"
	}
	return s
}

// describeImage shows an image as "ami-0abc (hello-aws-b9)".
func describeImage(im types.Image) string {
	return awsv2.ToString(im.ImageId) + " (" + awsv2.ToString(im.Name) + ")"
}

// pruned returns the images of images (newest first) that a deploy
// adding one more image removes.
func (d *Deployer) pruned(images []types.Image) []types.Image {
	keep := d.keepImages() - 1
	if len(images) <= keep {
		return nil
	}
	return images[keep:]
}

// list joins the descriptions of xs, "nothing" when there are none.
func list[T any](xs []T, describe func(T) string) string {
	if len(xs) == 0 {
		return "nothing"
	}
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = describe(x)
	}
	return strings.Join(s, ", ")
}

// Plan implements deploy.Deployer: it reads the instances, images and
// security group of r's deploy, and changes nothing.
func (d *Deployer) Plan(ctx context.Context, r deploy.Request) (deploy.Plan, error) {
	c, err := d.clients(ctx)
	if err != nil {
		return deploy.Plan{}, err
	}
	account, err := d.account(ctx, c)
	if err != nil {
		return deploy.Plan{}, err
	}
	name, err := d.imageName(ctx, c, r)
	if err != nil {
		return deploy.Plan{}, err
	}
	prev, err := d.instances(ctx, c, r.Project, r.Name, liveStates)
	if err != nil {
		return deploy.Plan{}, err
	}
	images, err := d.images(ctx, c, r.Project, r.Name)
	if err != nil {
		return deploy.Plan{}, err
	}
	g, err := d.findGroup(ctx, c, r)
	if err != nil {
		return deploy.Plan{}, err
	}
	profile := d.st.Profile
	if profile == "" {
		profile = "the SDK's default chain"
	}
	subnet := d.st.Subnet
	if subnet == "" {
		subnet = "the default VPC's"
	}
	sg := g.Name + " (new)"
	if g.ID != "" {
		sg = g.ID + " " + g.Name + " (reused"
		if len(g.Missing) > 0 {
			sg += ", adding " + list(g.Missing, func(p types.IpPermission) string {
				return fmt.Sprintf("%s/%d", awsv2.ToString(p.IpProtocol), awsv2.ToInt32(p.FromPort))
			})
		}
		sg += ")"
	}
	if len(d.st.SecurityGroups) > 0 {
		sg += ", " + strings.Join(d.st.SecurityGroups, ", ")
	}
	ena := "no"
	if d.st.ENA {
		ena = "yes"
	}
	return deploy.Plan{Target: Name, Rows: []deploy.Row{
		{Key: "target", Value: Name},
		{Key: "account", Value: account},
		{Key: "profile", Value: profile},
		{Key: "region", Value: c.cfg.Region},
		{Key: "image", Value: name},
		{Key: "disk", Value: fmt.Sprintf("%s, as a %d GiB snapshot", size(r.DiskSize), volumeGiB(r.DiskSize))},
		{Key: "ena", Value: ena},
		{Key: "instance", Value: name},
		{Key: "instance type", Value: d.instanceType()},
		{Key: "subnet", Value: subnet},
		{Key: "ports", Value: portList(r.Ports)},
		{Key: "security group", Value: sg},
		{Key: "replaces", Value: list(prev, describeInstance)},
		{Key: "deletes", Value: pruneList(d.pruned(images))},
	}}, nil
}

// pruneList shows the images a deploy prunes.
func pruneList(images []types.Image) string {
	s := list(images, describeImage)
	switch {
	case len(images) == 1:
		s = "image " + s + " and its snapshot"
	case len(images) > 1:
		s = "images " + s + " and their snapshots"
	}
	return s
}

// created is what a deploy made so far, to remove it when it fails.
type created struct {
	snapshot, image, instance string
}

// Deploy implements deploy.Deployer.
func (d *Deployer) Deploy(ctx context.Context, r deploy.Request, report func(deploy.Step)) (deploy.Result, error) {
	start := d.now()
	c, err := d.clients(ctx)
	if err != nil {
		return deploy.Result{}, err
	}
	var made created
	in, err := d.launch(ctx, c, r, &made, report)
	if err != nil {
		if cerr := d.cleanup(ctx, c, made, report); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return deploy.Result{}, err
	}
	ip := awsv2.ToString(in.PublicIpAddress)
	res := deploy.Result{Instance: made.instance, ExternalIP: ip, URLs: urls(ip, r.Ports)}
	if err := d.replace(ctx, c, r, made.instance, report); err != nil {
		return deploy.Result{}, err
	}
	d.prune(ctx, c, r, made.image, report)
	res.Elapsed = d.now().Sub(start)
	return res, nil
}

// launch carries out r up to its instance running, and returns it; made
// records each thing as soon as it exists.
func (d *Deployer) launch(ctx context.Context, c *clients, r deploy.Request, made *created, report func(deploy.Step)) (types.Instance, error) {
	var none types.Instance
	name, err := d.imageName(ctx, c, r)
	if err != nil {
		return none, err
	}
	var snapTags []ebstypes.Tag
	for _, t := range ec2Tags(r, name, true) {
		snapTags = append(snapTags, ebstypes.Tag{Key: t.Key, Value: t.Value})
	}
	report(deploy.Step{Name: stepUpload, Total: r.DiskSize})
	if _, err := d.upload(ctx, c.ebs, r.Disk, r.DiskSize, snapTags, func(id string) { made.snapshot = id }, report); err != nil {
		return none, err
	}
	if err := d.waitSnapshot(ctx, c, made.snapshot, report); err != nil {
		return none, err
	}

	report(deploy.Step{Name: stepImage, Message: name})
	img, err := c.ec2.RegisterImage(ctx, &ec2.RegisterImageInput{
		Name:               awsv2.String(name),
		Description:        awsv2.String(fmt.Sprintf("ukdev: %s, deploy %s, build %d (%s)", r.Project, r.Name, r.Build, r.Flavor)),
		Architecture:       types.ArchitectureValuesX8664,
		VirtualizationType: awsv2.String("hvm"),
		BootMode:           types.BootModeValuesLegacyBios,
		EnaSupport:         awsv2.Bool(d.st.ENA),
		RootDeviceName:     awsv2.String(rootDevice),
		BlockDeviceMappings: []types.BlockDeviceMapping{{
			DeviceName: awsv2.String(rootDevice),
			Ebs: &types.EbsBlockDevice{
				SnapshotId:          awsv2.String(made.snapshot),
				VolumeSize:          awsv2.Int32(int32(volumeGiB(r.DiskSize))),
				VolumeType:          types.VolumeTypeGp3,
				DeleteOnTermination: awsv2.Bool(true),
			},
		}},
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeImage, Tags: ec2Tags(r, name, true)}},
	})
	if err != nil {
		return none, d.wrap("register image", err)
	}
	made.image = awsv2.ToString(img.ImageId)
	report(deploy.Step{Name: stepImage, Message: made.image, Finished: true})

	report(deploy.Step{Name: stepGroup})
	g, err := d.ensureGroup(ctx, c, r)
	if err != nil {
		return none, err
	}
	report(deploy.Step{Name: stepGroup, Message: g, Finished: true})

	report(deploy.Step{Name: stepInstance, Message: name})
	in := &ec2.RunInstancesInput{
		ImageId:      awsv2.String(made.image),
		InstanceType: types.InstanceType(d.instanceType()),
		MinCount:     awsv2.Int32(1),
		MaxCount:     awsv2.Int32(1),
		ClientToken:  awsv2.String(fmt.Sprintf("%s-%d", made.image, d.now().UnixNano())),
		TagSpecifications: []types.TagSpecification{
			{ResourceType: types.ResourceTypeInstance, Tags: ec2Tags(r, name, true)},
			{ResourceType: types.ResourceTypeVolume, Tags: ec2Tags(r, name, true)},
		},
	}
	groups := append([]string{g}, d.st.SecurityGroups...)
	if d.st.Subnet != "" {
		in.NetworkInterfaces = []types.InstanceNetworkInterfaceSpecification{{
			DeviceIndex:              awsv2.Int32(0),
			SubnetId:                 awsv2.String(d.st.Subnet),
			Groups:                   groups,
			AssociatePublicIpAddress: awsv2.Bool(d.st.PublicIP),
			DeleteOnTermination:      awsv2.Bool(true),
		}}
	} else {
		in.SecurityGroupIds = groups
	}
	run, err := c.ec2.RunInstances(ctx, in)
	if err != nil {
		return none, d.wrap("run instances", err)
	}
	if len(run.Instances) == 0 {
		return none, errors.New("aws: run instances: no instance in the answer")
	}
	made.instance = awsv2.ToString(run.Instances[0].InstanceId)
	report(deploy.Step{Name: stepInstance, Message: made.instance, Finished: true})
	return d.waitRunning(ctx, c, made.instance, report)
}

// waitSnapshot waits for EBS to finish snapshot id.
func (d *Deployer) waitSnapshot(ctx context.Context, c *clients, id string, report func(deploy.Step)) error {
	report(deploy.Step{Name: stepSnapshot, Message: id})
	for {
		out, err := c.ec2.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{id}})
		if err != nil {
			return d.wrap("describe snapshots", err)
		}
		if len(out.Snapshots) == 0 {
			return fmt.Errorf("aws: snapshot %s: not found", id)
		}
		s := out.Snapshots[0]
		switch s.State {
		case types.SnapshotStateCompleted:
			report(deploy.Step{Name: stepSnapshot, Message: id, Finished: true})
			return nil
		case types.SnapshotStateError:
			return fmt.Errorf("aws: snapshot %s failed: %s", id, awsv2.ToString(s.StateMessage))
		}
		report(deploy.Step{Name: stepSnapshot, Message: id + " " + awsv2.ToString(s.Progress)})
		if err := d.sleep(ctx); err != nil {
			return fmt.Errorf("aws: wait for snapshot %s: %w", id, err)
		}
	}
}

// waitRunning waits for instance id to run, and returns it.
func (d *Deployer) waitRunning(ctx context.Context, c *clients, id string, report func(deploy.Step)) (types.Instance, error) {
	report(deploy.Step{Name: stepRunning, Message: id})
	for {
		out, err := c.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
		if err != nil {
			return types.Instance{}, d.wrap("describe instances", err)
		}
		for _, res := range out.Reservations {
			for _, in := range res.Instances {
				if awsv2.ToString(in.InstanceId) != id || in.State == nil {
					continue
				}
				switch in.State.Name {
				case types.InstanceStateNameRunning:
					report(deploy.Step{Name: stepRunning, Message: id, Finished: true})
					return in, nil
				case types.InstanceStateNamePending:
				default:
					why := ""
					if in.StateReason != nil {
						why = ": " + awsv2.ToString(in.StateReason.Message)
					}
					return types.Instance{}, fmt.Errorf("aws: instance %s is %s%s", id, in.State.Name, why)
				}
			}
		}
		if err := d.sleep(ctx); err != nil {
			return types.Instance{}, fmt.Errorf("aws: wait for instance %s: %w", id, err)
		}
	}
}

// sleep waits for the poll interval or ctx.
func (d *Deployer) sleep(ctx context.Context) error {
	t := time.NewTimer(d.poll)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ensureGroup returns the id of r's security group, creating it the first
// time and adding the rules of ports it does not open yet.
func (d *Deployer) ensureGroup(ctx context.Context, c *clients, r deploy.Request) (string, error) {
	g, err := d.findGroup(ctx, c, r)
	if err != nil {
		return "", err
	}
	if g.ID == "" {
		in := &ec2.CreateSecurityGroupInput{
			GroupName:         awsv2.String(g.Name),
			Description:       awsv2.String(fmt.Sprintf("ukdev: the ports of %s, deploy %s", r.Project, r.Name)),
			TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSecurityGroup, Tags: ec2Tags(r, g.Name, false)}},
		}
		if g.VPC != "" {
			in.VpcId = awsv2.String(g.VPC)
		}
		out, err := c.ec2.CreateSecurityGroup(ctx, in)
		if err != nil {
			return "", d.wrap("create security group", err)
		}
		g.ID = awsv2.ToString(out.GroupId)
	}
	if len(g.Missing) > 0 {
		if _, err := c.ec2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
			GroupId:       awsv2.String(g.ID),
			IpPermissions: g.Missing,
		}); err != nil {
			return "", d.wrap("authorize security group ingress", err)
		}
	}
	return g.ID, nil
}

// replace terminates the project's instances of r's deploy name but the
// new one: it runs only once the new instance does.
func (d *Deployer) replace(ctx context.Context, c *clients, r deploy.Request, keep string, report func(deploy.Step)) error {
	prev, err := d.instances(ctx, c, r.Project, r.Name, liveStates)
	if err != nil {
		return fmt.Errorf("%w (the new instance %s runs)", err, keep)
	}
	var ids []string
	for _, in := range prev {
		if id := awsv2.ToString(in.InstanceId); id != keep {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	report(deploy.Step{Name: stepReplace, Message: strings.Join(ids, " ")})
	if _, err := c.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids}); err != nil {
		return fmt.Errorf("%w (the new instance %s runs beside the previous ones)", d.wrap("terminate instances", err), keep)
	}
	report(deploy.Step{Name: stepReplace, Message: strings.Join(ids, " "), Finished: true})
	return nil
}

// prune removes r's images beyond keep_images, newest kept, and never
// keepImage; a failure is reported, not returned, as the deploy is done.
func (d *Deployer) prune(ctx context.Context, c *clients, r deploy.Request, keepImage string, report func(deploy.Step)) {
	images, err := d.images(ctx, c, r.Project, r.Name)
	if err != nil {
		report(deploy.Step{Name: stepPrune, Message: err.Error(), Finished: true})
		return
	}
	images = slices.DeleteFunc(images, func(im types.Image) bool { return awsv2.ToString(im.ImageId) == keepImage })
	old := d.pruned(images)
	if len(old) == 0 {
		return
	}
	report(deploy.Step{Name: stepPrune, Message: list(old, describeImage)})
	msg := ""
	if err := d.deleteImages(ctx, c, old); err != nil {
		msg = err.Error()
	}
	report(deploy.Step{Name: stepPrune, Message: msg, Finished: true})
}

// deleteImages deregisters images and deletes their snapshots.
func (d *Deployer) deleteImages(ctx context.Context, c *clients, images []types.Image) error {
	var errs []error
	for _, im := range images {
		id := awsv2.ToString(im.ImageId)
		if _, err := c.ec2.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: awsv2.String(id)}); err != nil {
			errs = append(errs, d.wrap("deregister image "+id, err))
			continue
		}
		for _, m := range im.BlockDeviceMappings {
			if m.Ebs == nil || m.Ebs.SnapshotId == nil {
				continue
			}
			if err := d.deleteSnapshot(ctx, c, awsv2.ToString(m.Ebs.SnapshotId)); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// deleteSnapshot deletes snapshot id.
func (d *Deployer) deleteSnapshot(ctx context.Context, c *clients, id string) error {
	if _, err := c.ec2.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: awsv2.String(id)}); err != nil {
		return d.wrap("delete snapshot "+id, err)
	}
	return nil
}

// cleanup removes what a failed deploy made, newest first, even when ctx
// is cancelled.
func (d *Deployer) cleanup(ctx context.Context, c *clients, made created, report func(deploy.Step)) error {
	if made == (created{}) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	report(deploy.Step{Name: stepCleanup})
	var errs []error
	if made.instance != "" {
		if _, err := c.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{made.instance}}); err != nil {
			errs = append(errs, d.wrap("terminate instance "+made.instance, err))
		}
	}
	if made.image != "" {
		if _, err := c.ec2.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: awsv2.String(made.image)}); err != nil {
			errs = append(errs, d.wrap("deregister image "+made.image, err))
		}
	}
	if made.snapshot != "" {
		if err := d.deleteSnapshot(ctx, c, made.snapshot); err != nil {
			errs = append(errs, err)
		}
	}
	report(deploy.Step{Name: stepCleanup, Finished: true})
	return errors.Join(errs...)
}

// urls returns how the outside reaches ports at ip.
func urls(ip string, ports []project.Port) []string {
	if ip == "" {
		return nil
	}
	var list []string
	for _, p := range ports {
		var u string
		switch {
		case p.Proto == "udp":
			u = fmt.Sprintf("udp://%s:%d", ip, p.GuestPort)
		case p.GuestPort == 443:
			u = "https://" + ip
		case p.GuestPort == 80:
			u = "http://" + ip
		default:
			u = fmt.Sprintf("http://%s:%d", ip, p.GuestPort)
		}
		if !slices.Contains(list, u) {
			list = append(list, u)
		}
	}
	return list
}

// List implements deploy.Deployer: the project's instances that are not
// terminated, in every deploy name, oldest first.
func (d *Deployer) List(ctx context.Context, project string) ([]deploy.Instance, error) {
	c, err := d.clients(ctx)
	if err != nil {
		return nil, err
	}
	ins, err := d.instances(ctx, c, project, "", append(slices.Clone(liveStates), "shutting-down"))
	if err != nil {
		return nil, err
	}
	var list []deploy.Instance
	for _, in := range ins {
		build, _ := strconv.Atoi(tag(in.Tags, TagBuild))
		var state string
		if in.State != nil {
			state = string(in.State.Name)
		}
		list = append(list, deploy.Instance{
			ID:         awsv2.ToString(in.InstanceId),
			Name:       tag(in.Tags, "Name"),
			Build:      build,
			State:      state,
			ExternalIP: awsv2.ToString(in.PublicIpAddress),
			Created:    awsv2.ToTime(in.LaunchTime),
		})
	}
	return list, nil
}

// Destroy implements deploy.Deployer: it terminates the project's
// instances and waits for them to be gone (a security group in use cannot
// be deleted), deregisters its images, deletes its snapshots and its
// security groups: everything tagged with the project.
func (d *Deployer) Destroy(ctx context.Context, project string, report func(deploy.Step)) error {
	c, err := d.clients(ctx)
	if err != nil {
		return err
	}
	ins, err := d.instances(ctx, c, project, "", append(slices.Clone(liveStates), "shutting-down"))
	if err != nil {
		return err
	}
	if len(ins) > 0 {
		var ids []string
		for _, in := range ins {
			ids = append(ids, awsv2.ToString(in.InstanceId))
		}
		report(deploy.Step{Name: stepTerminate, Message: strings.Join(ids, " ")})
		if _, err := c.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids}); err != nil {
			return d.wrap("terminate instances", err)
		}
		for {
			left, err := d.instances(ctx, c, project, "", append(slices.Clone(liveStates), "shutting-down"))
			if err != nil {
				return err
			}
			if len(left) == 0 {
				break
			}
			if err := d.sleep(ctx); err != nil {
				return fmt.Errorf("aws: wait for instances to terminate: %w", err)
			}
		}
		report(deploy.Step{Name: stepTerminate, Message: strings.Join(ids, " "), Finished: true})
	}

	images, err := d.images(ctx, c, project, "")
	if err != nil {
		return err
	}
	snaps, err := c.ec2.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}, Filters: tagFilters(project, "")})
	if err != nil {
		return d.wrap("describe snapshots", err)
	}
	if len(images) > 0 || len(snaps.Snapshots) > 0 {
		report(deploy.Step{Name: stepImages, Message: list(images, describeImage)})
		if err := d.deleteImages(ctx, c, images); err != nil {
			return err
		}
		// Snapshots of no image: those of a deploy that crashed.
		gone := map[string]bool{}
		for _, im := range images {
			for _, m := range im.BlockDeviceMappings {
				if m.Ebs != nil {
					gone[awsv2.ToString(m.Ebs.SnapshotId)] = true
				}
			}
		}
		for _, s := range snaps.Snapshots {
			if id := awsv2.ToString(s.SnapshotId); !gone[id] {
				if err := d.deleteSnapshot(ctx, c, id); err != nil {
					return err
				}
			}
		}
		report(deploy.Step{Name: stepImages, Finished: true})
	}

	groups, err := c.ec2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: tagFilters(project, "")})
	if err != nil {
		return d.wrap("describe security groups", err)
	}
	if len(groups.SecurityGroups) > 0 {
		report(deploy.Step{Name: stepGroups})
		for _, g := range groups.SecurityGroups {
			if _, err := c.ec2.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: g.GroupId}); err != nil {
				return d.wrap("delete security group "+awsv2.ToString(g.GroupId), err)
			}
		}
		report(deploy.Step{Name: stepGroups, Finished: true})
	}
	return nil
}

// Console implements deploy.ConsoleReader. EC2 returns the latest part of
// the console (up to 64 KiB) as a whole each time: the offset is counted
// in it here. When the output is shorter than offset (the instance
// restarted, or the buffer was cut) it is returned from its start.
func (d *Deployer) Console(ctx context.Context, instance string, offset int64) ([]byte, int64, error) {
	c, err := d.clients(ctx)
	if err != nil {
		return nil, offset, err
	}
	out, err := c.ec2.GetConsoleOutput(ctx, &ec2.GetConsoleOutputInput{InstanceId: awsv2.String(instance)})
	if err != nil {
		return nil, offset, d.wrap("get console output", err)
	}
	data, err := base64.StdEncoding.DecodeString(awsv2.ToString(out.Output))
	if err != nil {
		return nil, offset, fmt.Errorf("aws: get console output: %w", err)
	}
	n := int64(len(data))
	if offset > n || offset < 0 {
		offset = 0
	}
	return data[offset:], n, nil
}
