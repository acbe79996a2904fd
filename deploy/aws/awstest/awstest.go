// Package awstest is an EC2, EBS and STS of one region for tests, as
// httptest servers speaking the wire protocols aws-sdk-go-v2 uses: EC2's
// query protocol (form POSTs, XML answers), EBS direct's REST-JSON and
// STS's query protocol. It keeps what is created, checks each request's
// shape, its signature's access key and every block's checksum (a request
// the real service would refuse fails the test), and logs the calls.
//
// The SDK reaches it through its own endpoint variables, which Env lists
// for a child process (the ukdev binary) and Setenv sets in the test's
// own: the code path under test is the real one.
package awstest

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The fake's fixed facts: the static credentials Env gives, which every
// request must be signed with, the account they belong to, and the
// region Env names.
const (
	AccessKeyID     = "AKIDUKDEVTEST"
	SecretAccessKey = "fake-secret"
	Account         = "123456789012"
	Region          = "eu-west-1"
)

// BlockSize is the size of an EBS snapshot block, as StartSnapshot
// answers it.
const BlockSize = 512 << 10

// PublicIP is the address every instance gets once it runs.
const PublicIP = "203.0.113.7"

// Cloud is the fake cloud. Its resource lists may be set before the first
// request (to seed what earlier deploys left) and read through State and
// the other methods afterwards.
type Cloud struct {
	t testing.TB

	// EC2URL, EBSURL and STSURL are the servers' base URLs.
	EC2URL, EBSURL, STSURL string
	// ConfigFile and CredentialsFile are the empty shared config files
	// Env points the SDK at.
	ConfigFile, CredentialsFile string

	// Instances, Images, Snapshots and Groups are what the cloud holds.
	Instances []*Instance
	Images    []*Image
	Snapshots []*Snapshot
	Groups    []*Group
	// OnBlock runs for each block written, before it is kept.
	OnBlock func(index int)
	// PendingPolls is how many looks by id a new snapshot or instance
	// stays pending for (1 by default; 0 makes it ready at the first).
	PendingPolls int

	mu    sync.Mutex
	seq   int
	calls []string
	// fail makes an action answer with an error of this code.
	fail map[string]string
	// console is the console output of every instance.
	console string
	// written are the blocks of the last snapshot completed.
	written map[int][]byte
}

// Instance is an EC2 instance of the fake.
type Instance struct {
	ID, Image, State, Type, IP string
	Groups                     []string
	Tags                       map[string]string
	Launched                   time.Time
	polls                      int
}

// Image is an AMI of the fake, with the snapshot of its root device.
type Image struct {
	ID, Name, Snapshot string
	Created            time.Time
	ENA                bool
	Tags               map[string]string
}

// Snapshot is an EBS snapshot of the fake.
type Snapshot struct {
	ID, State string
	// Size is the volume size in GiB.
	Size int64
	Tags map[string]string
	// blocks are the blocks written while it is being uploaded through
	// EBS direct; nil once completed (or when seeded).
	blocks map[int][]byte
	polls  int
}

// Group is a security group of the fake; Rules are "tcp/80".
type Group struct {
	ID, Name, VPC string
	Tags          map[string]string
	Rules         []string
}

// New starts a Cloud whose servers close when t ends. It does not touch
// the environment: see Env and Setenv.
func New(t testing.TB) *Cloud {
	t.Helper()
	c := &Cloud{t: t, fail: map[string]string{}, PendingPolls: 1}
	ec2 := httptest.NewServer(http.HandlerFunc(c.serveEC2))
	ebs := httptest.NewServer(http.HandlerFunc(c.serveEBS))
	sts := httptest.NewServer(http.HandlerFunc(c.serveSTS))
	t.Cleanup(ec2.Close)
	t.Cleanup(ebs.Close)
	t.Cleanup(sts.Close)
	c.EC2URL, c.EBSURL, c.STSURL = ec2.URL, ebs.URL, sts.URL
	c.ConfigFile, c.CredentialsFile = emptyFiles(t)
	return c
}

