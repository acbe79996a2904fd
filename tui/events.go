package tui

import (
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/tui/panel"
)

// Event batching: a flooding guest sends thousands of lines a second, and
// one Update per line would starve the keyboard. Batches are flushed after
// batchEvery, at batchMax events or once their lines hold batchMaxBytes
// (a build printing 64 KiB lines would make 512 events 32 MiB), whichever
// comes first.
const (
	batchEvery    = 40 * time.Millisecond
	batchMax      = 512
	batchMaxBytes = 1 << 20
)

// batchLimits says when waitEvents flushes a batch.
type batchLimits struct {
	every  time.Duration // after the first event
	events int           // events in the batch
	bytes  int           // bytes of the events' lines
}

var defaultBatch = batchLimits{every: batchEvery, events: batchMax, bytes: batchMaxBytes}

// eventsClosedMsg says the loop's event stream has ended: the loop has
// stopped, its VM is gone, and the dashboard quits.
type eventsClosedMsg struct{}

// waitEvents is the re-armed command that reads the loop's events: it waits
// for one, collects what follows until a limit is reached, and returns
// them as one panel.EventsMsg. Update re-arms it after each batch; it
// returns eventsClosedMsg once the stream is closed and drained.
func waitEvents(ch <-chan devloop.Event, lim batchLimits) tea.Cmd {
	return func() tea.Msg {
		e, ok := <-ch
		if !ok {
			return eventsClosedMsg{}
		}
		// Sized for what is already queued, so that a flood's batches
		// do not regrow (an event is over 500 bytes: a 512-event batch grown
		// from 64 allocated nearly twice its size).
		batch := make(panel.EventsMsg, 1, max(1, min(max(64, len(ch)+1), lim.events)))
		batch[0] = e
		size := len(e.Line)
		timer := time.NewTimer(lim.every)
		defer timer.Stop()
		for len(batch) < lim.events && size < lim.bytes {
			select {
			case e, ok := <-ch:
				if !ok {
					return batch // the next wait reports the end
				}
				batch = append(batch, e)
				size += len(e.Line)
			case <-timer.C:
				return batch
			}
		}
		return batch
	}
}
