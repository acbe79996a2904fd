package devloop

import (
	"fmt"
	"sync"
	"time"

	"github.com/ukdev/ukdev/logs"
	"github.com/ukdev/ukdev/vm"
)

// consoleWriter receives one boot's raw console bytes from the vm package:
// it appends them to the boot's log file (every byte, however fast the
// guest writes), splits lines for the ring and the event stream, and reports
// the reload timing at the first line.
type consoleWriter struct {
	l           *Loop
	boot, build int
	m           vm.Machine // set once QEMU runs; the first output flushes queued input

	mu        sync.Mutex
	split     *logs.Splitter
	file      *logs.BootWriter
	fileSet   bool     // setFile was called: early is no longer kept
	early     [][]byte // bytes that came before the log file was open
	clock     *reloadClock
	armed     bool
	gotOutput bool
	sawOutput bool          // the guest wrote, armed or not
	wrote     chan struct{} // closed once sawOutput; made by output
	held      []heldLine    // lines that came before armClock, for after vm.start
	gotFirst  bool
	finished  bool
	lastWrite time.Time // when the guest last wrote, for waitQuiet
	last      []string  // the boot's last lines, for crash reports
	// show, when set, hides firmware noise from the console view and
	// events (the log file keeps every byte).
	show func(line string) bool
}

// tailLines is how many of a boot's last console lines are kept for a
// flavor to explain how it ended.
const tailLines = 400

// tail returns a copy of the boot's last console lines.
func (w *consoleWriter) tail() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.last...)
}

func (w *consoleWriter) setFile(f *logs.BootWriter) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.file, w.fileSet = f, true
	if f != nil {
		for _, p := range w.early {
			_, _ = f.Write(p)
		}
	}
	// Without a file (opening it failed, and said so), keeping the bytes
	// would only grow memory for as long as the boot runs.
	w.early = nil
}

// output returns a channel closed once the guest has written anything.
func (w *consoleWriter) output() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.wrote == nil {
		w.wrote = make(chan struct{})
		if w.sawOutput {
			close(w.wrote)
		}
	}
	return w.wrote
}

// heldLine is a console line that came before its boot was announced.
type heldLine struct {
	at   time.Time
	text string
}

// armClock starts waiting for the first line of the boot, for the timing,
// and for the first output, to type in queued input. A guest that runs
// from its machine's start may have written before: its lines, held until
// now so that they follow the boot's vm.start, go out with the times they
// came at, and queued input is typed in at once.
func (w *consoleWriter) armClock(cont time.Time, m vm.Machine) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.m = m
	if w.clock != nil {
		w.clock.cont = cont
	}
	w.armed = true
	for _, h := range w.held {
		w.line(h.at, h.text)
	}
	w.held = nil
	if w.sawOutput && !w.gotOutput {
		w.gotOutput = true
		w.l.flushInput(m)
	}
}

// Write implements io.Writer for vm.StartOptions.Console. It never blocks on
// the event reader.
func (w *consoleWriter) Write(p []byte) (int, error) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lastWrite = now
	if w.finished {
		return len(p), nil
	}
	if !w.sawOutput {
		w.sawOutput = true
		if w.wrote != nil {
			close(w.wrote)
		}
	}
	if !w.gotOutput && w.m != nil {
		w.gotOutput = true
		w.l.flushInput(w.m)
	}
	if w.file != nil {
		if _, err := w.file.Write(p); err != nil {
			w.l.log.Warn("console log write", "boot", w.boot, "err", err)
		}
	} else if !w.fileSet {
		w.early = append(w.early, append([]byte(nil), p...))
	}
	for _, line := range w.split.Write(p) {
		if !w.armed {
			w.held = append(w.held, heldLine{at: now, text: line})
			continue
		}
		w.line(now, line)
	}
	return len(p), nil
}

func (w *consoleWriter) line(now time.Time, text string) {
	if !w.gotFirst && w.armed {
		w.gotFirst = true
		if w.clock != nil {
			if t := w.clock.timing(now); t != nil {
				w.l.emit(Event{Time: now, Type: TypeReload, Boot: w.boot, Build: w.build, Timing: t,
					Message: fmt.Sprintf("save → running in %.0f ms (debounce %.0f, build %.0f, image %.1f, qemu %.0f, ukdev %.1f)",
						t.TotalMS, t.DebounceMS, t.BuildMS, t.ImageMS, t.QEMUMS, t.OverheadMS)})
			}
		}
	}
	if w.show != nil && !w.show(text) {
		return
	}
	if len(w.last) == tailLines {
		w.last = append(w.last[:0], w.last[tailLines/2:]...)
	}
	w.last = append(w.last, text)
	w.l.ring.Append(logs.Line{Time: now, Boot: w.boot, Build: w.build, Source: logs.SourceConsole, Text: text})
	e := Event{Time: now, Type: TypeVMConsole, Boot: w.boot, Line: text, Message: text}
	annotate(w.l.flavor, &e)
	w.l.emitConsole(e)
}

// separator marks a reset inside the same boot in the log file.
func (w *consoleWriter) separator(what string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if p := w.split.Flush(); p != "" {
		w.line(time.Now(), p)
	}
	if w.file != nil {
		_, _ = fmt.Fprintf(w.file, "\r\n── %s · %s ──\r\n", what, time.Now().Format("15:04:05"))
	}
}

// flush delivers a last partial line.
func (w *consoleWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if p := w.split.Flush(); p != "" {
		w.line(time.Now(), p)
	}
}

// finish closes the boot's log file with its end.
func (w *consoleWriter) finish(end time.Time, reason string, code *int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.finished {
		return nil
	}
	w.finished = true
	if w.file == nil {
		return nil
	}
	return w.file.Finish(end, reason, code)
}

// waitQuiet waits until the guest has written nothing for quiet, or for at
// most limit: for a paused VM, that is when the pty has drained.
func (w *consoleWriter) waitQuiet(quiet, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for {
		w.mu.Lock()
		idle := time.Since(w.lastWrite)
		w.mu.Unlock()
		if idle >= quiet || time.Now().After(deadline) {
			return
		}
		// The pty copier offers nothing to wait on; poll at a fraction of
		// the quiet time.
		time.Sleep(quiet / 5)
	}
}