// emptyFiles makes an empty shared config and credentials file.
func emptyFiles(t testing.TB) (config, credentials string) {
	t.Helper()
	dir := t.TempDir()
	config, credentials = filepath.Join(dir, "config"), filepath.Join(dir, "credentials")
	for _, p := range []string{config, credentials} {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return config, credentials
}

// hostVars are the variables through which the host's AWS configuration
// could reach the SDK; IsolationEnv empties them.
var hostVars = []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL_EBS", "AWS_ENDPOINT_URL_STS",
	"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"}

// IsolationEnv returns the "KEY=value" variables that keep the host's AWS
// configuration, credentials and instance metadata away from the SDK:
// every variable it reads emptied, the shared files the given (empty)
// ones, instance metadata disabled. The SDK then finds no credentials.
func IsolationEnv(configFile, credentialsFile string) []string {
	env := make([]string, 0, len(hostVars)+3)
	for _, k := range hostVars {
		env = append(env, k+"=")
	}
	return append(env, "AWS_CONFIG_FILE="+configFile, "AWS_SHARED_CREDENTIALS_FILE="+credentialsFile, "AWS_EC2_METADATA_DISABLED=true")
}

// Isolate sets IsolationEnv in the test's process, with new empty shared
// files, until t ends.
func Isolate(t testing.TB) {
	t.Helper()
	setenv(t, IsolationEnv(emptyFiles(t)))
}

// Env returns the "KEY=value" variables that point the SDK at c, with its
// static credentials and Region, and nothing of the host's configuration,
// each key once; append them to a child process's environment (later
// entries win).
func (c *Cloud) Env() []string {
	set := map[string]string{
		"AWS_ACCESS_KEY_ID":     AccessKeyID,
		"AWS_SECRET_ACCESS_KEY": SecretAccessKey,
		"AWS_REGION":            Region,
		"AWS_ENDPOINT_URL_EC2":  c.EC2URL,
		"AWS_ENDPOINT_URL_EBS":  c.EBSURL,
		"AWS_ENDPOINT_URL_STS":  c.STSURL,
	}
	env := IsolationEnv(c.ConfigFile, c.CredentialsFile)
	for i, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if v, ok := set[k]; ok {
			env[i] = k + "=" + v
		}
	}
	return env
}

// Setenv sets Env in the test's own process until t ends.
func (c *Cloud) Setenv(t testing.TB) {
	t.Helper()
	setenv(t, c.Env())
}

func setenv(t testing.TB, env []string) {
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// Fail makes every later call of action (an EC2 action such as
// "RunInstances", or EBS direct's "StartSnapshot", "PutSnapshotBlock",
// "CompleteSnapshot") answer with an error of code; an empty code undoes
// it.
func (c *Cloud) Fail(action, code string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if code == "" {
		delete(c.fail, action)
		return
	}
	c.fail[action] = code
}

// SetConsole makes output the console output of every instance.
func (c *Cloud) SetConsole(output string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.console = output
}

// Written returns the blocks of the last snapshot completed, by index.
func (c *Cloud) Written() map[int][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.written
}

// Calls returns the calls that changed something, the looks at
// instances by id and the console reads, in order:
// "RunInstances i-0004 ami-0002 t2.micro groups=sg-0003".
func (c *Cloud) Calls() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls)
}

// ResetCalls forgets the calls logged so far.
func (c *Cloud) ResetCalls() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = nil
}

// log records a call.
func (c *Cloud) log(format string, args ...any) {
	c.calls = append(c.calls, fmt.Sprintf(format, args...))
}

// id makes a new resource id.
func (c *Cloud) id(prefix string) string {
	c.seq++
	return fmt.Sprintf("%s-%04d", prefix, c.seq)
}

