// Package all registers every flavor ukdev ships. It is the one place that
// lists them: adding a flavor is one package under flavor/ and one import
// here.
package all

import (
	_ "github.com/ukdev/ukdev/flavor/elf"
	_ "github.com/ukdev/ukdev/flavor/linux"
	_ "github.com/ukdev/ukdev/flavor/nanos"
	_ "github.com/ukdev/ukdev/flavor/unikraft"
)
