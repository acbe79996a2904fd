package deploy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/ukdev/ukdev/flavor"
	"github.com/ukdev/ukdev/image"
)

// DiskFunc makes the bootable raw disk of the build being deployed and
// boot-tests it locally (QEMU boots it from the disk alone, and the
// guest's first console line must appear), reporting its steps. It
// returns the disk's path and size; on error it leaves no file behind.
type DiskFunc func(ctx context.Context, report func(Step)) (path string, size int64, err error)

// DiskNeeder is a Deployer that may not need the bootable disk (a script
// that uploads the kernel, ops which packs the program itself). A
// Deployer that is not a DiskNeeder always gets one.
type DiskNeeder interface {
	// NeedsDisk reports whether Deploy reads Request.Disk.
	NeedsDisk() bool
}

// Kind says what a Progress reports.
type Kind string

// The kinds of Progress, which are also the deploy events' types after
// "deploy.".
const (
	// KindStart is sent once, when the session starts.
	KindStart Kind = "start"
	// KindStep is a step begun or finished, or a line of a tool's output.
	KindStep Kind = "step"
	// KindProgress counts the bytes a step has moved.
	KindProgress Kind = "progress"
	// KindDone ends a deploy that succeeded, with its Result.
	KindDone Kind = "done"
	// KindError ends a session that failed or was cancelled.
	KindError Kind = "error"
)

// Progress is one report of a Session, for the views and the event log.
// It never carries credentials: targets keep them out of their steps and
// errors.
type Progress struct {
	Kind Kind
	// Target and Name are the deploy's target and <name>, Build its build.
	Target, Name string
	Build        int
	// Step is the step reported (KindStep, KindProgress).
	Step Step
	// Result is what the deploy made (KindDone).
	Result Result
	// Err is why the session ended (KindError); errors.Is(Err,
	// context.Canceled) after a cancel.
	Err error
	// Elapsed is the session's time so far, without the time spent
	// waiting for the user's confirmation.
	Elapsed time.Duration
}

// Errors of a Session, to be tested with errors.Is.
var (
	// ErrBadBuild refuses a Request that does not carry a successful
	// build.
	ErrBadBuild = errors.New("deploy: only a successful build can be deployed")
	// ErrDeclined says that the user did not confirm the plan.
	ErrDeclined = errors.New("deploy: not confirmed")
	// ErrNoDisk says that a disk was needed and there is no way to make
	// one.
	ErrNoDisk = errors.New("deploy: no bootable disk")
)

// Session is one deploy of one build, from the disk to the running
// instance: Plan makes the disk (when the Deployer needs one) and the
// plan, Deploy asks for confirmation and carries it out, Close removes the
// temporary disk. Run does all three. It knows no target and no flavor: the
// Deployer and the DiskFunc do.
type Session struct {
	// Target is the target's name, for reports.
	Target string
	// Request is the deploy; Disk and DiskSize are filled by Plan.
	Request Request
	// Deployer carries it out.
	Deployer Deployer
	// Disk makes the bootable disk; nil when there is no disk writer.
	Disk DiskFunc
	// TempDisk says the disk Disk makes is a temporary, removed by Close.
	TempDisk bool
	// Confirm is shown the plan and says whether to go on (the user's
	// answer, or yes for --yes). Deploy requires it; Plan alone does not.
	Confirm func(ctx context.Context, p Plan) (bool, error)
	// Progress receives every report, from the goroutine calling the
	// Session's methods or the Deployer's; nil discards them.
	Progress func(Progress)
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	start     time.Time
	waited    time.Duration // spent in Confirm
	plan      *Plan
	disk      string // the disk made, to remove when temporary
	confirmed bool
}

// now reads the clock.
func (s *Session) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// elapsed is the session's time so far, without the confirmation.
func (s *Session) elapsed() time.Duration {
	if s.start.IsZero() {
		return 0
	}
	return s.now().Sub(s.start) - s.waited
}

// emit sends p, completed with the session's facts.
func (s *Session) emit(p Progress) {
	if s.Progress == nil {
		return
	}
	p.Target, p.Name, p.Build, p.Elapsed = s.Target, s.Request.Name, s.Request.Build, s.elapsed()
	s.Progress(p)
}

// step reports a Deployer's or the DiskFunc's step.
func (s *Session) step(st Step) {
	kind := KindStep
	if st.Total > 0 {
		kind = KindProgress
	}
	s.emit(Progress{Kind: kind, Step: st})
}

// fail reports err as the session's end and returns it.
func (s *Session) fail(err error) error {
	s.emit(Progress{Kind: KindError, Err: err})
	return err
}

// check refuses a Request that cannot go out.
func (s *Session) check() error {
	r := s.Request
	switch {
	case !r.BuildOK || r.Build <= 0:
		return fmt.Errorf("%w (build %d did not succeed)", ErrBadBuild, r.Build)
	case r.Project == "" || r.Name == "":
		return errors.New("deploy: the request names no project or deploy")
	case s.Deployer == nil:
		return errors.New("deploy: no deployer")
	}
	return nil
}

// needsDisk reports whether the Deployer reads the disk.
func (s *Session) needsDisk() bool {
	if dn, ok := s.Deployer.(DiskNeeder); ok {
		return dn.NeedsDisk()
	}
	return true
}

