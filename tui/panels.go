package tui

import (
	"github.com/ukdev/ukdev/tui/buildview"
	"github.com/ukdev/ukdev/tui/console"
	"github.com/ukdev/ukdev/tui/logview"
	"github.com/ukdev/ukdev/tui/memview"
	"github.com/ukdev/ukdev/tui/metricsview"
	"github.com/ukdev/ukdev/tui/panel"
	"github.com/ukdev/ukdev/tui/vmsview"
)

// newPanels builds the dashboard's panels, in focus order.
func newPanels(d panel.Deps, in panel.Inspector) [numPanels]panel.Panel {
	return [numPanels]panel.Panel{
		panelConsole: console.New(d),
		panelLogs:    logview.New(d),
		panelBuild:   buildview.New(d),
		panelMemory:  memview.New(d, in),
		panelMetrics: metricsview.New(d, in),
		panelVMs:     vmsview.New(d),
	}
}
