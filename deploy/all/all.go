// Package all registers every deploy target: a blank import of it makes
// them all available to deploy.Lookup and to ukdev.toml's
// [deploy.<name>] sections.
package all

import (
	// The targets register themselves in their init.
	_ "github.com/ukdev/ukdev/deploy/aws"
	_ "github.com/ukdev/ukdev/deploy/command"
	_ "github.com/ukdev/ukdev/deploy/gcp"
	_ "github.com/ukdev/ukdev/deploy/ops"
)
