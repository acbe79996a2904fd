package aws

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
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// cloud is an EC2 and EBS of one region, as httptest servers speaking the
// wire protocols the SDK uses: EC2's query protocol (form POSTs, XML
// answers) and EBS direct's REST-JSON. It keeps what is created, checks
// each request's shape and every block's checksum, and logs the calls.
type cloud struct {
	t *testing.T

	mu        sync.Mutex
	seq       int
	calls     []string
	instances []*fInstance
	images    []*fImage
	snapshots []*fSnapshot
	groups    []*fGroup
	// fail makes an action answer with an EC2 error of this code.
	fail map[string]string
	// onBlock runs for each block written, before it is kept.
	onBlock func(index int)
	// pendingPolls is how many looks a new snapshot or instance stays
	// pending for.
	pendingPolls int
	// console is the console output of every instance.
	console string
	// written are the blocks of the last snapshot completed.
	written map[int][]byte
}

type fInstance struct {
	id, image, state, typ, ip string
	groups                    []string
	tags                      map[string]string
	launched                  time.Time
	polls                     int
}

type fImage struct {
	id, name, snapshot string
	created            time.Time
	ena                bool
	tags               map[string]string
}

type fSnapshot struct {
	id, state string
	size      int64
	blocks    map[int][]byte
	tags      map[string]string
	polls     int
}

type fGroup struct {
	id, name, vpc string
	tags          map[string]string
	rules         []string // "tcp/80"
}

// newCloud starts a cloud and points the SDK at it through its endpoint
// variables, with fake static credentials and nothing else of the host's
// configuration.
func newCloud(t *testing.T) *cloud {
	c := &cloud{t: t, fail: map[string]string{}, pendingPolls: 1}
	ec2 := httptest.NewServer(http.HandlerFunc(c.serveEC2))
	ebs := httptest.NewServer(http.HandlerFunc(c.serveEBS))
	sts := httptest.NewServer(http.HandlerFunc(c.serveSTS))
	t.Cleanup(ec2.Close)
	t.Cleanup(ebs.Close)
	t.Cleanup(sts.Close)
	isolate(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDUKDEVTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "fake-secret")
	t.Setenv("AWS_ENDPOINT_URL_EC2", ec2.URL)
	t.Setenv("AWS_ENDPOINT_URL_EBS", ebs.URL)
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	return c
}

