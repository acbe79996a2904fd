package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/logs"
)

// printer renders loop events for the headless modes: one line per event,
// as text (`15:04:05.000 source  message`) or as JSON.
type printer struct {
	w    io.Writer
	json bool
	// color keeps the guest's SGR colours (stdout is a terminal); every
	// other escape sequence is always removed.
	color bool
}

func (p *printer) print(e devloop.Event) error {
	if e.Type.HasLine() {
		// Guest and build output are untrusted: never let them drive the
		// terminal that reads this stream.
		e.Line = logs.Sanitize(e.Line, p.color && !p.json)
		e.Message = e.Line
	}
	if p.json {
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		_, err = p.w.Write(append(b, '\n'))
		return err
	}
	_, err := fmt.Fprintln(p.w, plainLine(e, p.color))
	return err
}

// plainLine renders one event as `time source message`.
func plainLine(e devloop.Event, color bool) string {
	msg := e.Message
	if !e.Type.HasLine() {
		msg = logs.Sanitize(msg, false)
	}
	src := e.Source()
	if e.Type == devloop.TypeVMConsole && e.Boot > 0 {
		src = fmt.Sprintf("boot#%d", e.Boot)
	}
	switch e.Type {
	case devloop.TypeError:
		src = "error"
	case devloop.TypeDeployConsole:
		src = string(devloop.CloudSource(e.Deploy))
	}
	line := fmt.Sprintf("%s %-7s %s", e.Time.Format("15:04:05.000"), src, msg)
	if color && strings.IndexByte(msg, 0x1b) >= 0 {
		// A guest colour must not bleed into the next line.
		line += logs.ResetSGR
	}
	return line
}

// line prints one line of guest or build text on its own, as ukdev run's
// console, ukdev build and ukdev logs do: sanitised, with colours kept
// only with p.color (never in JSON mode) and then reset at the line's
// end, so that nothing the line sets outlives it.
func (p *printer) line(text string) error {
	_, err := fmt.Fprintln(p.w, logs.SanitizeLine(text, p.color && !p.json))
	return err
}
