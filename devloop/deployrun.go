package devloop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ukdev/ukdev/deploy"
	"github.com/ukdev/ukdev/flavor"
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/logs"
	"github.com/ukdev/ukdev/project"
	"github.com/ukdev/ukdev/vm"
)

// A deploy from the dashboard runs in two steps: PlanDeploy makes the
// disk and the plan and emits it (TypeDeployPlan); the view shows it and
// answers with ConfirmDeploy or CancelDeploy. Only one deploy runs at a
// time. The session runs in its own goroutine: the loop's select never
// waits on a cloud.

// ReasonNoDeploy is the Reason of a TypeDeployError event when the
// config has no [deploy.<name>] to use (project.ErrNoDeploy).
const ReasonNoDeploy = "no_deploy"

// consolePoll is how often a deployed instance's console is read.
const consolePoll = 2 * time.Second

// progressEvery throttles deploy.progress events of one step: the
// upload reports every chunk.
const progressEvery = 100 * time.Millisecond

// deployRun is the deploy that runs, as the view's calls reach it.
type deployRun struct {
	cancel    context.CancelFunc
	answer    chan bool // the confirmation, buffered
	confirmed bool
}

// deployState is the loop's deploy bookkeeping, shared between Run's
// goroutine, the deploy's goroutines and the view's calls.
type deployState struct {
	reqs chan string // PlanDeploy's names, for Run's goroutine
	poll time.Duration

	mu       sync.Mutex
	run      *deployRun         // the deploy running, nil when none
	tailStop context.CancelFunc // ends the console tail of the last deploy
	wg       sync.WaitGroup     // deploy and tail goroutines
}

// CloudSource is the log source of a deployed instance's console: the
// logs panel shows its lines as "cloud:<name>".
func CloudSource(deployName string) logs.Source {
	return logs.Source("cloud:" + deployName)
}

// PlanDeploy starts a deploy of the running boot's build (or the last
// good build) to the [deploy.<name>] called name (the default one when
// empty): the loop pins the build's image, makes and boot-tests the disk
// when the target needs one, and emits the plan as a TypeDeployPlan
// event; the deploy then waits for ConfirmDeploy or CancelDeploy. Its
// progress and end are deploy.* events. It returns at once.
func (l *Loop) PlanDeploy(name string) {
	select {
	case l.deploys.reqs <- name:
	default:
		l.log.Warn("deploy request dropped: queue full")
	}
}

// ConfirmDeploy goes ahead with the deploy whose plan was shown. It does
// nothing when no deploy waits.
func (l *Loop) ConfirmDeploy() {
	d := &l.deploys
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.run == nil || d.run.confirmed {
		return
	}
	d.run.confirmed = true
	d.run.answer <- true
}

// CancelDeploy declines the plan, or cancels the deploy that runs: the
// target removes what it half-created, and a deploy.error event ends it.
// It does nothing when no deploy runs.
func (l *Loop) CancelDeploy() {
	d := &l.deploys
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.run != nil {
		d.run.cancel()
	}
}

// deployImage is the image to deploy: the running boot's, or the last
// one booted. Only images of successful builds are ever booted.
func (l *Loop) deployImage() (image.Image, bool) {
	if l.current != nil {
		return l.current.img, true
	}
	if l.lastImage != nil {
		return *l.lastImage, true
	}
	return image.Image{}, false
}

// deployError emits the end of a deploy that could not start.
func (l *Loop) deployError(name, target string, build int, err error) {
	e := DeployEvent(deploy.Progress{Kind: deploy.KindError, Target: target, Name: name, Build: build, Err: err}, time.Now())
	if errors.Is(err, project.ErrNoDeploy) {
		e.Reason = ReasonNoDeploy
	}
	l.emit(e)
}