// isolate keeps the host's AWS configuration and instance metadata out of
// a test.
func isolate(t *testing.T) {
	dir := t.TempDir()
	for _, k := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
		"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL_EBS", "AWS_ENDPOINT_URL_STS",
		"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// log records a call.
func (c *cloud) log(format string, args ...any) {
	c.calls = append(c.calls, fmt.Sprintf(format, args...))
}

// id makes a new resource id.
func (c *cloud) id(prefix string) string {
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
func (c *cloud) match(fs map[string][]string, tags map[string]string, attrs map[string]string) bool {
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

func (in *fInstance) xml() string {
	ip := ""
	if in.ip != "" {
		ip = "<ipAddress>" + in.ip + "</ipAddress>"
	}
	return fmt.Sprintf("<item><instanceId>%s</instanceId><imageId>%s</imageId><instanceState><code>%d</code><name>%s</name></instanceState>"+
		"<instanceType>%s</instanceType><launchTime>%s</launchTime>%s%s</item>",
		in.id, in.image, stateCodes[in.state], in.state, in.typ, in.launched.UTC().Format("2006-01-02T15:04:05.000Z"), ip, tagSet(in.tags))
}

func (im *fImage) xml() string {
	return fmt.Sprintf("<item><imageId>%s</imageId><name>%s</name><creationDate>%s</creationDate><imageState>available</imageState>"+
		"<blockDeviceMapping><item><deviceName>/dev/xvda</deviceName><ebs><snapshotId>%s</snapshotId></ebs></item></blockDeviceMapping>%s</item>",
		im.id, html.EscapeString(im.name), im.created.UTC().Format("2006-01-02T15:04:05.000Z"), im.snapshot, tagSet(im.tags))
}

// ec2Error answers with EC2's XML error.
func ec2Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>req-err</RequestID></Response>`,
		code, html.EscapeString(msg))
}

func (c *cloud) serveEC2(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/" || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		c.t.Errorf("EC2 request %s %s (%s), want a form POST to /", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
	}
	if !strings.Contains(r.Header.Get("Authorization"), "Credential=AKIDUKDEVTEST/") {
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
func (c *cloud) ec2Action(action string, f url.Values) (inner string, status int, code, msg string) {
	switch action {
	case "DescribeInstances":
		ids, fs := members(f, "InstanceId"), filters(f)
		var b strings.Builder
		for _, in := range c.instances {
			if len(ids) > 0 && !slices.Contains(ids, in.id) {
				continue
			}
			if !c.match(fs, in.tags, map[string]string{"instance-state-name": in.state}) {
				continue
			}
			if len(ids) > 0 {
				// A look by id moves the instance on, as time does.
				in.polls++
				if in.state == "pending" && in.polls > c.pendingPolls {
					in.state, in.ip = "running", "203.0.113.7"
				}
				if in.state == "shutting-down" {
					in.state = "terminated"
				}
			}
			fmt.Fprintf(&b, "<item><reservationId>r-%s</reservationId><ownerId>123456789012</ownerId><instancesSet>%s</instancesSet></item>", in.id, in.xml())
			c.log("DescribeInstances %s %s", in.id, in.state)
		}
		// Terminating instances are gone at the next look.
		if len(ids) == 0 {
			for _, in := range c.instances {
				if in.state == "shutting-down" {
					in.state = "terminated"
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
		for _, im := range c.images {
			if (len(ids) == 0 || slices.Contains(ids, im.id)) && c.match(fs, im.tags, map[string]string{"name": im.name}) {
				b.WriteString(im.xml())
			}
		}
		return "<imagesSet>" + b.String() + "</imagesSet>", 0, "", ""
	case "DescribeSnapshots":
		ids, fs := members(f, "SnapshotId"), filters(f)
		var b strings.Builder
		for _, s := range c.snapshots {
			if (len(ids) > 0 && !slices.Contains(ids, s.id)) || !c.match(fs, s.tags, nil) {
				continue
			}
			if len(ids) > 0 && s.state == "pending" && s.blocks == nil {
				// Completed by EBS: the fake finishes it after a look.
				s.polls++
				if s.polls > c.pendingPolls {
					s.state = "completed"
				}
			}
			progress := "50%"
			if s.state == "completed" {
				progress = "100%"
			}
			fmt.Fprintf(&b, "<item><snapshotId>%s</snapshotId><status>%s</status><progress>%s</progress><volumeSize>%d</volumeSize>%s</item>",
				s.id, s.state, progress, s.size, tagSet(s.tags))
		}
		return "<snapshotSet>" + b.String() + "</snapshotSet>", 0, "", ""
	case "DescribeSecurityGroups":
		fs := filters(f)
		var b strings.Builder
		for _, g := range c.groups {
			if !c.match(fs, g.tags, map[string]string{"group-name": g.name, "vpc-id": g.vpc}) {
				continue
			}
			var rules strings.Builder
			for _, r := range g.rules {
				proto, port, _ := strings.Cut(r, "/")
				fmt.Fprintf(&rules, "<item><ipProtocol>%s</ipProtocol><fromPort>%s</fromPort><toPort>%s</toPort><ipRanges><item><cidrIp>0.0.0.0/0</cidrIp></item></ipRanges></item>", proto, port, port)
			}
			fmt.Fprintf(&b, "<item><groupId>%s</groupId><groupName>%s</groupName><vpcId>%s</vpcId><ipPermissions>%s</ipPermissions>%s</item>",
				g.id, g.name, g.vpc, rules.String(), tagSet(g.tags))
		}
		return "<securityGroupInfo>" + b.String() + "</securityGroupInfo>", 0, "", ""
	case "DescribeSubnets":
		return "<subnetSet><item><subnetId>" + f.Get("SubnetId.1") + "</subnetId><vpcId>vpc-0001</vpcId></item></subnetSet>", 0, "", ""
	case "RegisterImage":
		snap := f.Get("BlockDeviceMapping.1.Ebs.SnapshotId")
		var s *fSnapshot
		for _, x := range c.snapshots {
			if x.id == snap {
				s = x
			}
		}
		if s == nil || s.state != "completed" {
			return "", 400, "InvalidSnapshot.NotFound", "no completed snapshot " + snap
		}
		for k, want := range map[string]string{"Architecture": "x86_64", "VirtualizationType": "hvm", "BootMode": "legacy-bios",
			"RootDeviceName": "/dev/xvda", "BlockDeviceMapping.1.DeviceName": "/dev/xvda", "BlockDeviceMapping.1.Ebs.DeleteOnTermination": "true"} {
			if got := f.Get(k); got != want {
				c.t.Errorf("RegisterImage %s=%q, want %q", k, got, want)
			}
		}
		for _, im := range c.images {
			if im.name == f.Get("Name") {
				return "", 400, "InvalidAMIName.Duplicate", "AMI name " + im.name + " is already in use"
			}
		}
		im := &fImage{id: c.id("ami"), name: f.Get("Name"), snapshot: snap, created: time.Date(2026, 12, 5, 7, 0, c.seq, 0, time.UTC),
			ena: f.Get("EnaSupport") == "true", tags: tagSpec(f, "image")}
		c.images = append(c.images, im)
		c.log("RegisterImage %s %s ena=%v", im.id, im.name, im.ena)
		return "<imageId>" + im.id + "</imageId>", 0, "", ""
	case "CreateSecurityGroup":
		g := &fGroup{id: c.id("sg"), name: f.Get("GroupName"), vpc: f.Get("VpcId"), tags: tagSpec(f, "security-group")}
		if g.vpc == "" {
			g.vpc = "vpc-default"
		}
		c.groups = append(c.groups, g)
		c.log("CreateSecurityGroup %s %s %s", g.id, g.name, g.vpc)
		return "<return>true</return><groupId>" + g.id + "</groupId>", 0, "", ""
	case "AuthorizeSecurityGroupIngress":
		for _, g := range c.groups {
			if g.id != f.Get("GroupId") {
				continue
			}
			for i := 1; f.Has(fmt.Sprintf("IpPermissions.%d.IpProtocol", i)); i++ {
				p := fmt.Sprintf("IpPermissions.%d.", i)
				if f.Get(p+"FromPort") != f.Get(p+"ToPort") || f.Get(p+"IpRanges.1.CidrIp") != "0.0.0.0/0" {
					c.t.Errorf("ingress rule %v", f)
				}
				rule := f.Get(p+"IpProtocol") + "/" + f.Get(p+"FromPort")
				g.rules = append(g.rules, rule)
				c.log("AuthorizeSecurityGroupIngress %s %s", g.id, rule)
			}
			return "<return>true</return>", 0, "", ""
		}
		return "", 400, "InvalidGroup.NotFound", "no group " + f.Get("GroupId")
	case "RunInstances":
		if f.Get("MinCount") != "1" || f.Get("MaxCount") != "1" || f.Get("ClientToken") == "" {
			c.t.Errorf("RunInstances counts/token %v", f)
		}
		in := &fInstance{id: c.id("i"), image: f.Get("ImageId"), state: "pending", typ: f.Get("InstanceType"),
			groups: members(f, "SecurityGroupId"), tags: tagSpec(f, "instance"), launched: time.Date(2026, 12, 5, 7, 0, c.seq, 0, time.UTC)}
		if len(in.groups) == 0 {
			in.groups = members(f, "NetworkInterface.1.SecurityGroupId")
			c.log("RunInstances network interface subnet=%s public=%s", f.Get("NetworkInterface.1.SubnetId"), f.Get("NetworkInterface.1.AssociatePublicIpAddress"))
		}
		c.instances = append(c.instances, in)
		c.log("RunInstances %s %s %s groups=%s", in.id, in.image, in.typ, strings.Join(in.groups, ","))
		return "<reservationId>r-1</reservationId><ownerId>123456789012</ownerId><instancesSet>" + in.xml() + "</instancesSet>", 0, "", ""
	case "TerminateInstances":
		var b strings.Builder
		for _, id := range members(f, "InstanceId") {
			for _, in := range c.instances {
				if in.id == id {
					prev := in.state
					if in.state != "terminated" {
						in.state = "shutting-down"
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
		for i, im := range c.images {
			if im.id == id {
				c.images = slices.Delete(c.images, i, i+1)
				c.log("DeregisterImage %s", id)
				return "<return>true</return>", 0, "", ""
			}
		}
		return "", 400, "InvalidAMIID.NotFound", "no image " + id
	case "DeleteSnapshot":
		id := f.Get("SnapshotId")
		for _, im := range c.images {
			if im.snapshot == id {
				return "", 400, "InvalidSnapshot.InUse", "snapshot " + id + " is in use by " + im.id
			}
		}
		for i, s := range c.snapshots {
			if s.id == id {
				c.snapshots = slices.Delete(c.snapshots, i, i+1)
				c.log("DeleteSnapshot %s", id)
				return "<return>true</return>", 0, "", ""
			}
		}
		return "", 400, "InvalidSnapshot.NotFound", "no snapshot " + id
	case "DeleteSecurityGroup":
		id := f.Get("GroupId")
		for _, in := range c.instances {
			if in.state != "terminated" && slices.Contains(in.groups, id) {
				return "", 400, "DependencyViolation", "resource " + id + " has a dependent object"
			}
		}
		for i, g := range c.groups {
			if g.id == id {
				c.groups = slices.Delete(c.groups, i, i+1)
				c.log("DeleteSecurityGroup %s", id)
				return "<return>true</return>", 0, "", ""
			}
		}
		return "", 400, "InvalidGroup.NotFound", "no group " + id
	case "GetConsoleOutput":
		id := f.Get("InstanceId")
		return fmt.Sprintf("<instanceId>%s</instanceId><timestamp>2026-12-05T07:00:00.000Z</timestamp><output>%s</output>",
			id, base64.StdEncoding.EncodeToString([]byte(c.console))), 0, "", ""
	}
	c.t.Errorf("EC2 action %q not known to the fake", action)
	return "", 400, "InvalidAction", "unknown action " + action
}

// serveSTS answers GetCallerIdentity, in STS's query protocol.
func (c *cloud) serveSTS(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f, _ := url.ParseQuery(string(body))
	if r.Method != http.MethodPost || r.URL.Path != "/" || f.Get("Action") != "GetCallerIdentity" || f.Get("Version") != "2011-06-15" {
		c.t.Errorf("STS request %s %s %q", r.Method, r.URL.Path, body)
	}
	if !strings.Contains(r.Header.Get("Authorization"), "Credential=AKIDUKDEVTEST/") {
		c.t.Errorf("STS request not signed with the test's credentials")
	}
	w.Header().Set("Content-Type", "text/xml")
	io.WriteString(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>`+
		`<Arn>arn:aws:iam::123456789012:user/dev</Arn><UserId>AIDAUKDEVTEST</UserId><Account>123456789012</Account>`+
		`</GetCallerIdentityResult><ResponseMetadata><RequestId>req-sts</RequestId></ResponseMetadata></GetCallerIdentityResponse>`)
}

// ebsError answers with EBS direct's JSON error.
func ebsError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Errortype", typ)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"__type": typ, "Message": msg})
}

