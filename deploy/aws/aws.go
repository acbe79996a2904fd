// Package aws is the aws deploy target: the raw disk becomes an EBS
// snapshot written through the EBS direct APIs, the snapshot an AMI, and
// the AMI an EC2 instance in a security group that opens the project's
// ports; the project's previous instance is terminated once the new one
// runs. Credentials come only from the AWS SDK's default chain, and the
// endpoints follow the SDK's own overrides (AWS_ENDPOINT_URL_EC2,
// AWS_ENDPOINT_URL_EBS, AWS_ENDPOINT_URL).
//
// Everything the target creates carries the tags ukdev:project and
// ukdev:deploy (and ukdev:build on images and instances): List, Destroy,
// the replacement of the previous instance and the pruning of old images
// find their resources by these tags and touch nothing else.
//
// The IAM permissions it needs: ebs:StartSnapshot, ebs:PutSnapshotBlock,
// ebs:CompleteSnapshot; ec2:DescribeSnapshots, ec2:DeleteSnapshot,
// ec2:RegisterImage, ec2:DescribeImages, ec2:DeregisterImage,
// ec2:CreateTags (tags given at creation), ec2:DescribeSecurityGroups,
// ec2:CreateSecurityGroup, ec2:AuthorizeSecurityGroupIngress,
// ec2:DeleteSecurityGroup, ec2:DescribeSubnets (with a subnet),
// ec2:RunInstances, ec2:DescribeInstances, ec2:TerminateInstances and
// ec2:GetConsoleOutput. The plan shows the account through
// sts:GetCallerIdentity, which needs none.
package aws

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	awsv2 "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ebs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/ukdev/ukdev/deploy"
)

// Name is the target's config name.
const Name = "aws"

// Tag keys set on every resource the target creates.
const (
	TagProject = "ukdev:project"
	TagDeploy  = "ukdev:deploy"
	TagBuild   = "ukdev:build"
)

func init() { deploy.Register(Target{}) }

// Target is the aws deploy target.
type Target struct{}

// Name implements deploy.Target.
func (Target) Name() string { return Name }

// Open implements deploy.Target: settings are the Settings DecodeSettings
// returned. It does not reach the network.
func (Target) Open(settings any) (deploy.Deployer, error) {
	st, ok := settings.(Settings)
	if !ok {
		return nil, fmt.Errorf("aws: open: settings of type %T, want aws.Settings", settings)
	}
	return newDeployer(st), nil
}

// Deployer carries out aws deploys of one [deploy.<name>]; it is a
// deploy.Deployer and a deploy.ConsoleReader.
type Deployer struct {
	st Settings
	// now and poll are the clock and the interval between two looks at a
	// snapshot or an instance that is not ready yet (tests shorten it).
	now  func() time.Time
	poll time.Duration
	// workers is how many blocks are uploaded at once.
	workers int

	mu sync.Mutex
	cl *clients
}

var (
	_ deploy.Deployer      = (*Deployer)(nil)
	_ deploy.ConsoleReader = (*Deployer)(nil)
)

// newDeployer returns a Deployer for st.
func newDeployer(st Settings) *Deployer {
	return &Deployer{st: st, now: time.Now, poll: 5 * time.Second, workers: 8}
}

// clients are the SDK clients of one Deployer, made once.
type clients struct {
	cfg awsv2.Config
	ec2 *ec2.Client
	ebs *ebs.Client
	sts *sts.Client
}

// clients loads the SDK's configuration and makes the clients on first
// use; the credentials are checked here, so that a missing one gives its
// message before anything else is tried.
func (d *Deployer) clients(ctx context.Context) (*clients, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cl != nil {
		return d.cl, nil
	}
	opts := []func(*config.LoadOptions) error{}
	if d.st.Region != "" {
		opts = append(opts, config.WithRegion(d.st.Region))
	}
	if d.st.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(d.st.Profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		// A profile that does not exist, or a broken shared config file.
		return nil, &CredentialsError{Profile: d.st.Profile, Err: err}
	}
	if cfg.Region == "" {
		return nil, ErrNoRegion
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("aws: credentials: %w", ctx.Err())
		}
		return nil, &CredentialsError{Profile: d.st.Profile, Err: err}
	}
	// NewFromConfig resolves each service's endpoint override from cfg
	// (AWS_ENDPOINT_URL_EC2, AWS_ENDPOINT_URL_EBS, AWS_ENDPOINT_URL_STS,
	// AWS_ENDPOINT_URL and the profile's services section).
	d.cl = &clients{cfg: cfg, ec2: ec2.NewFromConfig(cfg), ebs: ebs.NewFromConfig(cfg), sts: sts.NewFromConfig(cfg)}
	return d.cl, nil
}

// account returns the id of the account the credentials belong to.
func (d *Deployer) account(ctx context.Context, c *clients) (string, error) {
	out, err := c.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", d.wrap("get caller identity", err)
	}
	return awsv2.ToString(out.Account), nil
}

// ErrNoRegion is returned when neither the settings nor the SDK's
// configuration name a region.
var ErrNoRegion = errors.New("aws: no region: set region in the [deploy.<name>] section, or AWS_REGION, or the profile's region")

// CredentialsError is a missing, expired or refused AWS credential. Its
// message names the chain that was tried and how to fix it; it never
// holds the credential itself.
type CredentialsError struct {
	// Profile is the profile asked for, empty for the default chain.
	Profile string
	// Err is the SDK's error.
	Err error
}

func (e *CredentialsError) Error() string {
	profile := "AWS_PROFILE or \"default\""
	if e.Profile != "" {
		profile = fmt.Sprintf("%q", e.Profile)
	}
	return "aws: credentials: none usable from the AWS SDK's default chain " +
		"(environment AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, " +
		"then profile " + profile + " of ~/.aws/config and ~/.aws/credentials, then EC2 instance metadata): " +
		"run `aws configure` (or `aws sso login` for an SSO profile, whose session may have expired), " +
		"or export AWS_PROFILE or the AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY variables"
}

func (e *CredentialsError) Unwrap() error { return e.Err }

// credentialCodes are the API error codes of a credential the service
// refuses (unknown, expired, or signed wrongly).
var credentialCodes = map[string]bool{
	"AuthFailure":                 true,
	"ExpiredToken":                true,
	"ExpiredTokenException":       true,
	"InvalidClientTokenId":        true,
	"UnrecognizedClientException": true,
	"SignatureDoesNotMatch":       true,
	"RequestExpired":              true,
}

// wrap makes err of the SDK an error of op, turning a refused credential
// into a CredentialsError.
func (d *Deployer) wrap(op string, err error) error {
	var api smithy.APIError
	if errors.As(err, &api) && credentialCodes[api.ErrorCode()] {
		return &CredentialsError{Profile: d.st.Profile, Err: fmt.Errorf("aws: %s: %w", op, err)}
	}
	return fmt.Errorf("aws: %s: %w", op, err)
}
