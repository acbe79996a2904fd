package devloop

import (
	"context"
	"errors"
	"net"
	"strconv"
	"testing"

	"github.com/ukdev/ukdev/flavor"
	_ "github.com/ukdev/ukdev/flavor/all"
	"github.com/ukdev/ukdev/guestexit"
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/project"
	"github.com/ukdev/ukdev/project/projecttest"
)

// shipper is a kernel whose guest ships syslog when wants is set; it
// records the port it is pointed at.
type shipper struct {
	wants bool
	port  int
}

func (*shipper) Prepare(context.Context, *image.Store, int, image.Artifacts, ...int) (image.Image, error) {
	return image.Image{}, errors.New("shipper: not preparing")
}
func (*shipper) Decode(o image.Outcome) guestexit.Exit { return guestexit.Decode(o) }
func (s *shipper) WantsSyslog() bool                   { return s.wants }
func (s *shipper) SyslogTo(port int)                   { s.port = port }

// fakeFlavor opens every project with its kernel and a note, or fails
// with err.
type fakeFlavor struct {
	projecttest.Flavor
	k   flavor.Kernel
	err error
}

func (f fakeFlavor) Open(cfg *project.Config) (*flavor.Setup, error) {
	if f.err != nil {
		return nil, f.err
	}
	c := *cfg
	c.VM.MemoryMiB = 77
	return &flavor.Setup{Config: &c, Kernel: f.k, Notes: []string{"opened"}}, nil
}

var (
	errOpen     = errors.New("fake: cannot open")
	quietKernel = &shipper{}
	loudKernel  = &shipper{wants: true}
)

func init() {
	for _, f := range []fakeFlavor{
		{Flavor: "devloop-test-quiet", k: quietKernel},
		{Flavor: "devloop-test-syslog", k: loudKernel},
		{Flavor: "devloop-test-broken", err: errOpen},
	} {
		flavor.Register(f)
	}
}

// newFlavor opens the config's flavor by name, returns what Open
// completed, and starts a syslog receiver only for a kernel that wants
// one, after pointing the kernel at its port.
func TestNewFlavor(t *testing.T) {
	tests := []struct {
		name        string
		flavor      string
		wantErr     error // errors.Is; nil for success
		wantUnknown bool  // an error for an unknown flavor
		wantSink    bool
		vm          project.VM // where the VM runs; the zero value: here
		wantNote    bool       // a second note, saying syslog is not received
	}{
		{name: "no syslog", flavor: "devloop-test-quiet"},
		{name: "syslog", flavor: "devloop-test-syslog", wantSink: true},
		{name: "syslog from a local libvirt", flavor: "devloop-test-syslog", wantSink: true,
			vm: project.VM{Backend: project.BackendLibvirt, LibvirtURI: "qemu:///system"}},
		{name: "no syslog from a remote VM host", flavor: "devloop-test-syslog", wantNote: true,
			vm: project.VM{Backend: project.BackendLibvirt, LibvirtURI: "qemu+ssh://big/system"}},
		{name: "no syslog from a libvirt network", flavor: "devloop-test-syslog", wantNote: true,
			vm: project.VM{Backend: project.BackendLibvirt, LibvirtURI: "qemu:///system", LibvirtNetwork: "default"}},
		{name: "open fails", flavor: "devloop-test-broken", wantErr: errOpen},
		{name: "unknown flavor", flavor: "devloop-test-nope", wantUnknown: true},
		{name: "a registered flavor", flavor: "elf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &project.Config{Flavor: tt.flavor, Root: t.TempDir(), VM: tt.vm}
			cfg.VM.MemoryMiB = 128
			k, c, notes, sink, err := newFlavor(cfg)
			if sink != nil {
				defer sink.close()
			}
			switch {
			case tt.wantErr != nil || tt.wantUnknown:
				if err == nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Fatalf("newFlavor: %v, want an error (%v)", err, tt.wantErr)
				}
				if sink != nil {
					t.Error("a syslog receiver left open after an error")
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if k == nil || c == nil {
				t.Fatalf("kernel %v, config %v", k, c)
			}
			wantNotes := 1
			if tt.wantNote {
				wantNotes = 2
			}
			if tt.flavor != "elf" && (c.VM.MemoryMiB != 77 || len(notes) != wantNotes || cfg.VM.MemoryMiB != 128) {
				t.Errorf("memory %d (caller's %d), notes %q: want Open's config and %d notes", c.VM.MemoryMiB, cfg.VM.MemoryMiB, notes, wantNotes)
			}
			if (sink != nil) != tt.wantSink {
				t.Fatalf("syslog receiver %v, want %v", sink != nil, tt.wantSink)
			}
			if !tt.wantSink {
				return
			}
			port := k.(*shipper).port
			if got := sink.conn.LocalAddr().(*net.UDPAddr).Port; port == 0 || got != port {
				t.Errorf("kernel pointed at port %d, receiver on %d", port, got)
			}
			conn, err := net.Dial("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			if err != nil {
				t.Fatal(err)
			}
			conn.Close()
		})
	}
}