func (c *cloud) serveEBS(w http.ResponseWriter, r *http.Request) {
	if !strings.Contains(r.Header.Get("Authorization"), "Credential=AKIDUKDEVTEST/") {
		c.t.Errorf("EBS request not signed with the test's credentials")
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
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
		s := &fSnapshot{id: c.id("snap"), state: "pending", size: in.VolumeSize, blocks: map[int][]byte{}, tags: map[string]string{}}
		for _, t := range in.Tags {
			s.tags[t.Key] = t.Value
		}
		c.snapshots = append(c.snapshots, s)
		c.log("StartSnapshot %s %d GiB", s.id, s.size)
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"SnapshotId": s.id, "BlockSize": BlockSize, "Status": "pending", "VolumeSize": s.size, "StartTime": 1796454000})
	case r.Method == http.MethodPut && len(parts) == 4 && parts[0] == "snapshots" && parts[2] == "blocks":
		index, err := strconv.Atoi(parts[3])
		if err != nil {
			c.t.Errorf("PutSnapshotBlock index %q", parts[3])
		}
		data, _ := io.ReadAll(r.Body)
		sum := sha256.Sum256(data)
		if got, want := r.Header.Get("X-Amz-Checksum"), base64.StdEncoding.EncodeToString(sum[:]); got != want {
			ebsError(w, 400, "ValidationException", "checksum mismatch")
			c.t.Errorf("block %d checksum %q, want %q", index, got, want)
			return
		}
		if r.Header.Get("X-Amz-Checksum-Algorithm") != "SHA256" || r.Header.Get("X-Amz-Data-Length") != strconv.Itoa(BlockSize) || len(data) != BlockSize {
			c.t.Errorf("block %d: algorithm %q, length header %q, %d bytes", index, r.Header.Get("X-Amz-Checksum-Algorithm"), r.Header.Get("X-Amz-Data-Length"), len(data))
		}
		if c.onBlock != nil {
			c.onBlock(index)
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, s := range c.snapshots {
			if s.id == parts[1] && s.blocks != nil {
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
		for _, s := range c.snapshots {
			if s.id != parts[2] || s.blocks == nil {
				continue
			}
			if got := r.Header.Get("X-Amz-Changedblockscount"); got != strconv.Itoa(len(s.blocks)) {
				c.t.Errorf("CompleteSnapshot changed blocks %q, %d written", got, len(s.blocks))
			}
			c.log("CompleteSnapshot %s %d blocks", s.id, len(s.blocks))
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

// ordered says whether calls holds a call starting with each of want, in
// that order.
func (c *cloud) ordered(want ...string) bool {
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

// state sums up what the cloud holds, for comparisons.
func (c *cloud) state() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b bytes.Buffer
	for _, in := range c.instances {
		fmt.Fprintf(&b, "instance %s %s %s %s\n", in.id, in.tags["Name"], in.image, in.state)
	}
	for _, im := range c.images {
		fmt.Fprintf(&b, "image %s %s %s\n", im.id, im.name, im.snapshot)
	}
	for _, s := range c.snapshots {
		fmt.Fprintf(&b, "snapshot %s %s\n", s.id, s.state)
	}
	for _, g := range c.groups {
		fmt.Fprintf(&b, "group %s %s %s\n", g.id, g.name, strings.Join(g.rules, ","))
	}
	return b.String()
}
