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
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/ukdev/ukdev/vm"
)

// Backend starts machines as transient domains of one libvirt daemon.
// The zero value uses ResolveURI("") and DefaultPool. It is used as a
// pointer and is safe for concurrent use.
//
// Every machine of a Backend shares one connection to the daemon, dialled
// on first use and dialled again when it dropped: a hot reboot on a host
// reached over ssh pays no new ssh and no new handshake. Domains are
// started auto-destroyed, so they end with that connection; Close ends
// it, and with it the port tunnels the Backend keeps for its machines.
type Backend struct {
	// URI is the libvirt connection URI; empty means ResolveURI("").
	URI string
	// Pool is the storage pool images are uploaded to; empty means
	// DefaultPool, which is created when missing (at PoolDir, or
	// DefaultPoolDir).
	Pool    string
	PoolDir string
	// Network is a libvirt network (virsh net-list) the guests of
	// machines with vm.Spec.Network join, instead of QEMU's user-mode
	// network; empty: user-mode networking. Ports cannot be forwarded to
	// a guest on such a network (AddPortForward fails with
	// vm.ErrNoNetwork).
	Network string
	// Owner is recorded in each domain's metadata; Host and PID default
	// to this machine's hostname and process.
	Owner Owner

	mu       sync.Mutex
	l        *golibvirt.Libvirt
	events   *lifecycleHub
	closed   bool
	machines map[*Machine]struct{}
	// forwards are the local listeners of the ports forwarded to a
	// remote host, by "tcp/ADDR:PORT": kept across machines until Close.
	forwards map[string]*forward
}

// ErrClosed means the Backend was closed: it starts no more machines.
var ErrClosed = errors.New("libvirt: backend closed")

// installedLimit bounds Installed's dial: a host that does not answer
// (ssh waiting on a dead address) is an error, not a hang.
const installedLimit = 30 * time.Second

// closeLimit bounds each step of Close: stopping a machine, closing the
// connection.
const closeLimit = 10 * time.Second

var _ vm.Backend = (*Backend)(nil)

// Installed reports whether the libvirt daemon at the backend's URI
// answers within installedLimit (the connection is then the one machines
// use). binary, the QEMU binary, is the host's: an absolute path must be
// one the host's libvirt can run; a bare name (vm.DefaultQEMU) or empty
// leaves the choice to libvirt.
func (b *Backend) Installed(binary string) error {
	ctx, cancel := context.WithTimeout(context.Background(), installedLimit)
	defer cancel()
	l, err := b.conn(ctx)
	if err != nil {
		return err
	}
	if emulator(binary) == nil {
		return nil
	}
	if _, err := l.ConnectGetDomainCapabilities(emulator(binary), nil, nil, golibvirt.OptString{"qemu"}, 0); err != nil {
		return fmt.Errorf("libvirt: %s on %s: %w", binary, Redact(ResolveURI(b.URI)), err)
	}
	return nil
}

// ProbeAccel asks the host's libvirt whether it can run KVM domains for
// binary (empty: its default emulator); TCG otherwise. A host whose KVM
// is present but broken is only found out by booting.
func (b *Backend) ProbeAccel(ctx context.Context, binary string) vm.Accel {
	uri := Redact(ResolveURI(b.URI))
	l, err := b.conn(ctx)
	if err != nil {
		return vm.Accel{Name: "tcg", Reason: "libvirt at " + uri + " unreachable — using TCG"}
	}
	if _, err := l.ConnectGetDomainCapabilities(emulator(binary), golibvirt.OptString{"x86_64"}, nil, golibvirt.OptString{"kvm"}, 0); err != nil {
		return vm.Accel{Name: "tcg", Reason: "no KVM on " + uri + " — using TCG"}
	}
	return vm.Accel{Name: "kvm", Reason: "KVM on " + uri}
}

// conn returns the Backend's connection, dialled when there is none or
// the last one dropped. ctx bounds the dial.
func (b *Backend) conn(ctx context.Context) (*golibvirt.Libvirt, error) {
	l, _, err := b.session(ctx)
	return l, err
}

// session returns the Backend's connection (see conn) and the hub of its
// lifecycle events.
func (b *Backend) session(ctx context.Context) (*golibvirt.Libvirt, *lifecycleHub, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, nil, ErrClosed
	}
	if b.l != nil && !isClosed(b.l.Disconnected()) {
		return b.l, b.events, nil
	}
	l, err := Dial(ctx, b.URI)
	if err != nil {
		return nil, nil, err
	}
	// The subscription ends with the connection.
	subCtx, cancel := context.WithCancel(context.Background())
	go func() {
		<-l.Disconnected()
		cancel()
	}()
	events, err := startLifecycleHub(subCtx, l)
	if err != nil {
		_ = l.Disconnect()
		return nil, nil, fmt.Errorf("libvirt: lifecycle events of %s: %w", Redact(ResolveURI(b.URI)), err)
	}
	b.l, b.events = l, events
	return l, events, nil
}

// track records a running machine, for Close; it fails once the Backend
// is closed.
func (b *Backend) track(m *Machine) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	if b.machines == nil {
		b.machines = make(map[*Machine]struct{})
	}
	b.machines[m] = struct{}{}
	return nil
}

// untrack forgets a machine that has exited.
func (b *Backend) untrack(m *Machine) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.machines, m)
	for _, f := range b.forwards {
		f.release(m)
	}
}

// Close stops the Backend's machines (their domains are destroyed),
// closes the port tunnels, so their local ports are free again, and the
// connection to the daemon. It is idempotent; Start fails with ErrClosed
// afterwards.
func (b *Backend) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	machines := make([]*Machine, 0, len(b.machines))
	for m := range b.machines {
		machines = append(machines, m)
	}
	forwards := b.forwards
	b.forwards = nil
	l := b.l
	b.l = nil
	b.mu.Unlock()

	var wg sync.WaitGroup
	for _, m := range machines {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), closeLimit)
			defer cancel()
			_ = m.Stop(ctx)
		})
	}
	wg.Wait()
	var errs []error
	for _, f := range forwards {
		if err := f.tun.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if l != nil {
		done := make(chan struct{})
		go func() {
			// libvirtd destroys what is left of the auto-destroyed domains.
			// virt-ssh-helper may end the stream before the reply of the
			// close arrives ("procedure interrupted"): the transport is
			// closed all the same.
			_ = l.Disconnect()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(closeLimit):
			errs = append(errs, fmt.Errorf("libvirt: close connection to %s: %w", Redact(ResolveURI(b.URI)), context.DeadlineExceeded))
		}
	}
	return errors.Join(errs...)
}

// localURI reports whether uri reaches a daemon of this machine through
// its unix socket (qemu:///system, qemu+unix:///session): then a port
// the domain's QEMU binds is this machine's.
func localURI(uri string) bool {
	u, err := url.Parse(uri)
	if err != nil {
		return false
	}
	return u.Host == "" && (u.Scheme == "qemu" || u.Scheme == "qemu+unix")
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
