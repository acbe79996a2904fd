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
	return m.broadcast(panel.TickMsg(msg.at))
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
	for _, p := range m.panels {
		if t, ok := p.(panel.Ticker); ok && t.Ticking() {
			return now.Add(tickEvery), true
		}
	}
	return m.status.uptimeChanges(now)
}