// form reads the indexed members prefix.1, prefix.2...
func members(f url.Values, prefix string) []string {
	var list []string
	for i := 1; f.Has(prefix + "." + strconv.Itoa(i)); i++ {
		list = append(list, f.Get(prefix+"."+strconv.Itoa(i)))
	}
	return list
}

// filters reads Filter.N.Name and Filter.N.Value.M.
func filters(f url.Values) map[string][]string {
	m := map[string][]string{}
	for i := 1; f.Has(fmt.Sprintf("Filter.%d.Name", i)); i++ {
		m[f.Get(fmt.Sprintf("Filter.%d.Name", i))] = members(f, fmt.Sprintf("Filter.%d.Value", i))
	}
	return m
}

// tagSpec reads the tags of resource type typ from TagSpecification.N.
func tagSpec(f url.Values, typ string) map[string]string {
	tags := map[string]string{}
	for i := 1; f.Has(fmt.Sprintf("TagSpecification.%d.ResourceType", i)); i++ {
		if f.Get(fmt.Sprintf("TagSpecification.%d.ResourceType", i)) != typ {
			continue
		}
		for j := 1; f.Has(fmt.Sprintf("TagSpecification.%d.Tag.%d.Key", i, j)); j++ {
			tags[f.Get(fmt.Sprintf("TagSpecification.%d.Tag.%d.Key", i, j))] = f.Get(fmt.Sprintf("TagSpecification.%d.Tag.%d.Value", i, j))
		}
	}
	return tags
}

// match says whether a resource with tags and the named attributes passes
// the filters; a filter the fake does not know fails the test.
func (c *Cloud) match(fs map[string][]string, tags map[string]string, attrs map[string]string) bool {
	for name, values := range fs {
		var v string
		if k, ok := strings.CutPrefix(name, "tag:"); ok {
			var has bool
			if v, has = tags[k]; !has {
				return false
			}
		} else if a, ok := attrs[name]; ok {
			v = a
		} else {
			c.t.Errorf("filter %q not known to the fake", name)
			return false
		}
		if !slices.ContainsFunc(values, func(p string) bool {
			if pre, ok := strings.CutSuffix(p, "*"); ok {
				return strings.HasPrefix(v, pre)
			}
			return p == v
		}) {
			return false
		}
	}
	return true
}

func tagSet(tags map[string]string) string {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString("<tagSet>")
	for _, k := range keys {
		fmt.Fprintf(&b, "<item><key>%s</key><value>%s</value></item>", html.EscapeString(k), html.EscapeString(tags[k]))
	}
	b.WriteString("</tagSet>")
	return b.String()
}

var stateCodes = map[string]int{"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}

func (in *Instance) xml() string {
	ip := ""
	if in.IP != "" {
		ip = "<ipAddress>" + in.IP + "</ipAddress>"
	}
	return fmt.Sprintf("<item><instanceId>%s</instanceId><imageId>%s</imageId><instanceState><code>%d</code><name>%s</name></instanceState>"+
		"<instanceType>%s</instanceType><launchTime>%s</launchTime>%s%s</item>",
		in.ID, in.Image, stateCodes[in.State], in.State, in.Type, in.Launched.UTC().Format("2006-01-02T15:04:05.000Z"), ip, tagSet(in.Tags))
}

func (im *Image) xml() string {
	return fmt.Sprintf("<item><imageId>%s</imageId><name>%s</name><creationDate>%s</creationDate><imageState>available</imageState>"+
		"<blockDeviceMapping><item><deviceName>/dev/xvda</deviceName><ebs><snapshotId>%s</snapshotId></ebs></item></blockDeviceMapping>%s</item>",
		im.ID, html.EscapeString(im.Name), im.Created.UTC().Format("2006-01-02T15:04:05.000Z"), im.Snapshot, tagSet(im.Tags))
}

// ec2Error answers with EC2's XML error.
func ec2Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>req-err</RequestID></Response>`,
		code, html.EscapeString(msg))
}

func (c *Cloud) serveEC2(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/" || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		c.t.Errorf("EC2 request %s %s (%s), want a form POST to /", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
	}
	if !strings.Contains(r.Header.Get("Authorization"), "Credential="+AccessKeyID+"/") {
		c.t.Errorf("EC2 request not signed with the test's credentials")
	}
	body, _ := io.ReadAll(r.Body)
	f, err := url.ParseQuery(string(body))
	if err != nil {
		c.t.Errorf("EC2 body: %v", err)
	}
	if v := f.Get("Version"); v != "2016-11-15" {
		c.t.Errorf("EC2 Version %q", v)
	}
	action := f.Get("Action")
	c.mu.Lock()
	defer c.mu.Unlock()
	if code, ok := c.fail[action]; ok {
		c.log("%s failed", action)
		ec2Error(w, http.StatusBadRequest, code, "the fake refuses "+action)
		return
	}
	inner, status, code, msg := c.ec2Action(action, f)
	if code != "" {
		ec2Error(w, status, code, msg)
		return
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<%sResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>req-%d</requestId>%s</%sResponse>`,
		action, c.seq, inner, action)
}

