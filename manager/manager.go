// Package manager is ukdev's local hypervisor manager: a per-user registry
// of the running ukdev loops (one entry each, kept alive by a flock its
// owner holds for its life), the control socket every loop serves (JSON
// lines: status, pause, resume, reboot, stop, quit, attach, and the ops the
// wiring adds with Server.Handle), and the client that ukdev ps, stop,
// pause, resume, reboot, down and attach use.
//
// Every file it writes is the user's alone: the registry directory and the
// runtime dirs are 0700, the sockets and entries 0600, and another user's
// entries are neither listed nor touched.
package manager

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/ukdev/ukdev/project"
	"github.com/ukdev/ukdev/vm/libvirt"
)

// SocketName is the control socket's file name in a project's runtime dir.
const SocketName = "ctl.sock"

// Entry is one running ukdev loop as the registry records it.
type Entry struct {
	// Project is the project's name; Root its root directory (real path).
	Project string `json:"project"`
	Root    string `json:"root"`
	Flavor  string `json:"flavor"`
	// PID is the ukdev process that runs the loop.
	PID int `json:"pid"`
	// Socket is the loop's control socket.
	Socket string `json:"socket"`
	// Detached is true for a ukdev started by ukdev up, without a
	// terminal: ukdev down ends it, and ukdev attach shows it.
	Detached bool `json:"detached"`
	// Started is when the loop started.
	Started time.Time `json:"started"`
	// Host is the libvirt URI of the host the loop's VMs run on, any
	// password removed; empty when QEMU runs them on this machine.
	Host string `json:"host,omitempty"`
}

// VM is a running loop and what its VM does, as ukdev ps shows it; or
// (Merge) a libvirt domain of ukdev's that no running loop of this
// machine owns, with Entry's Project, Root and Host, State, Domain and
// its owner set.
type VM struct {
	Entry
	// State is one of devloop's State words: running, paused, crashed
	// (frozen for inspection), exited, stopped, building, starting, none.
	State string `json:"state"`
	// Boot and Build are the current (or last) boot and its build.
	Boot  int `json:"boot,omitempty"`
	Build int `json:"build,omitempty"`
	// QEMUPID is the VM's QEMU process; 0 when none runs.
	QEMUPID int    `json:"qemu_pid,omitempty"`
	Accel   string `json:"accel,omitempty"`
	// Since is when State began; Uptime is how long the guest has run,
	// pauses excluded.
	Since  time.Time     `json:"since,omitzero"`
	Uptime time.Duration `json:"uptime_ns"`
	// CPUTime is the CPU QEMU used; CPUPercent its use over the last
	// sampling interval (ListSampled), in percent of one host CPU.
	CPUTime    time.Duration `json:"cpu_time_ns"`
	CPUPercent float64       `json:"cpu_percent"`
	// RSS is QEMU's resident memory in bytes.
	RSS int64 `json:"rss_bytes"`
	// Ports are the forwarded ports ("tcp 8080→80").
	Ports []string `json:"ports,omitempty"`
	// Attached is true while a dashboard shows the VM: the ukdev's own
	// (a foreground ukdev dev) or one attached with ukdev attach.
	Attached bool `json:"attached"`
	// Exit says how the last boot ended.
	Exit string `json:"exit,omitempty"`
	// Error says why the loop's control socket did not answer; the other
	// fields but Entry are then unknown.
	Error string `json:"error,omitempty"`
	// Domain is the libvirt domain on Host that runs the VM (see Merge).
	Domain string `json:"domain,omitempty"`
	// OwnerHost and OwnerPID are, for a domain no running loop of ours
	// owns, the hostname and pid of the ukdev that created it; Orphan
	// is true when that ukdev was of this machine and no longer runs
	// (the next ukdev start on the host destroys the domain).
	OwnerHost string `json:"owner_host,omitempty"`
	OwnerPID  int    `json:"owner_pid,omitempty"`
	Orphan    bool   `json:"orphan,omitempty"`
}

// ErrNotFound is returned (wrapped) by Find when no running loop matches.
var ErrNotFound = errors.New("no running ukdev matches")

// ErrAmbiguous is returned (wrapped) by Find when several loops match.
var ErrAmbiguous = errors.New("several running ukdevs match")

// NewEntry describes the loop of cfg run by this process, its control
// socket in the project's runtime dir (which it creates, 0700).
func NewEntry(cfg *project.Config, detached bool) (Entry, error) {
	dir, err := project.RuntimeDir(cfg)
	if err != nil {
		return Entry{}, fmt.Errorf("manager: %w", err)
	}
	root := cfg.Root
	if real, err := filepath.EvalSymlinks(root); err == nil {
		root = real
	}
	return Entry{
		Project:  cfg.Name,
		Root:     root,
		Flavor:   cfg.Flavor,
		PID:      os.Getpid(),
		Socket:   filepath.Join(dir, SocketName),
		Detached: detached,
		Started:  time.Now(),
		Host:     hostURI(cfg),
	}, nil
}

// hostURI returns the libvirt URI cfg's VMs run on, without a password,
// or "" when they run under QEMU here.
func hostURI(cfg *project.Config) string {
	if cfg.VM.Backend != project.BackendLibvirt {
		return ""
	}
	return redactURI(libvirt.ResolveURI(cfg.VM.LibvirtURI))
}

// redactURI removes the password from uri's user information; a URI
// that does not parse is returned as it is (the loop could not have
// reached it anyway).
func redactURI(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.User == nil {
		return uri
	}
	if _, ok := u.User.Password(); !ok {
		return uri
	}
	u.User = url.User(u.User.Username())
	return u.String()
}
