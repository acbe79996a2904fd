// Package gcp is the gcp deploy target: the disk of a build goes to
// Google Compute Engine as an image and an instance, through a Cloud
// Storage bucket, with Google's generated REST clients of the two APIs
// (google.golang.org/api/compute/v1 and google.golang.org/api/storage/v1):
// plain JSON over HTTP, with no gRPC or protobuf code linked into ukdev.
//
// A deploy uploads disk.raw in a gzip'd tar to the bucket, makes a Compute
// image of it, opens the project's ports with a firewall rule (one per
// project, made once and reused), starts an instance with its serial port
// enabled, and once that instance runs deletes the project's previous
// instance, the tarball and the images beyond keep_images. Every image and
// instance carries labels naming the project, the deploy and the build, so
// that List, Destroy and the next deploy find them and nothing else.
//
// Credentials come from Application Default Credentials only. Cloud
// Storage follows STORAGE_EMULATOR_HOST as Google's storage libraries do
// (the emulator's JSON API at http://host/storage/v1/, uploads at
// /upload/storage/v1/, no credentials); Compute, which has no
// environment override, follows the endpoint key.
package gcp

import (
	"fmt"

	"github.com/ukdev/ukdev/deploy"
	"github.com/ukdev/ukdev/project"
)

// TargetName is the value of the target key for this target.
const TargetName = "gcp"

func init() { deploy.Register(Target{}) }

// Target is the gcp deploy target.
type Target struct{}

// Name returns "gcp".
func (Target) Name() string { return TargetName }

// NewSection returns the struct a [deploy.<name>] section with target =
// "gcp" decodes into.
func (Target) NewSection() any { return &section{} }

// DecodeSettings reads the section's keys, reporting problems through s,
// and returns its Settings.
func (Target) DecodeSettings(s *project.Section, raw any) any {
	sec, _ := raw.(*section)
	if sec == nil {
		sec = &section{}
	}
	return decode(s, sec)
}

// Open returns the Deployer for settings, a Settings value. It makes no
// client and reads no credential: the Deployer does, on its first call.
func (Target) Open(settings any) (deploy.Deployer, error) {
	st, ok := settings.(Settings)
	if !ok {
		return nil, fmt.Errorf("gcp: open: settings are %T, not gcp.Settings", settings)
	}
	return newDeployer(st), nil
}