// startDeploy runs in Run's goroutine: it resolves the deploy, pins the
// image (a rebuild may prune the loop's store) and starts the session's
// goroutine.
func (l *Loop) startDeploy(ctx context.Context, name string) {
	d := &l.deploys
	d.mu.Lock()
	busy := d.run != nil
	d.mu.Unlock()
	if busy {
		l.deployError(name, "", 0, errors.New("devloop: deploy: another deploy is running"))
		return
	}
	conf, err := l.cfg.DeployNamed(name)
	if err != nil {
		l.deployError(name, "", 0, fmt.Errorf("devloop: deploy: %w", err))
		return
	}
	name = conf.Name
	img, ok := l.deployImage()
	if !ok {
		l.deployError(name, conf.Target, 0, fmt.Errorf("devloop: deploy: %w: no build has booted yet", deploy.ErrBadBuild))
		return
	}
	dep, err := deploy.Open(conf)
	if err != nil {
		l.deployError(name, conf.Target, img.Build, fmt.Errorf("devloop: %w", err))
		return
	}
	dir, err := os.MkdirTemp(l.runDir, "deploy-")
	if err != nil {
		l.deployError(name, conf.Target, img.Build, fmt.Errorf("devloop: deploy: %w", err))
		return
	}
	pinned, err := pinImage(img, dir)
	if err != nil {
		os.RemoveAll(dir)
		l.deployError(name, conf.Target, img.Build, fmt.Errorf("devloop: deploy: pin build #%d: %w", img.Build, err))
		return
	}
	runCtx, cancel := context.WithCancel(ctx)
	run := &deployRun{cancel: cancel, answer: make(chan bool, 1)}
	d.mu.Lock()
	d.run = run
	if d.tailStop != nil {
		d.tailStop() // the next deploy replaces the instance followed
		d.tailStop = nil
	}
	d.mu.Unlock()

	s := &deploy.Session{
		Target: conf.Target,
		Request: deploy.Request{
			Project: l.cfg.Name, Name: name, Build: img.Build, BuildOK: true, Flavor: l.cfg.Flavor,
			Kernel: pinned.Kernel, Initrd: pinned.Initrd, Cmdline: pinned.Cmdline,
			Ports: l.cfg.VM.Ports, Root: l.cfg.Root, Program: l.artifacts().Kernel,
		},
		Deployer: dep,
		Disk:     l.deployDisk(pinned, dir, l.accel),
		TempDisk: true,
		Confirm: func(ctx context.Context, _ deploy.Plan) (bool, error) {
			select {
			case ok := <-run.answer:
				return ok, nil
			case <-ctx.Done():
				return false, nil // cancelled at the question: not confirmed
			}
		},
		Progress: l.deployProgress(),
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer os.RemoveAll(dir)
		res, ok := l.runDeploy(runCtx, s)
		d.mu.Lock()
		d.run = nil
		cancel()
		cr, reads := dep.(deploy.ConsoleReader)
		if ok && reads && res.Instance != "" && ctx.Err() == nil {
			tailCtx, stop := context.WithCancel(ctx)
			d.tailStop = stop
			d.wg.Add(1)
			go func() {
				defer d.wg.Done()
				l.tailConsole(tailCtx, cr, name, res.Instance, img.Build)
			}()
		}
		d.mu.Unlock()
	}()
}

// runDeploy runs the session: plan, the plan event, confirmation and the
// deploy. The session reports its own end.
func (l *Loop) runDeploy(ctx context.Context, s *deploy.Session) (deploy.Result, bool) {
	defer s.Close()
	p, err := s.Plan(ctx)
	if err != nil {
		return deploy.Result{}, false
	}
	l.emit(planEvent(s, p))
	res, err := s.Deploy(ctx)
	return res, err == nil
}

// planEvent is the TypeDeployPlan event of s's plan p.
func planEvent(s *deploy.Session, p deploy.Plan) Event {
	r := s.Request
	rows := make([]PlanRow, len(p.Rows))
	facts := make([]string, len(p.Rows))
	for i, row := range p.Rows {
		rows[i] = PlanRow{Key: row.Key, Value: row.Value}
		facts[i] = row.Key + " " + row.Value
	}
	target := p.Target
	if target == "" {
		target = s.Target
	}
	return Event{Time: time.Now(), Type: TypeDeployPlan, Target: target, Deploy: r.Name, Build: r.Build, Plan: rows,
		Message: fmt.Sprintf("plan of deploy %s (%s) for build #%d: %s", r.Name, target, r.Build, strings.Join(facts, "; "))}
}