// ec2Action carries out one EC2 action under c.mu, and returns the inside
// of its answer, or an error.
func (c *Cloud) ec2Action(action string, f url.Values) (inner string, status int, code, msg string) {
	switch action {
	case "DescribeInstances":
		ids, fs := members(f, "InstanceId"), filters(f)
		var b strings.Builder
		for _, in := range c.Instances {
			if len(ids) > 0 && !slices.Contains(ids, in.ID) {
				continue
			}
			if !c.match(fs, in.Tags, map[string]string{"instance-state-name": in.State}) {
				continue
			}
			if len(ids) > 0 {
				// A look by id moves the instance on, as time does.
				in.polls++
				if in.State == "pending" && in.polls > c.PendingPolls {
					in.State, in.IP = "running", "203.0.113.7"
				}
				if in.State == "shutting-down" {
					in.State = "terminated"
				}
			}
			fmt.Fprintf(&b, "<item><reservationId>r-%s</reservationId><ownerId>"+Account+"</ownerId><instancesSet>%s</instancesSet></item>", in.ID, in.xml())
			c.log("DescribeInstances %s %s", in.ID, in.State)
		}
		// Terminating instances are gone at the next look.
		if len(ids) == 0 {
			for _, in := range c.Instances {
				if in.State == "shutting-down" {
					in.State = "terminated"
				}
			}
		}
		return "<reservationSet>" + b.String() + "</reservationSet>", 0, "", ""
	case "DescribeImages":
		ids, fs := members(f, "ImageId"), filters(f)
		if o := members(f, "Owner"); !slices.Equal(o, []string{"self"}) {
			c.t.Errorf("DescribeImages owners %q, want self", o)
		}
		var b strings.Builder
		for _, im := range c.Images {
			if (len(ids) == 0 || slices.Contains(ids, im.ID)) && c.match(fs, im.Tags, map[string]string{"name": im.Name}) {
				b.WriteString(im.xml())
			}
		}
		return "<imagesSet>" + b.String() + "</imagesSet>", 0, "", ""
	case "DescribeSnapshots":
		ids, fs := members(f, "SnapshotId"), filters(f)
		var b strings.Builder
		for _, s := range c.Snapshots {
			if (len(ids) > 0 && !slices.Contains(ids, s.ID)) || !c.match(fs, s.Tags, nil) {
				continue
			}
			if len(ids) > 0 && s.State == "pending" && s.blocks == nil {
				// Completed by EBS: the fake finishes it after a look.
				s.polls++
				if s.polls > c.PendingPolls {
					s.State = "completed"
				}
			}
			progress := "50%"
			if s.State == "completed" {
				progress = "100%"
			}
			fmt.Fprintf(&b, "<item><snapshotId>%s</snapshotId><status>%s</status><progress>%s</progress><volumeSize>%d</volumeSize>%s</item>",
				s.ID, s.State, progress, s.Size, tagSet(s.Tags))
		}
		return "<snapshotSet>" + b.String() + "</snapshotSet>", 0, "", ""
	case "DescribeSecurityGroups":
		fs := filters(f)
		var b strings.Builder
		for _, g := range c.Groups {
			if !c.match(fs, g.Tags, map[string]string{"group-name": g.Name, "vpc-id": g.VPC}) {
				continue
			}
			var rules strings.Builder
			for _, r := range g.Rules {
				proto, port, _ := strings.Cut(r, "/")
				fmt.Fprintf(&rules, "<item><ipProtocol>%s</ipProtocol><fromPort>%s</fromPort><toPort>%s</toPort><ipRanges><item><cidrIp>0.0.0.0/0</cidrIp></item></ipRanges></item>", proto, port, port)
			}
			fmt.Fprintf(&b, "<item><groupId>%s</groupId><groupName>%s</groupName><vpcId>%s</vpcId><ipPermissions>%s</ipPermissions>%s</item>",
				g.ID, g.Name, g.VPC, rules.String(), tagSet(g.Tags))
		}
		return "<securityGroupInfo>" + b.String() + "</securityGroupInfo>", 0, "", ""
	case "DescribeSubnets":
		return "<subnetSet><item><subnetId>" + f.Get("SubnetId.1") + "</subnetId><vpcId>vpc-0001</vpcId></item></subnetSet>", 0, "", ""
	case "RegisterImage":
		snap := f.Get("BlockDeviceMapping.1.Ebs.SnapshotId")
		var s *Snapshot
		for _, x := range c.Snapshots {
			if x.ID == snap {
				s = x
			}
		}
		if s == nil || s.State != "completed" {
			return "", 400, "InvalidSnapshot.NotFound", "no completed snapshot " + snap
		}
		for k, want := range map[string]string{"Architecture": "x86_64", "VirtualizationType": "hvm", "BootMode": "legacy-bios",
			"RootDeviceName": "/dev/xvda", "BlockDeviceMapping.1.DeviceName": "/dev/xvda", "BlockDeviceMapping.1.Ebs.DeleteOnTermination": "true"} {
			if got := f.Get(k); got != want {
				c.t.Errorf("RegisterImage %s=%q, want %q", k, got, want)
			}
		}
		for _, im := range c.Images {
			if im.Name == f.Get("Name") {
				return "", 400, "InvalidAMIName.Duplicate", "AMI name " + im.Name + " is already in use"
			}
		}
		im := &Image{ID: c.id("ami"), Name: f.Get("Name"), Snapshot: snap, Created: time.Date(2026, 12, 5, 7, 0, c.seq, 0, time.UTC),
			ENA: f.Get("EnaSupport") == "true", Tags: tagSpec(f, "image")}
		c.Images = append(c.Images, im)
		c.log("RegisterImage %s %s ena=%v", im.ID, im.Name, im.ENA)
		return "<imageId>" + im.ID + "</imageId>", 0, "", ""
	case "CreateSecurityGroup":
		g := &Group{ID: c.id("sg"), Name: f.Get("GroupName"), VPC: f.Get("VpcId"), Tags: tagSpec(f, "security-group")}
		if g.VPC == "" {
			g.VPC = "vpc-default"
		}
		c.Groups = append(c.Groups, g)
		c.log("CreateSecurityGroup %s %s %s", g.ID, g.Name, g.VPC)
		return "<return>true</return><groupId>" + g.ID + "</groupId>", 0, "", ""
	case "AuthorizeSecurityGroupIngress":
		for _, g := range c.Groups {
			if g.ID != f.Get("GroupId") {
				continue
			}
			for i := 1; f.Has(fmt.Sprintf("IpPermissions.%d.IpProtocol", i)); i++ {
				p := fmt.Sprintf("IpPermissions.%d.", i)
				if f.Get(p+"FromPort") != f.Get(p+"ToPort") || f.Get(p+"IpRanges.1.CidrIp") != "0.0.0.0/0" {
					c.t.Errorf("ingress rule %v", f)
				}
				rule := f.Get(p+"IpProtocol") + "/" + f.Get(p+"FromPort")
				g.Rules = append(g.Rules, rule)
				c.log("AuthorizeSecurityGroupIngress %s %s", g.ID, rule)
			}
			return "<return>true</return>", 0, "", ""
		}
		return "", 400, "InvalidGroup.NotFound", "no group " + f.Get("GroupId")
	case "RunInstances":
		if f.Get("MinCount") != "1" || f.Get("MaxCount") != "1" || f.Get("ClientToken") == "" {
			c.t.Errorf("RunInstances counts/token %v", f)
		}
		in := &Instance{ID: c.id("i"), Image: f.Get("ImageId"), State: "pending", Type: f.Get("InstanceType"),
			Groups: members(f, "SecurityGroupId"), Tags: tagSpec(f, "instance"), Launched: time.Date(2026, 12, 5, 7, 0, c.seq, 0, time.UTC)}
		if len(in.Groups) == 0 {
			in.Groups = members(f, "NetworkInterface.1.SecurityGroupId")
			c.log("RunInstances network interface subnet=%s public=%s", f.Get("NetworkInterface.1.SubnetId"), f.Get("NetworkInterface.1.AssociatePublicIpAddress"))
		}
		c.Instances = append(c.Instances, in)
		c.log("RunInstances %s %s %s groups=%s", in.ID, in.Image, in.Type, strings.Join(in.Groups, ","))
		return "<reservationId>r-1</reservationId><ownerId>" + Account + "</ownerId><instancesSet>" + in.xml() + "</instancesSet>", 0, "", ""
	case "TerminateInstances":
		var b strings.Builder
		for _, id := range members(f, "InstanceId") {
			for _, in := range c.Instances {
				if in.ID == id {
					prev := in.State
					if in.State != "terminated" {
						in.State = "shutting-down"
					}
					c.log("TerminateInstances %s", id)
					fmt.Fprintf(&b, "<item><instanceId>%s</instanceId><currentState><code>32</code><name>shutting-down</name></currentState><previousState><code>%d</code><name>%s</name></previousState></item>",
						id, stateCodes[prev], prev)
				}
			}
		}
		return "<instancesSet>" + b.String() + "</instancesSet>", 0, "", ""
	case "DeregisterImage":
		id := f.Get("ImageId")
		if remove(c, &c.Images, func(im *Image) bool { return im.ID == id }, action, id) {
			return "<return>true</return>", 0, "", ""
		}
		return "", 400, "InvalidAMIID.NotFound", "no image " + id
	case "DeleteSnapshot":
		id := f.Get("SnapshotId")
		for _, im := range c.Images {
			if im.Snapshot == id {
				return "", 400, "InvalidSnapshot.InUse", "snapshot " + id + " is in use by " + im.ID
			}
		}
		if remove(c, &c.Snapshots, func(s *Snapshot) bool { return s.ID == id }, action, id) {
			return "<return>true</return>", 0, "", ""
		}
		return "", 400, "InvalidSnapshot.NotFound", "no snapshot " + id
	case "DeleteSecurityGroup":
		id := f.Get("GroupId")
		for _, in := range c.Instances {
			if in.State != "terminated" && slices.Contains(in.Groups, id) {
				return "", 400, "DependencyViolation", "resource " + id + " has a dependent object"
			}
		}
		if remove(c, &c.Groups, func(g *Group) bool { return g.ID == id }, action, id) {
			return "<return>true</return>", 0, "", ""
		}
		return "", 400, "InvalidGroup.NotFound", "no group " + id
	case "GetConsoleOutput":
		id := f.Get("InstanceId")
		c.log("GetConsoleOutput %s", id)
		return fmt.Sprintf("<instanceId>%s</instanceId><timestamp>2026-12-05T07:00:00.000Z</timestamp><output>%s</output>",
			id, base64.StdEncoding.EncodeToString([]byte(c.console))), 0, "", ""
	}
	c.t.Errorf("EC2 action %q not known to the fake", action)
	return "", 400, "InvalidAction", "unknown action " + action
}

