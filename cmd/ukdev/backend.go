package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ukdev/ukdev/project"
	"github.com/ukdev/ukdev/vm"
	"github.com/ukdev/ukdev/vm/libvirt"
	"github.com/ukdev/ukdev/vm/qemu"
)

// onLocal is the --on value that runs the VMs here, under QEMU, whatever
// the config says.
const onLocal = "local"

// addOnFlag adds --on to a command that opens a loop.
func addOnFlag(cmd *cobra.Command, a *app) {
	cmd.Flags().StringVar(&a.on, "on", "", "run the VMs on the libvirt host at this `URI` (qemu:///system, qemu+ssh://user@host/system), or \"local\" to run them here under QEMU whatever the config says")
}

// applyOn makes the loaded config run its VMs where --on says: a libvirt
// URI selects the libvirt backend on that host (its pool and network as
// configured, else the default pool), "local" the QEMU backend here. An
// empty on changes nothing.
func applyOn(cfg *project.Config, on string) error {
	switch on {
	case "":
		return nil
	case onLocal:
		cfg.VM.Backend = project.BackendQEMU
		return nil
	}
	if err := project.CheckLibvirtURI(on); err != nil {
		return fmt.Errorf("--on: %w (or --on %s to run the VMs here)", err, onLocal)
	}
	cfg.VM.Backend = project.BackendLibvirt
	cfg.VM.LibvirtURI = on
	if cfg.VM.LibvirtPool == "" {
		cfg.VM.LibvirtPool = project.DefaultLibvirtPool
	}
	return nil
}

// libvirtHost returns the resolved libvirt URI the config's VMs run at
// (libvirt.ResolveURI), or "" when they run here under QEMU.
func libvirtHost(cfg *project.Config) string {
	if cfg.VM.Backend != project.BackendLibvirt {
		return ""
	}
	return libvirt.ResolveURI(cfg.VM.LibvirtURI)
}

// newBackend returns the backend the config's VMs run on: QEMU here, or
// a libvirt host. The caller closes it (closeBackend) once its loop has
// ended.
func newBackend(cfg *project.Config) vm.Backend {
	uri := libvirtHost(cfg)
	if uri == "" {
		return qemu.Backend{}
	}
	return &libvirt.Backend{
		URI:     uri,
		Pool:    cfg.VM.LibvirtPool,
		Network: cfg.VM.LibvirtNetwork,
		Owner:   libvirt.Owner{Project: cfg.Root},
	}
}

// closeBackend closes a backend that holds something open (a libvirt
// connection, its tunnels): io.Closer.
type closeBackend struct{ b vm.Backend }

// Close implements io.Closer.
func (c closeBackend) Close() error {
	if cl, ok := c.b.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}

// cleanStale returns the loop's hook that removes, before the first
// boot, the libvirt domains a ukdev of this machine left on the host
// when it died; nil for the QEMU backend (its VMs die with ukdev).
func cleanStale(cfg *project.Config) func(context.Context) ([]string, error) {
	uri := libvirtHost(cfg)
	if uri == "" {
		return nil
	}
	return func(ctx context.Context) ([]string, error) {
		return libvirt.CleanStale(ctx, uri, cfg.Root)
	}
}

// hostLabel names the libvirt host of uri for people: the URI without
// any password.
func hostLabel(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.User == nil {
		return uri
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.User(u.User.Username())
	}
	return strings.TrimSpace(u.String())
}

// closeAll closes each of its closers in order and returns the first
// error.
type closeAll []io.Closer

// Close implements io.Closer.
func (cs closeAll) Close() error {
	var first error
	for _, c := range cs {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
