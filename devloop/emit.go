package devloop

import (
	"fmt"
	"time"
)

// emit delivers an event, waiting for the reader.
func (l *Loop) emit(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	l.foldStatus(e)
	l.closeMu.RLock()
	defer l.closeMu.RUnlock()
	if !l.closed {
		l.events <- e
	}
}

// closeEvents ends the event stream; later emits are discarded.
func (l *Loop) closeEvents() {
	l.closeMu.Lock()
	defer l.closeMu.Unlock()
	l.closed = true
	close(l.events)
}

// emitConsole delivers a console line without ever blocking the VM: when
// the reader lags, lines are dropped and counted (they stay in the log file).
func (l *Loop) emitConsole(e Event) {
	l.closeMu.RLock()
	defer l.closeMu.RUnlock()
	if l.closed {
		return
	}
	if n := l.dropped.Swap(0); n > 0 {
		select {
		case l.events <- Event{Time: e.Time, Type: TypeVMDropped, Boot: e.Boot, Count: int(n),
			Message: fmt.Sprintf("%d console lines not shown (reader too slow); they are in the boot log", n)}:
		default:
			l.dropped.Add(n + 1)
			return
		}
	}
	select {
	case l.events <- e:
	default:
		l.dropped.Add(1)
	}
}

func (l *Loop) errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.log.Error(msg)
	l.emit(Event{Type: TypeError, Message: msg})
}
