package logview

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/logs"
)

// line is one log line as the panel keeps it.
type line struct {
	seq uint64
	// at is when the line was produced; zero for lines read back from a
	// boot file, which records no per-line time.
	at     time.Time
	boot   int
	source logs.Source
	// text is sanitized (SGR kept only with colour) and tab-free; plain is
	// text without SGR, what patterns match against.
	text, plain string
	// level is the severity the flavor read from a console line
	// (devloop.Event.Level: "crit" … "debug"); "" when none, as for lines
	// read back from boot files.
	level string
}

// newLine sanitizes raw, cut to logs.MaxDisplayLine bytes with a marker
// (the boot file keeps the whole line), and fills text and plain.
func newLine(at time.Time, boot int, src logs.Source, raw string, keepSGR bool) line {
	raw = logs.TruncateLine(raw, logs.MaxDisplayLine)
	text := strings.ReplaceAll(logs.Sanitize(raw, keepSGR), "\t", "    ")
	plain := text
	if strings.IndexByte(text, 0x1b) >= 0 {
		plain = ansi.Strip(text)
	}
	return line{at: at, boot: boot, source: src, text: text, plain: plain}
}

// sourceOf sorts an event into one of the sources the panel filters on:
// the console, the guest's syslog, the build, the VM (QEMU, images,
// reloads, the app's health), a deployed instance's console (cloud:<name>) and ukdev itself
// (start, watching, deploys, errors).
func sourceOf(e devloop.Event) logs.Source {
	switch e.Type {
	case devloop.TypeVMSyslog:
		return logs.SourceSyslog
	case devloop.TypeDeployConsole:
		return devloop.CloudSource(e.Deploy)
	}
	switch e.Source() {
	case "console":
		return logs.SourceConsole
	case "build":
		return logs.SourceBuild
	case "vm", "image", "reload", "health":
		return logs.SourceVM
	default:
		return logs.SourceUkdev
	}
}

// eventText is what an event shows: the raw line for console and build
// output, the one-line message otherwise.
func eventText(e devloop.Event) string {
	if e.Type.HasLine() {
		return e.Line
	}
	return e.Message
}

// historyMsg carries the lines read from the log store and the ring, in
// order, to be put before the live lines.
type historyMsg struct {
	// stored are the lines of boot files, oldest boot first; storedBoots
	// lists the boots they came from.
	stored      []line
	storedBoots []int
	// recent are the ring's lines, oldest first.
	recent []line
	// err is a problem reading the store (the lines read are still
	// good).
	err error
}

// historyLimits bound what loadHistory reads.
type historyLimits struct {
	lines int   // most lines kept
	bytes int64 // most bytes read from boot files together
}

