package awstest

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	awsv2 "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ebs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

func TestEnv(t *testing.T) {
	c := New(t)
	env := c.Env()
	value := func(key string) (string, bool) {
		i := slices.IndexFunc(env, func(kv string) bool { return strings.HasPrefix(kv, key+"=") })
		if i < 0 {
			return "", false
		}
		return strings.TrimPrefix(env[i], key+"="), true
	}
	for key, want := range map[string]string{
		"AWS_ENDPOINT_URL_EC2":        c.EC2URL,
		"AWS_ENDPOINT_URL_EBS":        c.EBSURL,
		"AWS_ENDPOINT_URL_STS":        c.STSURL,
		"AWS_ACCESS_KEY_ID":           AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":       SecretAccessKey,
		"AWS_REGION":                  Region,
		"AWS_PROFILE":                 "",
		"AWS_SESSION_TOKEN":           "",
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_CONFIG_FILE":             c.ConfigFile,
		"AWS_SHARED_CREDENTIALS_FILE": c.CredentialsFile,
	} {
		// Each key once: a child process must not depend on which of two
		// values it keeps.
		if got, ok := value(key); !ok || got != want {
			t.Errorf("%s=%q (set %v), want %q", key, got, ok, want)
		}
		if n := len(slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return !strings.HasPrefix(kv, key+"=") })); n != 1 {
			t.Errorf("%s is set %d times", key, n)
		}
	}
	for _, p := range []string{c.ConfigFile, c.CredentialsFile} {
		if fi, err := os.Stat(p); err != nil || fi.Size() != 0 {
			t.Errorf("shared file %s: %v, want an empty file", p, err)
		}
	}
}

// TestSDK drives the fake with the SDK's clients as Setenv configures
// them, and checks that Fail refuses an action until it is undone.
func TestSDK(t *testing.T) {
	c := New(t)
	c.Setenv(t)
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// One attempt: a refused call fails at once.
	cfg.RetryMaxAttempts = 1
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || awsv2.ToString(id.Account) != Account {
		t.Fatalf("GetCallerIdentity: %v, %v", id, err)
	}
	eb, ec := ebs.NewFromConfig(cfg), ec2.NewFromConfig(cfg)
	start := func() error {
		_, err := eb.StartSnapshot(ctx, &ebs.StartSnapshotInput{VolumeSize: awsv2.Int64(1), Timeout: awsv2.Int32(60)})
		return err
	}
	describe := func() error {
		_, err := ec.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
		return err
	}
	tests := []struct {
		action, code string
		call         func() error
	}{
		{"StartSnapshot", "ValidationException", start},
		{"DescribeInstances", "UnauthorizedOperation", describe},
	}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			if err := tt.call(); err != nil {
				t.Fatalf("before Fail: %v", err)
			}
			c.Fail(tt.action, tt.code)
			var api smithy.APIError
			if err := tt.call(); !errors.As(err, &api) || api.ErrorCode() != tt.code {
				t.Errorf("after Fail: %v, want a %s error", err, tt.code)
			}
			c.Fail(tt.action, "")
			if err := tt.call(); err != nil {
				t.Errorf("after Fail undone: %v", err)
			}
		})
	}
	if got, want := c.State(), "snapshot snap-0001 pending\nsnapshot snap-0002 pending\n"; got != want {
		t.Errorf("state %q, want %q", got, want)
	}
	if !c.Ordered("StartSnapshot snap-0001", "StartSnapshot failed", "StartSnapshot snap-0002") {
		t.Errorf("calls %q", c.Calls())
	}
}
