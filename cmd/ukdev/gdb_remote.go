package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/ukdev/ukdev/devloop"
)

// errNoRemoteGDB says that this ukdev cannot yet ask another one, the one
// that runs the project's VM, to open its gdb stub.
var errNoRemoteGDB = errors.New("asking the ukdev that runs the VM for its gdb stub is not available")

// remoteGDB asks the ukdev that runs project's VM (the work directory's
// project when project is empty) to open QEMU's gdb stub on it, on a
// loopback port with tcp, and returns how to attach.
func (a *app) remoteGDB(_ context.Context, project string, tcp bool) (devloop.GDBSession, error) {
	_, _ = project, tcp
	return devloop.GDBSession{}, fmt.Errorf("gdb: %w yet: press g in the project's dashboard, or start the VM with `ukdev run --gdb` or `ukdev dev --gdb`, which print the gdb command line", errNoRemoteGDB)
}
