package tui

import (
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/ukdev/ukdev/tui/panel"
)

// The dashboard's clock. What moves on screen without an event moves on
// panel.TickMsg: the panels that sample or poll while on screen (metrics,
// memory, VMs: panel.Ticker), a running deploy's elapsed time, and the
// status bar's uptime. The tick runs only while one of them needs it, and
// for the uptime only when its text changes (every second in the first
// minute, then every minute): an idle dashboard with the console in front
// wakes once a minute, and not at all while no VM runs. Every wake-up
// costs a frame and the renderer's frames after it, which in an idle
// dashboard were most of ukdev's CPU.

// tickEvery is the rhythm of the panels that sample, and of a deploy's
// clock.
const tickEvery = time.Second

// tileEvery is the rhythm of a sampling panel (metrics, memory) shown as
// a tile of the grid, neither focused nor maximised: every change on
// screen costs a frame and the renderer's idle frames after it, and a
// tile nobody works in needs no more. The tiles share one beat (tileBeat)
// so that the screen changes once per tileEvery, not once per tile.
const tileEvery = 2 * time.Second

// sampler reports whether panel i is a sampling panel, which refreshes at
// tileEvery while a tile.
func sampler(i int) bool { return i == panelMetrics || i == panelMemory }

// tickInterval is how often panel i needs a tick: 0 when it does not tick,
// tileEvery for a sampling panel shown as an unfocused tile of the grid,
// else tickEvery.
func tickInterval(i, focus int, maximised, ticking bool) time.Duration {
	switch {
	case !ticking:
		return 0
	case sampler(i) && i != focus && !maximised:
		return tileEvery
	}
	return tickEvery
}

// panelEvery is tickInterval for panel i of m.
func (m *Model) panelEvery(i int) time.Duration {
	t, ok := m.panels[i].(panel.Ticker)
	return tickInterval(i, m.focus, m.maximised, ok && t.Ticking())
}

// onBeat reports whether a tick at is on the tiles' beat: at or after
// tileBeat, less half a tick so that the beat falls on every other tick
// of a one-second rhythm beside it.
func (m *Model) onBeat(at time.Time) bool {
	return !at.Before(m.tileBeat.Add(-tickEvery / 2))
}

// tickMsg is the root's own timer firing: gen says which arming it is,
// so that a tick made stale by an earlier one armed since is dropped.
type tickMsg struct {
	gen int
	at  time.Time
}

// onTick broadcasts the armed tick to the panels as a panel.TickMsg; a
// stale one does nothing. Update arms the next tick, if any is needed.
func (m *Model) onTick(msg tickMsg) tea.Cmd {
	if msg.gen != m.tickGen || m.tickDue.IsZero() {
		return nil
	}
	m.tickDue = time.Time{}
	beat := m.onBeat(msg.at)
	tiles := false
	cmds := make([]tea.Cmd, 0, numPanels)
	for i := range m.panels {
		if m.panelEvery(i) == tileEvery {
			if !beat {
				continue // a tile off the beat keeps what it shows
			}
			tiles = true
		}
		if cmd := m.updatePanel(i, panel.TickMsg(msg.at)); cmd != nil {
			cmds = append(cmds, cmd)
		}
	}
	if tiles {
		m.tileBeat = msg.at.Add(tileEvery)
	}
	return tea.Batch(cmds...)
}

// armTick arms the tick for the next moment something on screen needs
// it, unless one already armed comes no later: it returns the timer's
// command, or nil.
func (m *Model) armTick() tea.Cmd {
	now := m.deps.Now()
	due, ok := m.nextTick(now)
	if !ok || !m.tickDue.IsZero() && !m.tickDue.After(due) {
		return nil
	}
	m.tickGen++
	m.tickDue = due
	gen := m.tickGen
	return tea.Tick(due.Sub(now), func(t time.Time) tea.Msg { return tickMsg{gen: gen, at: t} })
}

// nextTick is when something on screen needs the next tick, after now:
// false when nothing does.
func (m *Model) nextTick(now time.Time) (time.Time, bool) {
	if m.deploy.Ticking() {
		return now.Add(tickEvery), true
	}
	tiles := false
	for i := range m.panels {
		switch m.panelEvery(i) {
		case tickEvery:
			return now.Add(tickEvery), true
		case tileEvery:
			tiles = true
		}
	}
	due, ok := m.status.uptimeChanges(now)
	if !tiles {
		return due, ok
	}
	// The tiles' beat; a beat that lapsed (no tile ticked since) starts
	// again a tick from now.
	beat := m.tileBeat
	if !beat.After(now) {
		beat = now.Add(tickEvery)
	}
	if ok && due.Before(beat) {
		return due, true
	}
	return beat, true
}