// loadHistory reads the recent lines of ring and, for the boots the ring
// does not hold, the tail of their boot files in store, newest first
// until the limits are reached. Lines and boots from liveSince on are left
// to the live events, which carry them too. Either source may be nil.
func loadHistory(store *logs.Store, ring *logs.Ring, liveSince time.Time, lim historyLimits, keepSGR bool) historyMsg {
	var msg historyMsg
	var snap []logs.Line
	if ring != nil {
		snap = ring.Snapshot()
	}
	// A line's event is stamped no later than its ring line, so a ring
	// line from liveSince on has its event in the live stream.
	evicted := len(snap) > 0 && snap[0].Seq > 1
	snap = slices.DeleteFunc(snap, func(l logs.Line) bool { return !l.Time.Before(liveSince) })
	if len(snap) > lim.lines {
		snap = snap[len(snap)-lim.lines:]
	}
	// Boots whose console lines the ring holds are shown from the ring,
	// with per-line times. When the ring has evicted lines, its oldest
	// boot may be cut: that boot is read from its file instead.
	inRing := map[int]bool{}
	oldest := 0
	for _, l := range snap {
		if l.Source == logs.SourceConsole && l.Boot > 0 {
			inRing[l.Boot] = true
			if oldest == 0 {
				oldest = l.Boot
			}
		}
	}

	var boots []logs.BootInfo
	if store != nil {
		var err error
		boots, err = store.Boots()
		var warn *logs.IndexWarning
		if err != nil && !errors.As(err, &warn) {
			msg.err = err
			boots = nil
		} else if err != nil {
			msg.err = err
		}
	}
	if evicted && oldest > 0 && hasBoot(boots, oldest) {
		delete(inRing, oldest)
		kept := snap[:0:0]
		for _, l := range snap {
			if l.Source != logs.SourceConsole || l.Boot != oldest {
				kept = append(kept, l)
			}
		}
		snap = kept
	}

	linesLeft, bytesLeft := lim.lines-len(snap), lim.bytes
	var perBoot [][]line
	for i := len(boots) - 1; i >= 0 && linesLeft > 0 && bytesLeft > 0; i-- {
		b := boots[i]
		if inRing[b.Boot] || (!b.Start.IsZero() && !b.Start.Before(liveSince)) {
			continue
		}
		text, err := readTail(store.Path(b.Boot), bytesLeft)
		if err != nil {
			msg.err = errors.Join(msg.err, err)
			continue
		}
		bytesLeft -= int64(len(text))
		bl := splitBoot(b, text, keepSGR)
		if len(bl) > linesLeft {
			bl = bl[len(bl)-linesLeft:]
		}
		linesLeft -= len(bl)
		perBoot = append(perBoot, bl)
		msg.storedBoots = append(msg.storedBoots, b.Boot)
	}
	for i := len(perBoot) - 1; i >= 0; i-- {
		msg.stored = append(msg.stored, perBoot[i]...)
	}

	// Build lines in the ring carry no boot: they belong to the boot that
	// was running, the last one seen before them, or else the stored boot
	// that ran at the time (none when the loop had just started).
	boot := 0
	msg.recent = make([]line, 0, len(snap))
	for _, l := range snap {
		if l.Boot > 0 {
			boot = l.Boot
		}
		at := boot
		if at == 0 {
			at = bootAt(boots, l.Time)
		}
		keep := keepSGR && (l.Source == logs.SourceConsole || l.Source == logs.SourceBuild)
		msg.recent = append(msg.recent, newLine(l.Time, at, l.Source, l.Text, keep))
	}
	return msg
}

// bootAt returns the boot that was running at t: started by then and not
// yet ended. It is 0 when none was.
func bootAt(boots []logs.BootInfo, t time.Time) int {
	for i := len(boots) - 1; i >= 0; i-- {
		b := boots[i]
		if !b.Start.IsZero() && !b.Start.After(t) && (b.Running() || !b.End.Before(t)) {
			return b.Boot
		}
	}
	return 0
}

func hasBoot(boots []logs.BootInfo, n int) bool {
	for _, b := range boots {
		if b.Boot == n {
			return true
		}
	}
	return false
}

// splitBoot splits a boot file's bytes into console lines. The first line
// carries the boot's start time, the others none: the file records no
// per-line times.
func splitBoot(b logs.BootInfo, text []byte, keepSGR bool) []line {
	sp := logs.NewSplitter(0)
	raw := sp.Write(text)
	if rest := sp.Flush(); rest != "" {
		raw = append(raw, rest)
	}
	out := make([]line, 0, len(raw))
	for i, r := range raw {
		var at time.Time
		if i == 0 {
			at = b.Start
		}
		out = append(out, newLine(at, b.Boot, logs.SourceConsole, r, keepSGR))
	}
	return out
}

// readTail reads at most limit bytes from the end of the file at path,
// starting after a line break when it does not read the whole file, so
// the first line is never a fragment.
func readTail(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("logview: read history: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("logview: read history: %w", err)
	}
	start := max(fi.Size()-limit, 0)
	data, err := io.ReadAll(io.NewSectionReader(f, start, fi.Size()-start))
	if err != nil {
		return nil, fmt.Errorf("logview: read history %s: %w", path, err)
	}
	if start > 0 {
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data = data[i+1:]
		}
	}
	return data, nil
}
