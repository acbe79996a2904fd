// Package libvirt is the libvirt backend of package vm: it runs each boot
// as a transient libvirt domain on a local or remote host (qemu:///system,
// qemu+ssh://host/system), uploads the image's files to a storage pool on
// that host, streams the serial console through libvirt's console API,
// follows the boot through libvirt's lifecycle and QEMU events, and
// inspects the guest through libvirt's memory peek and QEMU monitor
// passthrough (the QMP commands of package vm/qmpcmd, shared with
// vm/qemu). The domain XML is a pure function of a vm.Spec.
//
// The guest's exit code, which libvirt cannot report (it never sees QEMU's
// exit status), comes through an isa-debugcon at isa-debug-exit's port on
// a console of its own; see domainXML.
package libvirt

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/ukdev/ukdev/vm"
)

// Backend starts machines as transient domains of one libvirt daemon.
// The zero value uses ResolveURI("") and DefaultPool.
type Backend struct {
	// URI is the libvirt connection URI; empty means ResolveURI("").
	URI string
	// Pool is the storage pool images are uploaded to; empty means
	// DefaultPool, which is created when missing (at PoolDir, or
	// DefaultPoolDir).
	Pool    string
	PoolDir string
	// Owner is recorded in each domain's metadata; Host and PID default
	// to this machine's hostname and process.
	Owner Owner
	// Progress, if not nil, is told how each file's upload goes.
	Progress func(Upload)
}

var _ vm.Backend = (*Backend)(nil)

// Installed reports whether the libvirt daemon at the backend's URI
// answers. binary, the QEMU binary, is the host's: an absolute path must
// be one the host's libvirt can run; a bare name (vm.DefaultQEMU) or
// empty leaves the choice to libvirt.
func (b *Backend) Installed(binary string) error {
	l, err := Dial(context.Background(), b.URI)
	if err != nil {
		return err
	}
	defer l.Disconnect()
	if emulator(binary) == nil {
		return nil
	}
	if _, err := l.ConnectGetDomainCapabilities(emulator(binary), nil, nil, golibvirt.OptString{"qemu"}, 0); err != nil {
		return fmt.Errorf("libvirt: %s on %s: %w", binary, ResolveURI(b.URI), err)
	}
	return nil
}

// ProbeAccel asks the host's libvirt whether it can run KVM domains for
// binary (empty: its default emulator); TCG otherwise. A host whose KVM
// is present but broken is only found out by booting.
func (b *Backend) ProbeAccel(ctx context.Context, binary string) vm.Accel {
	uri := ResolveURI(b.URI)
	l, err := Dial(ctx, uri)
	if err != nil {
		return vm.Accel{Name: "tcg", Reason: "libvirt at " + uri + " unreachable — using TCG"}
	}
	defer l.Disconnect()
	if _, err := l.ConnectGetDomainCapabilities(emulator(binary), golibvirt.OptString{"x86_64"}, nil, golibvirt.OptString{"kvm"}, 0); err != nil {
		return vm.Accel{Name: "tcg", Reason: "no KVM on " + uri + " — using TCG"}
	}
	return vm.Accel{Name: "kvm", Reason: "KVM on " + uri}
}

// Start starts a machine for spec (see Start).
func (b *Backend) Start(ctx context.Context, spec vm.Spec, opts vm.StartOptions) (vm.Machine, error) {
	m, err := b.start(ctx, spec, opts)
	if err != nil {
		// A nil *Machine in the interface would not compare equal to nil.
		return nil, err
	}
	return m, nil
}

// emulator returns the emulator binary to name to libvirt for binary: an
// absolute path on the host, else none (libvirt's default; it takes no
// bare names).
func emulator(binary string) golibvirt.OptString {
	if !filepath.IsAbs(binary) {
		return nil
	}
	return golibvirt.OptString{binary}
}

// owner fills in the defaults of the Owner recorded in a domain.
func (b *Backend) owner() Owner {
	o := b.Owner
	if o.Host == "" {
		o.Host, _ = os.Hostname()
	}
	if o.PID == 0 {
		o.PID = os.Getpid()
	}
	return o
}

// newDomainName returns a fresh domain name: NamePrefix, the project's
// directory name when known, and random hex.
func newDomainName(o Owner) string {
	var r [4]byte
	_, _ = rand.Read(r[:])
	base := ""
	if o.Project != "" {
		base = sanitize(o.Project[strings.LastIndex(o.Project, "/")+1:]) + "-"
	}
	return NamePrefix + base + hex.EncodeToString(r[:])
}

// sanitize keeps the characters of s that are safe in a domain name.
func sanitize(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
			b.WriteRune(c)
		}
	}
	if b.Len() > 32 {
		return b.String()[:32]
	}
	return b.String()
}
