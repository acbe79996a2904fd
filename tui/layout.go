package tui

// The panels, in focus order; the digit keys 1…6 name them in this order.
const (
	panelConsole = iota
	panelLogs
	panelBuild
	panelMemory
	panelMetrics
	panelVMs
	numPanels
)

// The metrics and VMs panels share one place on the screen, as two tabs:
// the one focused last shows, and the other's name waits in its border.
// Both are looked at now and then, beside the console rather than
// instead of it, so a sixth place would only take room from the others.
// numSlots is how many places the panels take.
const numSlots = numPanels - 1

// tabNames are the names the border of the shared place shows for the tab
// that does not show.
var tabNames = map[int]string{panelMetrics: "metrics", panelVMs: "VMs"}

// tabMate returns the panel that shares panel i's place, or false.
func tabMate(i int) (int, bool) {
	switch i {
	case panelMetrics:
		return panelVMs, true
	case panelVMs:
		return panelMetrics, true
	}
	return 0, false
}

// Layout limits.
const (
	// minWidth and minHeight are the smallest terminal the dashboard draws
	// in; below it says so.
	minWidth, minHeight = 60, 15
	// gridWidth and gridHeight are the smallest body that gets the grid;
	// smaller ones stack the panels.
	gridWidth, gridHeight = 100, 24
	// oneLineStatus is the width from which the status bar fits one line.
	oneLineStatus = 130
	// stackedMin is the height the focused panel needs (border included)
	// before unfocused stacked panels get a line of content each.
	stackedMin = 8
)

// rect is a panel's frame (border included) on the screen. A frame of
// height 1 is a collapsed panel: only its title line shows.
type rect struct{ x, y, w, h int }

func (r rect) empty() bool { return r.w <= 0 || r.h <= 0 }

func (r rect) contains(x, y int) bool {
	return !r.empty() && x >= r.x && x < r.x+r.w && y >= r.y && y < r.y+r.h
}

// content is the part inside the border.
func (r rect) content() rect { return rect{r.x + 1, r.y + 1, r.w - 2, r.h - 2} }

// arrange places the panels' frames in body. The frames of visible panels
// tile body exactly; hidden panels get an empty rect. tab is the one of
// the metrics and VMs panels that shows in their shared place.
//
// Wide bodies get the grid: the console large on the left, logs over build
// on the right, memory and metrics (or VMs) along the bottom. Narrow ones
// stack the panels; the focused one takes what the others leave.
// Maximised, the focused panel takes the whole body.
func arrange(body rect, focus int, maximised bool, tab int) [numPanels]rect {
	var out [numPanels]rect
	if maximised {
		out[focus] = body
		return out
	}
	if body.w >= gridWidth && body.h >= gridHeight {
		bottom := max(6, body.h*3/10)
		top := body.h - bottom
		left := body.w * 3 / 5
		right := body.w - left
		logs := (top + 1) / 2
		half := body.w / 2
		out[panelConsole] = rect{body.x, body.y, left, top}
		out[panelLogs] = rect{body.x + left, body.y, right, logs}
		out[panelBuild] = rect{body.x + left, body.y + logs, right, top - logs}
		out[panelMemory] = rect{body.x, body.y + top, half, bottom}
		out[tab] = rect{body.x + half, body.y + top, body.w - half, bottom}
		return out
	}
	others := 3 // a border and one line of content
	if body.h-(numSlots-1)*others < stackedMin {
		others = 1
	}
	y := body.y
	for _, i := range []int{panelConsole, panelLogs, panelBuild, panelMemory, tab} {
		h := others
		if i == focus {
			h = body.h - (numSlots-1)*others
		}
		out[i] = rect{body.x, y, body.w, h}
		y += h
	}
	return out
}
