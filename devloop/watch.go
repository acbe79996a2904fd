package devloop

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/ukdev/ukdev/watcher"
)

func (l *Loop) watchOptions() watcher.Options {
	cfg := l.cfg
	var ignore []string
	for _, p := range []string{cfg.Kernel.Image, cfg.Kernel.Initrd, cfg.Kernel.Symbols} {
		if p != "" {
			ignore = append(ignore, p)
		}
	}
	// ukdev's own directories may lie inside the tree (XDG_STATE_HOME=./state):
	// nothing ukdev writes there may start a build. Those outside the root
	// are left out by the watcher itself.
	for _, d := range []string{l.stateDir, l.runDir} {
		if d != "" && filepath.Clean(d) != filepath.Clean(cfg.Root) {
			ignore = append(ignore, d)
		}
	}
	patterns := cfg.Watch.Ignore
	if rel, err := filepath.Rel(cfg.Root, cfg.Kernel.Image); err == nil && cfg.Kernel.Image != "" && !strings.HasPrefix(rel, "..") {
		// go build -o X writes X-go-tmp-umask first: part of the output too.
		patterns = append(append([]string(nil), patterns...), "/"+filepath.ToSlash(rel)+"-go-tmp-*")
	}
	return watcher.Options{
		Root:        cfg.Root,
		Paths:       cfg.Watch.Paths,
		Ignore:      patterns,
		IgnorePaths: ignore,
		Debounce:    cfg.Watch.Debounce,
		MaxWait:     cfg.Watch.MaxWait,
		Settle:      cfg.Watch.Settle,
	}
}

func (l *Loop) startWatcher(ctx context.Context) error {
	w, err := watcher.New(l.watchOptions())
	if err != nil {
		return err
	}
	l.watch = w
	go func() {
		if err := w.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			l.log.Error("watcher", "err", err)
		}
	}()
	var rel []string
	for _, p := range l.cfg.Watch.Paths {
		if r, err := filepath.Rel(l.cfg.Root, p); err == nil {
			p = r
		}
		rel = append(rel, p)
	}
	l.emit(Event{Type: TypeWatchStart, Paths: rel, Message: "watching " + strings.Join(rel, ", ")})
	return nil
}

// configFiles maps the root-relative paths of the files ukdev read its
// settings from (ukdev.toml, and the files its flavor section includes,
// such as ops' config.json) to their names.
func (l *Loop) configFiles() map[string]string {
	files := map[string]string{}
	for _, p := range append([]string{l.cfg.Path}, l.cfg.Includes...) {
		if p == "" {
			continue
		}
		if rel, err := filepath.Rel(l.cfg.Root, p); err == nil {
			files[filepath.ToSlash(rel)] = filepath.Base(p)
		}
	}
	return files
}

func (l *Loop) onChange(ctx context.Context, c watcher.Change) {
	msg := fmt.Sprintf("%d files changed", c.Count)
	switch {
	case c.Count == 1 && len(c.Paths) == 1:
		msg = c.Paths[0] + " changed"
	case c.Count < 0:
		msg = "many files changed"
	case len(c.Paths) > 0 && len(c.Paths) <= 3:
		msg = strings.Join(c.Paths, ", ") + " changed"
	}
	l.emit(Event{Time: c.Emitted, Type: TypeWatchChange, Paths: c.Paths, Count: c.Count, Message: msg})
	for _, p := range c.Paths {
		if cfgFile := l.configFiles()[p]; cfgFile != "" {
			l.emit(Event{Type: TypeConfigWarning, Message: fmt.Sprintf("%s changed: its settings apply when ukdev restarts", cfgFile)})
		}
	}
	if !l.watchOn {
		return
	}
	if l.build != nil {
		// A newer change makes the running build stale: cancel it and build
		// again once it has stopped.
		keep := c
		if l.pending != nil {
			keep.First = l.pending.First
		}
		l.pending = &keep
		l.build.cancel()
		return
	}
	l.startBuild(ctx, &c)
}

// toggleWatch pauses or resumes reacting to file changes.
func (l *Loop) toggleWatch() {
	if l.watch == nil {
		return
	}
	l.watchOn = !l.watchOn
	l.watch.SetPaused(!l.watchOn)
	if l.watchOn {
		l.emit(Event{Type: TypeWatchResumed, Message: "watching again"})
	} else {
		l.emit(Event{Type: TypeWatchPaused, Message: "watching paused: saves do not rebuild"})
	}
}
