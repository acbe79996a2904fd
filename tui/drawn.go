package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
)

// Bubble Tea asks for the whole screen after every message, and most
// messages of an idle dashboard change nothing on it, or one panel: a
// tick, a sample of the memory panel that reads the same values, a
// metrics sample. drawn keeps what the costly parts of the screen were
// drawn from and the lines drawn, so that a View after such a message
// frames and measures again only what changed. The caches are keyed on
// everything their lines are drawn from: a hit is the same text.

// drawn is the root model's cache of rendered parts. The Model is a
// value that Bubble Tea copies; they share one drawn.
type drawn struct {
	frames [numPanels]drawnFrame
	status drawnLines
	footer drawnLines
}

// drawnFrame is panel i's frame as last drawn, and what it was drawn
// from.
type drawnFrame struct {
	ok      bool
	r       rect
	focused bool
	title   string
	hint    string
	view    string
	lines   []string
}

// drawnLines is a part of the screen as last drawn, and the key it was
// drawn from.
type drawnLines struct {
	ok    bool
	key   string
	lines []string
}

// frameLines returns the cached frame of panel i when it was drawn from
// the same inputs, else draws it with draw and keeps it.
func (d *drawn) frameLines(i int, f drawnFrame, draw func() []string) []string {
	if d == nil {
		return draw()
	}
	c := &d.frames[i]
	if c.ok && c.r == f.r && c.focused == f.focused && c.title == f.title && c.hint == f.hint && c.view == f.view {
		return c.lines
	}
	f.ok, f.lines = true, draw()
	*c = f
	return f.lines
}

// cached returns c's lines when they were drawn from key, else draws
// them with draw and keeps them.
func (c *drawnLines) cached(key string, draw func() []string) []string {
	if c.ok && c.key == key {
		return c.lines
	}
	c.ok, c.key, c.lines = true, key, draw()
	return c.lines
}

// bindingsKey is what the short help of bindings is drawn from: each
// enabled binding's help text.
func bindingsKey(bindings []key.Binding) string {
	var sb strings.Builder
	for _, b := range bindings {
		if !b.Enabled() {
			continue
		}
		h := b.Help()
		sb.WriteString(h.Key)
		sb.WriteByte(0)
		sb.WriteString(h.Desc)
		sb.WriteByte(0)
	}
	return sb.String()
}