// Plan starts the session: it checks that the request carries a good
// build, makes and boot-tests the disk when the Deployer needs one, and
// returns the Deployer's plan. Nothing outside this machine is changed.
// Calling it again returns the same plan.
func (s *Session) Plan(ctx context.Context) (Plan, error) {
	if s.plan != nil {
		return *s.plan, nil
	}
	if s.start.IsZero() {
		s.start = s.now()
		s.emit(Progress{Kind: KindStart})
	}
	if err := s.check(); err != nil {
		return Plan{}, s.fail(err)
	}
	if s.needsDisk() && s.Request.Disk == "" {
		if s.Disk == nil {
			return Plan{}, s.fail(fmt.Errorf("%w: ukdev cannot make one here", ErrNoDisk))
		}
		s.step(Step{Name: "make disk"})
		path, size, err := s.Disk(ctx, s.step)
		if err != nil {
			return Plan{}, s.fail(fmt.Errorf("deploy: make disk: %w", err))
		}
		if s.TempDisk {
			s.disk = path
		}
		s.Request.Disk, s.Request.DiskSize = path, size
		s.step(Step{Name: "make disk", Finished: true, Message: fmt.Sprintf("%s, %s, boot-tested", path, Size(size))})
	}
	p, err := s.Deployer.Plan(ctx, s.Request)
	if err != nil {
		return Plan{}, s.fail(fmt.Errorf("deploy: plan: %w", err))
	}
	s.plan = &p
	return p, nil
}

// Deploy asks Confirm whether to carry out the plan (making it first if
// Plan was not called), then has the Deployer carry it out, which removes
// what it half-created when it fails or ctx is cancelled. It returns
// ErrDeclined when the plan was not confirmed.
func (s *Session) Deploy(ctx context.Context) (Result, error) {
	p, err := s.Plan(ctx)
	if err != nil {
		return Result{}, err
	}
	if !s.confirmed {
		if s.Confirm == nil {
			return Result{}, s.fail(errors.New("deploy: nothing to confirm the plan with"))
		}
		asked := s.now()
		ok, err := s.Confirm(ctx, p)
		s.waited += s.now().Sub(asked)
		switch {
		case err != nil:
			return Result{}, s.fail(fmt.Errorf("deploy: confirm: %w", err))
		case !ok:
			return Result{}, s.fail(ErrDeclined)
		}
		s.confirmed = true
	}
	if err := ctx.Err(); err != nil {
		return Result{}, s.fail(fmt.Errorf("deploy: %w", err))
	}
	res, err := s.Deployer.Deploy(ctx, s.Request, s.step)
	if err != nil {
		return Result{}, s.fail(fmt.Errorf("deploy: %s: %w", s.Request.Name, err))
	}
	res.Elapsed = s.elapsed()
	s.emit(Progress{Kind: KindDone, Result: res})
	return res, nil
}

// Close removes the disk when it is a temporary. It is safe to call more
// than once.
func (s *Session) Close() error {
	if s.disk == "" {
		return nil
	}
	path := s.disk
	s.disk = ""
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("deploy: remove disk: %w", err)
	}
	return nil
}

// Run is Plan, Deploy and Close: one deploy from the disk to the running
// instance, asking for confirmation in between.
func (s *Session) Run(ctx context.Context) (res Result, err error) {
	defer func() {
		if cerr := s.Close(); err == nil {
			err = cerr
		}
	}()
	return s.Deploy(ctx)
}

// RoundElapsed rounds a deploy's time for people: to milliseconds under a
// second, to tenths of a second above.
func RoundElapsed(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Second / 10)
}

// Size renders a byte count in binary units, as the dashboard's panels
// do: "512 B", "64.0 MiB".
func Size(n int64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n)/1024, 0
	for ; f >= 1024 && i < len(units)-1; f /= 1024 {
		i++
	}
	return fmt.Sprintf("%.1f %ciB", f, units[i])
}

// GiB is a gibibyte: clouds size disks in whole ones.
const GiB = 1 << 30

// MakeDisk writes img's bootable raw disk to path with w (the flavor's
// kernel that prepared img), sized up to whole GiB as clouds want it (the
// space after the partitions left sparse), then runs bootTest on it: only
// a disk that boots is returned. It reports the steps "write disk" (with
// bytes) and "boot test", and removes the disk when a step fails.
func MakeDisk(ctx context.Context, w flavor.DiskWriter, img image.Image, path string, bootTest func(context.Context, image.Disk) error, report func(Step)) (string, int64, error) {
	const write, test = "write disk", "boot test"
	d, err := w.WriteDisk(ctx, img, path, image.DiskOptions{MinSize: GiB, Progress: func(written, total int64) {
		report(Step{Name: write, Done: written, Total: total})
	}})
	if err != nil {
		return "", 0, fmt.Errorf("deploy: disk of build #%d: %w", img.Build, err)
	}
	if rem := d.Size % GiB; rem != 0 {
		d.Size += GiB - rem
		if err := os.Truncate(d.Path, d.Size); err != nil {
			os.Remove(d.Path)
			return "", 0, fmt.Errorf("deploy: disk of build #%d: %w", img.Build, err)
		}
	}
	report(Step{Name: write, Done: d.Size, Total: d.Size, Finished: true})
	report(Step{Name: test, Message: "booting the disk alone under QEMU"})
	if err := bootTest(ctx, d); err != nil {
		os.Remove(d.Path)
		return "", 0, fmt.Errorf("deploy: boot test of build #%d's disk: %w", img.Build, err)
	}
	report(Step{Name: test, Finished: true})
	return d.Path, d.Size, nil
}
