package devloop

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/ukdev/ukdev/builder"
	"github.com/ukdev/ukdev/logs"
	"github.com/ukdev/ukdev/watcher"
)

type buildState struct {
	n      int
	cancel context.CancelFunc
	change *watcher.Change // what triggered it, for reload timing
	start  time.Time
}

type buildResult struct {
	n      int
	res    builder.Result
	change *watcher.Change
	start  time.Time
}

func (l *Loop) startBuild(ctx context.Context, change *watcher.Change) {
	n := l.nextBuild
	l.nextBuild++
	bctx, cancel := context.WithCancel(ctx)
	start := time.Now()
	l.build = &buildState{n: n, cancel: cancel, change: change, start: start}
	cmd := l.cfg.Build.Command
	if cmd == "" {
		cancel()
		l.buildDone <- buildResult{n: n, change: change, start: start}
		return
	}
	if err := l.lock.relockProject(l.cfg.Root); err != nil {
		// The project directory was replaced and another ukdev took the
		// new one first.
		l.errorf("project directory %s was replaced: %v", l.cfg.Root, err)
	}
	l.emit(Event{Time: start, Type: TypeBuildStart, Build: n, Command: cmd, Message: fmt.Sprintf("build #%d: %s", n, cmd)})
	go func() {
		defer cancel()
		res := l.builder.Run(bctx, func(line builder.Line) {
			l.waitForRoom(bctx, line.Text)
			l.emit(Event{Type: TypeBuildOutput, Build: n, Line: line.Text, Stream: line.Stream, Message: line.Text})
			l.ring.Append(logs.Line{Time: time.Now(), Build: n, Source: logs.SourceBuild, Text: line.Text})
		})
		l.buildDone <- buildResult{n: n, res: res, change: change, start: start}
	}()
}

// The event channel is bounded by count (EventBuffer, for bursts of
// console lines of at most 4 KiB), not by bytes, and build output lines
// may be 64 KiB (builder.MaxLine): full of them it would hold 512 MiB. A
// long build line therefore waits until fewer than maxQueuedLong events are
// queued, which bounds the long lines queued to about 4 MiB. Build output
// already slows the build down when the reader lags (emit waits); this
// only makes it wait sooner for long lines.
const (
	// longLine is the longest line sent without waiting: a console piece.
	longLine = 4 << 10
	// maxQueuedLong is how many events may be queued when a long line is.
	maxQueuedLong = 64
	// queuePoll is how often a waiting long line looks at the queue again:
	// the channel tells no one when it drains.
	queuePoll = time.Millisecond
)

// waitForRoom returns once a build output line may be queued: at once for
// a short line, else when fewer than maxQueuedLong events are queued or
// ctx (the build's) is done. It runs on the build's output goroutine,
// never on the loop's.
func (l *Loop) waitForRoom(ctx context.Context, line string) {
	if len(line) <= longLine {
		return
	}
	for len(l.events) >= maxQueuedLong && ctx.Err() == nil {
		time.Sleep(queuePoll)
	}
}

func (l *Loop) onBuildDone(ctx context.Context, r buildResult) {
	l.build = nil
	end := time.Now()
	if r.res.Canceled {
		l.emit(Event{Type: TypeBuildCanceled, Build: r.n, Message: fmt.Sprintf("build #%d canceled: a newer build replaces it", r.n)})
		l.startPending(ctx)
		return
	}
	if l.cfg.Build.Command != "" {
		ok := r.res.OK()
		e := Event{Type: TypeBuildDone, Build: r.n, OK: &ok, DurationMS: ptr(ms(r.res.Duration))}
		if r.res.ExitCode >= 0 {
			e.ExitCode = ptr(r.res.ExitCode)
		}
		dirMsg, dirMissing := buildDirMessage(l.cfg.Root, l.cfg.Path, r.res.Err)
		switch {
		case ok:
			e.Message = fmt.Sprintf("build #%d ok in %s", r.n, round(r.res.Duration))
		case dirMissing:
			e.Message = fmt.Sprintf("build #%d not run: %s%s", r.n, dirMsg, l.stillRunning())
			e.Detail = r.res.Err.Error()
		case r.res.Err != nil:
			e.Message = fmt.Sprintf("build #%d failed: %v%s", r.n, r.res.Err, l.stillRunning())
			e.Detail = r.res.Err.Error()
		default:
			e.Message = fmt.Sprintf("build #%d failed (exit %d)%s", r.n, r.res.ExitCode, l.stillRunning())
		}
		l.emit(e)
		if !ok {
			l.startPending(ctx)
			return
		}
	}
	if l.pending != nil {
		// Sources changed again while this build finished: its image is
		// already stale.
		l.startPending(ctx)
		return
	}
	clock := &reloadClock{buildStart: r.start, buildEnd: end, hasBuild: l.cfg.Build.Command != ""}
	if r.change != nil {
		clock.save, clock.debounced = r.change.First, r.change.Emitted
	}
	l.prepareAndBoot(ctx, r.n, clock)
}

func (l *Loop) startPending(ctx context.Context) {
	if l.pending == nil {
		return
	}
	c := *l.pending
	l.pending = nil
	l.startBuild(ctx, &c)
}

// stillRunning tells what a failed build leaves running.
func (l *Loop) stillRunning() string {
	if b := l.current; b != nil && !b.ended {
		return fmt.Sprintf(" — still running boot #%d from build #%d", b.n, b.build)
	}
	return ""
}

func round(d time.Duration) time.Duration {
	if d > time.Second {
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(100 * time.Microsecond)
}

// buildNeeded reports whether ukdev run must build first: the image is
// missing or a watched source is newer.
func (l *Loop) buildNeeded() bool {
	if l.cfg.Build.Command == "" {
		return false
	}
	st, err := os.Stat(l.artifacts().Kernel)
	if err != nil {
		return true
	}
	newest, _, err := watcher.NewestChange(l.watchOptions())
	if err != nil {
		return true
	}
	return newest.After(st.ModTime())
}

// rebuild builds now, as a save would: a running build is canceled and
// started again once it has stopped.
func (l *Loop) rebuild(ctx context.Context) {
	if l.build != nil {
		l.pending = &watcher.Change{}
		l.build.cancel()
		return
	}
	l.startBuild(ctx, nil)
}

// Builder is what the loop needs of the build runner; builder.Builder is
// the real one.
type Builder interface {
	// Run runs one build, passing each line of its output to out, and
	// returns its result once it has ended. Cancelling ctx stops the
	// build (Result.Canceled).
	Run(ctx context.Context, out func(builder.Line)) builder.Result
	// Prestart gets the next build's process ready ahead of time.
	Prestart()
	// Close releases what Prestart started.
	Close() error
}