// deployProgress turns a session's reports into events, the byte counts
// of a step at most every progressEvery (and always its last).
func (l *Loop) deployProgress() func(deploy.Progress) {
	var mu sync.Mutex
	last := map[string]time.Time{}
	return func(p deploy.Progress) {
		now := time.Now()
		if p.Kind == deploy.KindProgress && p.Step.Done < p.Step.Total {
			mu.Lock()
			skip := now.Sub(last[p.Step.Name]) < progressEvery
			if !skip {
				last[p.Step.Name] = now
			}
			mu.Unlock()
			if skip {
				return
			}
		}
		l.emit(DeployEvent(p, now))
	}
}

// deployDisk writes img's bootable disk into dir through the flavor's
// kernel that prepared it, sized in whole GiB as clouds want it, and
// boot-tests it on the loop's backend: only a disk that boots goes out.
func (l *Loop) deployDisk(img image.Image, dir string, accel vm.Accel) deploy.DiskFunc {
	return func(ctx context.Context, report func(deploy.Step)) (string, int64, error) {
		dw, ok := l.flavor.(flavor.DiskWriter)
		if !ok {
			return "", 0, fmt.Errorf("devloop: disk of build #%d: the %s flavor cannot write bootable disks: %w", img.Build, l.cfg.Flavor, image.ErrNoDiskBoot)
		}
		var acc *vm.Accel
		if accel.Name != "" {
			acc = &accel
		}
		bootTest := func(ctx context.Context, d image.Disk) error {
			_, err := vm.BootTest(ctx, l.backend, vm.BootTestOptions{
				Disk: d, QEMU: l.cfg.VM.QEMU, Accel: acc, MemoryMiB: l.cfg.VM.MemoryMiB, RuntimeDir: l.runDir,
			})
			return err
		}
		return deploy.MakeDisk(ctx, dw, img, filepath.Join(dir, l.cfg.Name+".raw"), bootTest, report)
	}
}

// pinImage copies img's files into dir (hard links where it can) and
// returns the image naming the copies, which no rebuild prunes.
func pinImage(img image.Image, dir string) (image.Image, error) {
	for _, f := range []*string{&img.Kernel, &img.Initrd, &img.Symbols, &img.Disk} {
		if *f == "" {
			continue
		}
		dst := filepath.Join(dir, filepath.Base(*f))
		if _, err := os.Stat(dst); err == nil {
			// The symbols are often the kernel itself.
			*f = dst
			continue
		}
		if err := os.Link(*f, dst); err != nil {
			if err := copyFile(*f, dst); err != nil {
				return image.Image{}, err
			}
		}
		*f = dst
	}
	return img, nil
}

// copyFile copies src to dst, with src's permissions.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// tailConsole reads the instance's console every poll into the ring and
// the events as lines of source cloud:<name>, until ctx ends.
func (l *Loop) tailConsole(ctx context.Context, cr deploy.ConsoleReader, name, instance string, build int) {
	poll := l.deploys.poll
	if poll <= 0 {
		poll = consolePoll
	}
	split := logs.NewSplitter(4096)
	src := CloudSource(name)
	emit := func(line string) {
		now := time.Now()
		l.ring.Append(logs.Line{Time: now, Source: src, Text: line})
		l.emitConsole(Event{Time: now, Type: TypeDeployConsole, Deploy: name, Instance: instance, Build: build, Line: line, Message: line})
	}
	var offset int64
	failing := false
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		data, next, err := cr.Console(ctx, instance, offset)
		switch {
		case ctx.Err() != nil:
			if rest := split.Flush(); rest != "" {
				emit(rest)
			}
			return
		case err != nil:
			// A console read fails now and then (the instance is
			// booting); say it once per run of failures.
			if !failing {
				l.errorf("deploy %s: console of %s: %v", name, instance, err)
			}
			failing = true
		default:
			failing = false
			offset = next
			for _, line := range split.Write(data) {
				emit(line)
			}
		}
		select {
		case <-ctx.Done():
			if rest := split.Flush(); rest != "" {
				emit(rest)
			}
			return
		case <-t.C:
		}
	}
}

// stopDeploys cancels the deploy and the console tail, and waits for
// their goroutines: the deploy's target removes what it half-created.
func (l *Loop) stopDeploys() {
	d := &l.deploys
	d.mu.Lock()
	if d.run != nil {
		d.run.cancel()
	}
	if d.tailStop != nil {
		d.tailStop()
	}
	d.mu.Unlock()
	d.wg.Wait()
}
