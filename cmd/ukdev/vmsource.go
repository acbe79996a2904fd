package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/ukdev/ukdev/manager"
	"github.com/ukdev/ukdev/tui/panel"
)

// vmSource is the dashboard's VMs panel's view of package manager: the
// VMs every ukdev of this user runs, and the actions on them.
type vmSource struct {
	mu    sync.Mutex
	roots map[string]string // project → root, from the last List
}

// panelSampleGap is the time between the two status rounds of a listing
// for the VMs panel, over which each QEMU's CPU use is measured.
const panelSampleGap = 250 * time.Millisecond

// List implements panel.VMSource.
func (s *vmSource) List(ctx context.Context) ([]panel.VMRow, error) {
	vms, err := manager.ListSampled(ctx, panelSampleGap)
	if err != nil {
		return nil, err
	}
	self := os.Getpid()
	rows := make([]panel.VMRow, 0, len(vms))
	roots := make(map[string]string, len(vms))
	for _, v := range vms {
		state := v.State
		if v.Error != "" {
			state = "unreachable"
		}
		roots[v.Project] = v.Root
		rows = append(rows, panel.VMRow{Project: v.Project, Flavor: v.Flavor, State: state, Boot: v.Boot,
			Uptime: v.Uptime, Accel: v.Accel, CPU: v.CPUPercent, RSS: v.RSS, Ports: v.Ports, PID: v.PID,
			Attached: v.Attached, Detached: v.Detached, Self: v.PID == self})
	}
	s.mu.Lock()
	s.roots = roots
	s.mu.Unlock()
	return rows, nil
}

// target is what names project's ukdev to manager.Find: its root as last
// listed (two projects may share a name), else the name.
func (s *vmSource) target(project string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if root, ok := s.roots[project]; ok {
		return root
	}
	return project
}

// Act implements panel.VMSource.
func (s *vmSource) Act(ctx context.Context, project string, a panel.VMAction) error {
	v, err := manager.Find(ctx, s.target(project))
	if err != nil {
		return err
	}
	c, err := manager.Dial(ctx, v.Entry)
	if err != nil {
		return err
	}
	defer c.Close()
	switch a {
	case panel.VMPause:
		return c.Pause(ctx)
	case panel.VMResume:
		return c.Resume(ctx)
	case panel.VMReboot:
		return c.Reboot(ctx)
	case panel.VMStop:
		return c.Stop(ctx)
	}
	return fmt.Errorf("%s: not an action on a VM", a)
}

// Attach implements panel.VMSource: ukdev attach on the project, run on
// the dashboard's terminal while the dashboard is suspended.
func (s *vmSource) Attach(project string) tea.ExecCommand {
	return &attachCmd{target: s.target(project)}
}

// attachCmd runs `ukdev attach <target>` on the dashboard's terminal.
type attachCmd struct {
	target      string
	in          io.Reader
	out, errOut io.Writer
}

func (c *attachCmd) SetStdin(r io.Reader)  { c.in = r }
func (c *attachCmd) SetStdout(w io.Writer) { c.out = w }
func (c *attachCmd) SetStderr(w io.Writer) { c.errOut = w }

// Run runs ukdev attach and returns once the user detached from the
// other VM. The terminal must be real files: the other ukdev is handed
// their descriptors.
func (c *attachCmd) Run() error {
	in, inOK := c.in.(*os.File)
	out, outOK := c.out.(*os.File)
	if !inOK || !outOK {
		return errors.New("attach: the dashboard's terminal cannot be handed over")
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("attach: %w", err)
	}
	var stderr strings.Builder
	cmd := exec.Command(exe, "attach", c.target)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = in, out, &stderr
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(strings.TrimPrefix(stderr.String(), "ukdev: ")); msg != "" {
			return errors.New(msg)
		}
		return fmt.Errorf("attach: %w", err)
	}
	return nil
}
