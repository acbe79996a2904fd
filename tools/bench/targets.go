package main

import (
	"fmt"
	"io"
	"sync"
)

// target is one speed or cost goal with what this run measured of it.
type target struct {
	name    string // the goal: "debounce ≤ 15 ms median"
	figure  string // what was measured: "8.2 ms median"
	met     bool
	skipped string // not measured, and why
}

// targets collects every part's targets for the summary printed last.
var targets struct {
	mu   sync.Mutex
	list []target
}

// addTarget records a measured target and prints its line to w.
func addTarget(w io.Writer, name, figure string, met bool) {
	t := target{name: name, figure: figure, met: met}
	targets.mu.Lock()
	targets.list = append(targets.list, t)
	targets.mu.Unlock()
	fmt.Fprintf(w, "target: %s: %s (%s)\n", name, t.verdict(), figure)
}

// skipTarget records a target this run could not measure, and why, and
// prints its line to w.
func skipTarget(w io.Writer, name, why string) {
	t := target{name: name, skipped: why}
	targets.mu.Lock()
	targets.list = append(targets.list, t)
	targets.mu.Unlock()
	fmt.Fprintf(w, "target: %s: %s\n", name, t.verdict())
}

func (t target) verdict() string {
	switch {
	case t.skipped != "":
		return "not measured: " + t.skipped
	case t.met:
		return "met"
	}
	return "NOT met"
}

// printTargets prints every recorded target, in the order recorded.
func printTargets(w io.Writer) {
	targets.mu.Lock()
	defer targets.mu.Unlock()
	if len(targets.list) == 0 {
		return
	}
	met := 0
	for _, t := range targets.list {
		if t.met {
			met++
		}
	}
	fmt.Fprintf(w, "\ntargets: %d of %d met\n", met, len(targets.list))
	for _, t := range targets.list {
		figure := t.figure
		if t.skipped != "" {
			figure = t.skipped
		}
		mark := "met    "
		switch {
		case t.skipped != "":
			mark = "skipped"
		case !t.met:
			mark = "NOT met"
		}
		fmt.Fprintf(w, "  %s  %s — %s\n", mark, t.name, figure)
	}
}
