// Package panel is the contract between the dashboard's root model (package
// tui) and its panels (console, logs, build, memory, metrics, VMs): the Panel
// interface, the dependencies every panel shares, the styles and the
// messages the root broadcasts.
package panel

import (
	"context"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/logs"
)

// Panel is one pane of the dashboard. The root model owns the layout and the
// focus; a panel renders exactly Width×Height cells of content (the root
// draws the border and the title around it).
//
// Update and View never block and never do I/O: anything slow runs in a
// tea.Cmd whose result comes back as a message.
type Panel interface {
	// Init returns the panel's first commands (e.g. loading history).
	Init() tea.Cmd
	// Update handles a message. Key and mouse messages reach only the
	// focused panel; EventsMsg, TickMsg and the panel's own messages reach
	// every panel.
	Update(msg tea.Msg) (Panel, tea.Cmd)
	// View renders the content, exactly the size given to SetSize.
	View() string
	// SetSize sets the content size in cells. Panels keep their scroll
	// position across resizes.
	SetSize(width, height int)
	// Title is shown in the border, with any mode the user should see
	// ("logs · filter /err/i").
	Title() string
	// Focus tells the panel whether it has the keyboard.
	Focus(focused bool)
	// Capturing reports whether the panel wants every key now (console
	// input mode, a search prompt): the root then sends it all keys, and
	// global keys such as q do not fire.
	Capturing() bool
	// KeyBindings lists the panel's own keys for the footer and the help
	// overlay, from its keymap (never duplicated by hand).
	KeyBindings() []key.Binding
}

// Visibility is implemented by a panel that works only while it is on
// screen (it polls or samples something): the root calls SetVisible after
// every layout change, and when the help overlay or the deploy or crash
// view opens or closes over the panels, with whether the panel's content
// shows, and runs the command it returns (a first poll when it appears).
type Visibility interface {
	SetVisible(visible bool) tea.Cmd
}

// Ticker is implemented by a panel that needs TickMsg while in some state
// (sampling or polling while on screen): the root sends TickMsg only while
// some Ticker is Ticking, or something else on screen moves with time, so
// a panel that is not Ticking may see none for minutes. The root asks
// after every message.
type Ticker interface {
	Ticking() bool
}

// KeyOwner is implemented by a panel some of whose keys, while it has the
// focus, are its own rather than the dashboard's global keys with the same
// key (the VMs panel's p pauses the selected VM, not this dashboard's):
// the root then sends them to the panel and leaves the global bindings out
// of the footer and the help overlay.
type KeyOwner interface {
	OwnKeys() []key.Binding
}

// Control is what panels may ask of the dev loop. *devloop.Loop implements
// it; tests use a fake.
type Control interface {
	Reboot()
	Rebuild()
	StopVM()
	StartVM()
	TogglePause()
	ToggleWatch()
	WriteConsole(p []byte) error
}

// DeployControl is what the deploy view asks of the dev loop: a deploy
// of the running build in two steps, the plan, then the answer.
// *devloop.Loop implements it; tests use a fake.
type DeployControl interface {
	// PlanDeploy starts a deploy to the [deploy.<name>] named (the
	// default one when empty); its plan comes as a deploy.plan event.
	PlanDeploy(name string)
	// ConfirmDeploy goes ahead with the plan shown.
	ConfirmDeploy()
	// CancelDeploy declines the plan or cancels the deploy that runs.
	CancelDeploy()
}

// GDB opens QEMU's gdb stub on the running VM. *devloop.Loop implements
// it; tests use a fake.
type GDB interface {
	// OpenGDB opens the stub (with tcp on a loopback port, else on a
	// private unix socket) and returns the gdb command line that
	// attaches.
	OpenGDB(ctx context.Context, tcp bool) (devloop.GDBSession, error)
}

// Deps are the dependencies every panel shares, given once at creation.
type Deps struct {
	Styles  *Styles
	Control Control
	// Deploy runs deploys from the dashboard; nil disables them.
	Deploy DeployControl
	// VMs lists the VMs of this machine and acts on them for the VMs
	// panel; nil: the panel says the VM manager is not available.
	VMs VMSource
	// GDB opens gdb on the running VM (the g key); nil disables it.
	GDB GDB
	// Core writes core files of the VM from the crash view; nil disables
	// it.
	Core CoreDumper
	// Store is the per-boot log store (history of earlier boots); may be nil.
	Store *logs.Store
	// Ring holds the recent lines of every source; may be nil.
	Ring *logs.Ring
	// LiveSince is when the event stream the panels receive began: every
	// line from then on arrives as an event, so history read from Store
	// and Ring stops there. Zero means when the panel loads its history.
	LiveSince time.Time
	// StateDir is the project's state directory, where files the user asks
	// for (saved logs) are written: never the watched tree. "" is the
	// working directory.
	StateDir string
	// Now is the clock; tests pin it.
	Now func() time.Time
	// Context ends when the dashboard quits; commands use it.
	Context context.Context
}

// EventsMsg carries a batch of loop events, in order. The root batches them
// (every ~40 ms or 512 events) so a flooding guest does not flood Update.
type EventsMsg []devloop.Event

// TickMsg arrives about once a second while a Ticker panel is Ticking (or
// a running deploy's clock shows), for sampling; otherwise only when the
// status bar's uptime changes, or not at all.
type TickMsg time.Time
