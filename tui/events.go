package tui

import (
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/tui/panel"
)

// Event batching: a flooding guest sends thousands of lines a second, and
// one Update per line would starve the keyboard. Batches are flushed after
// batchEvery or at batchMax events, whichever comes first.
const (
	batchEvery = 40 * time.Millisecond
	batchMax   = 512
)

// eventsClosedMsg says the loop's event stream has ended: the loop has
// stopped, its VM is gone, and the dashboard quits.
type eventsClosedMsg struct{}

// waitEvents is the re-armed command that reads the loop's events: it waits
// for one, collects what follows for up to every or until it holds max,
// and returns them as one panel.EventsMsg. Update re-arms it after each
// batch; it returns eventsClosedMsg once the stream is closed and drained.
func waitEvents(ch <-chan devloop.Event, every time.Duration, max int) tea.Cmd {
	return func() tea.Msg {
		e, ok := <-ch
		if !ok {
			return eventsClosedMsg{}
		}
		batch := make(panel.EventsMsg, 1, 64)
		batch[0] = e
		timer := time.NewTimer(every)
		defer timer.Stop()
		for len(batch) < max {
			select {
			case e, ok := <-ch:
				if !ok {
					return batch // the next wait reports the end
				}
				batch = append(batch, e)
			case <-timer.C:
				return batch
			}
		}
		return batch
	}
}