// remove deletes from *list its first element for which is is true and
// logs action and id; it reports whether there was one.
func remove[T any](c *Cloud, list *[]T, is func(T) bool, action, id string) bool {
	i := slices.IndexFunc(*list, is)
	if i < 0 {
		return false
	}
	*list = slices.Delete(*list, i, i+1)
	c.log("%s %s", action, id)
	return true
}

// serveSTS answers GetCallerIdentity, in STS's query protocol.
func (c *Cloud) serveSTS(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f, _ := url.ParseQuery(string(body))
	if r.Method != http.MethodPost || r.URL.Path != "/" || f.Get("Action") != "GetCallerIdentity" || f.Get("Version") != "2011-06-15" {
		c.t.Errorf("STS request %s %s %q", r.Method, r.URL.Path, body)
	}
	if !strings.Contains(r.Header.Get("Authorization"), "Credential="+AccessKeyID+"/") {
		c.t.Errorf("STS request not signed with the test's credentials")
	}
	w.Header().Set("Content-Type", "text/xml")
	io.WriteString(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>`+
		`<Arn>arn:aws:iam::`+Account+`:user/dev</Arn><UserId>AIDAUKDEVTEST</UserId><Account>`+Account+`</Account>`+
		`</GetCallerIdentityResult><ResponseMetadata><RequestId>req-sts</RequestId></ResponseMetadata></GetCallerIdentityResponse>`)
}

// ebsError answers with EBS direct's JSON error.
func ebsError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Errortype", typ)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"__type": typ, "Message": msg})
}

func (c *Cloud) serveEBS(w http.ResponseWriter, r *http.Request) {
	if !strings.Contains(r.Header.Get("Authorization"), "Credential="+AccessKeyID+"/") {
		c.t.Errorf("EBS request not signed with the test's credentials")
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	action := ""
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/snapshots":
		action = "StartSnapshot"
	case r.Method == http.MethodPut && len(parts) == 4:
		action = "PutSnapshotBlock"
	case r.Method == http.MethodPost && len(parts) == 3:
		action = "CompleteSnapshot"
	}
	c.mu.Lock()
	code, failed := c.fail[action]
	if failed {
		c.log("%s failed", action)
	}
	c.mu.Unlock()
	if failed {
		ebsError(w, http.StatusBadRequest, code, "the fake refuses "+action)
		return
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/snapshots":
		var in struct {
			VolumeSize int64
			Timeout    int
			Tags       []struct{ Key, Value string }
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			c.t.Errorf("StartSnapshot body: %v", err)
		}
		if in.VolumeSize < 1 || in.Timeout < 10 {
			c.t.Errorf("StartSnapshot volume %d GiB timeout %d", in.VolumeSize, in.Timeout)
		}
		c.mu.Lock()
		s := &Snapshot{ID: c.id("snap"), State: "pending", Size: in.VolumeSize, blocks: map[int][]byte{}, Tags: map[string]string{}}
		for _, t := range in.Tags {
			s.Tags[t.Key] = t.Value
		}
		c.Snapshots = append(c.Snapshots, s)
		c.log("StartSnapshot %s %d GiB", s.ID, s.Size)
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"SnapshotId": s.ID, "BlockSize": BlockSize, "Status": "pending", "VolumeSize": s.Size, "StartTime": 1796454000})
	case r.Method == http.MethodPut && len(parts) == 4 && parts[0] == "snapshots" && parts[2] == "blocks":
		index, err := strconv.Atoi(parts[3])
		if err != nil {
			c.t.Errorf("PutSnapshotBlock index %q", parts[3])
		}
		data, err := io.ReadAll(r.Body)
		if err != nil {
			// The client gave up in the middle of the block (a cancelled
			// deploy): the service never receives a whole block, and
			// nobody reads the answer.
			return
		}
		sum := sha256.Sum256(data)
		if got, want := r.Header.Get("X-Amz-Checksum"), base64.StdEncoding.EncodeToString(sum[:]); got != want {
			ebsError(w, 400, "ValidationException", "checksum mismatch")
			c.t.Errorf("block %d checksum %q, want %q", index, got, want)
			return
		}
		if r.Header.Get("X-Amz-Checksum-Algorithm") != "SHA256" || r.Header.Get("X-Amz-Data-Length") != strconv.Itoa(BlockSize) || len(data) != BlockSize {
			c.t.Errorf("block %d: algorithm %q, length header %q, %d bytes", index, r.Header.Get("X-Amz-Checksum-Algorithm"), r.Header.Get("X-Amz-Data-Length"), len(data))
		}
		if c.OnBlock != nil {
			c.OnBlock(index)
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, s := range c.Snapshots {
			if s.ID == parts[1] && s.blocks != nil {
				s.blocks[index] = data
				w.Header().Set("X-Amz-Checksum", r.Header.Get("X-Amz-Checksum"))
				w.Header().Set("X-Amz-Checksum-Algorithm", "SHA256")
				w.WriteHeader(http.StatusCreated)
				return
			}
		}
		ebsError(w, 404, "ResourceNotFoundException", "no pending snapshot "+parts[1])
	case r.Method == http.MethodPost && len(parts) == 3 && parts[0] == "snapshots" && parts[1] == "completion":
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, s := range c.Snapshots {
			if s.ID != parts[2] || s.blocks == nil {
				continue
			}
			if got := r.Header.Get("X-Amz-Changedblockscount"); got != strconv.Itoa(len(s.blocks)) {
				c.t.Errorf("CompleteSnapshot changed blocks %q, %d written", got, len(s.blocks))
			}
			c.log("CompleteSnapshot %s %d blocks", s.ID, len(s.blocks))
			c.written = s.blocks
			s.blocks = nil
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"Status":"pending"}`)
			return
		}
		ebsError(w, 404, "ResourceNotFoundException", "no pending snapshot "+parts[2])
	default:
		c.t.Errorf("EBS request %s %s not known to the fake", r.Method, r.URL.Path)
		ebsError(w, 400, "ValidationException", "unknown")
	}
}

// Ordered says whether the calls hold a call starting with each of want, in
// that order.
func (c *Cloud) Ordered(want ...string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := 0
	for _, call := range c.calls {
		if i < len(want) && strings.HasPrefix(call, want[i]) {
			i++
		}
	}
	return i == len(want)
}

// State sums up what the cloud holds, a resource a line, for comparisons:
// "instance i-0004 hello-aws-b12 ami-0002 running".
func (c *Cloud) State() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b bytes.Buffer
	for _, in := range c.Instances {
		fmt.Fprintf(&b, "instance %s %s %s %s\n", in.ID, in.Tags["Name"], in.Image, in.State)
	}
	for _, im := range c.Images {
		fmt.Fprintf(&b, "image %s %s %s\n", im.ID, im.Name, im.Snapshot)
	}
	for _, s := range c.Snapshots {
		fmt.Fprintf(&b, "snapshot %s %s\n", s.ID, s.State)
	}
	for _, g := range c.Groups {
		fmt.Fprintf(&b, "group %s %s %s\n", g.ID, g.Name, strings.Join(g.Rules, ","))
	}
	return b.String()
}
