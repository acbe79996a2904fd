package panel

import (
	"context"
	"fmt"
	"time"

	tea "charm.land/bubbletea/v2"
)

// VMRow is one VM as the VMs panel lists it: a VM some ukdev runs on this
// machine, for any project. Package vmsview names it Row.
type VMRow struct {
	Project, Flavor string
	// State is the VM's state word: "running", "paused", "crashed"
	// (frozen for inspection), "exited", "stopped", "building",
	// "starting" or "none".
	State  string
	Boot   int
	Uptime time.Duration
	Accel  string
	// CPU is QEMU's CPU use in percent of one host CPU.
	CPU float64
	// RSS is QEMU's resident memory in bytes.
	RSS int64
	// Ports are the forwarded ports as the status bar shows them
	// ("tcp 8080→80").
	Ports []string
	// PID is the owning ukdev's process.
	PID int
	// Attached reports that a dashboard shows the VM; Detached that it
	// runs without a terminal of its own (ukdev up).
	Attached, Detached bool
	// Self marks the VM of the dashboard that lists it.
	Self bool
}

// VMAction is what the VMs panel asks of a listed VM. Package vmsview
// names it Action.
type VMAction int

// The actions on a listed VM.
const (
	VMPause VMAction = iota + 1
	VMResume
	VMReboot
	VMStop
)

// String names the action as the panel says it: "pause", "resume",
// "reboot", "stop".
func (a VMAction) String() string {
	switch a {
	case VMPause:
		return "pause"
	case VMResume:
		return "resume"
	case VMReboot:
		return "reboot"
	case VMStop:
		return "stop"
	}
	return fmt.Sprintf("VMAction(%d)", int(a))
}

// VMSource is where the VMs panel gets the VMs of this machine and acts on
// them. Package vmsview names it Source. List and Act may block (they
// talk to other processes): the panel calls them only inside tea.Cmds.
type VMSource interface {
	// List returns the VMs running on this machine, all projects.
	List(ctx context.Context) ([]VMRow, error)
	// Act pauses, resumes, reboots or stops the project's VM.
	Act(ctx context.Context, project string, a VMAction) error
	// Attach returns the command that shows the project's VM in this
	// terminal until the user detaches; the panel runs it with tea.Exec,
	// which suspends this dashboard meanwhile. Attach itself only builds
	// the command: the work happens in its Run.
	Attach(project string) tea.ExecCommand
}
