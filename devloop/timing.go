package devloop

import "time"

// reloadClock collects the timestamps of one save → running reload.
type reloadClock struct {
	save, debounced      time.Time // zero when no file change started it
	hasBuild             bool
	buildStart, buildEnd time.Time
	imageStart           time.Time
	imageDone            time.Time
	spawn, ready, cont   time.Time
}

// timing splits the reload that ended with the first console line at first.
func (c *reloadClock) timing(first time.Time) *Timing {
	if c.save.IsZero() {
		return nil
	}
	t := &Timing{
		DebounceMS: ms(c.debounced.Sub(c.save)),
		ImageMS:    ms(c.imageDone.Sub(c.imageStart)),
		QEMUMS:     ms(c.ready.Sub(c.spawn) + first.Sub(c.cont)),
		BootMS:     ms(first.Sub(c.spawn)),
		TotalMS:    ms(first.Sub(c.save)),
	}
	if c.hasBuild {
		t.BuildMS = ms(c.buildEnd.Sub(c.buildStart))
	}
	t.OverheadMS = t.TotalMS - t.DebounceMS - t.BuildMS - t.ImageMS - t.QEMUMS
	return t
}
