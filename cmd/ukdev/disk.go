package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/ukdev/ukdev/builder"
	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/flavor"
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/project"
	"github.com/ukdev/ukdev/vm"
	"github.com/ukdev/ukdev/vm/qemu"
)

func newDiskCmd(a *app) *cobra.Command {
	var out string
	var noTest bool
	cmd := &cobra.Command{
		Use:   "disk",
		Short: "Build, write the bootable raw disk of the image, and boot-test it",
		Long: `disk builds the project (as ukdev build does), prepares its image, and writes it as
a bootable raw disk: a disk that a machine's firmware boots alone, as a cloud or your own
hypervisor does. elf, unikraft and linux images get GRUB (BIOS) and a FAT partition
holding the kernel, initrd and command line; nanos images get ops' boot loader.

The disk is then booted from the disk alone under QEMU (KVM where it works, TCG
otherwise) until the guest prints its first console line; --no-test skips that.
It is written to --out, by default <project>.raw in the current directory, and its
path is printed on standard output. Progress goes to standard error. ^C stops it and
removes the disk; so does a failed boot test.

When a ukdev loop runs for the project, disk does not build: it uses the build
output the loop's last build left.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.disk(cmd.Context(), out, noTest)
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "write the disk to `file` (default: <project>.raw)")
	cmd.Flags().BoolVar(&noTest, "no-test", false, "do not boot the disk to test it")
	return cmd
}

func (a *app) disk(ctx context.Context, out string, noTest bool) error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	if out == "" {
		dir, err := a.workDir()
		if err != nil {
			return err
		}
		out = filepath.Join(dir, cfg.Name+".raw")
	}
	if err := a.buildForDisk(ctx, cfg); err != nil {
		return err
	}
	a.announceOpen(cfg)
	d, err := writeDisk(ctx, cfg, out, newProgressLine(a.stderr, "writing "+out))
	switch {
	case ctx.Err() != nil:
		fmt.Fprintln(a.stderr, "ukdev: interrupted: no disk written")
		return &exitError{code: 130}
	case err != nil:
		return fmt.Errorf("disk: %w", err)
	}
	if !noTest {
		if err := a.bootTestDisk(ctx, cfg, d); err != nil {
			os.Remove(d.Path)
			if ctx.Err() != nil {
				fmt.Fprintf(a.stderr, "ukdev: interrupted: %s removed\n", d.Path)
				return &exitError{code: 130}
			}
			return fmt.Errorf("disk: %w (the disk was removed; --no-test keeps an untested one)", err)
		}
	}
	fmt.Fprintln(a.stdout, d.Path)
	return nil
}

// buildForDisk runs the project's build as ukdev build does. When a loop
// runs for the project, its builds own the outputs: the last one is used
// as it is.
func (a *app) buildForDisk(ctx context.Context, cfg *project.Config) error {
	if cfg.Build.Command == "" {
		return nil
	}
	lock, err := devloop.LockProject(cfg.Root)
	if errors.Is(err, devloop.ErrNoProjectLock) {
		var state string
		if state, err = project.StateDir(cfg); err == nil {
			lock, err = devloop.LockState(state)
		}
	}
	switch {
	case errors.Is(err, devloop.ErrLocked):
		fmt.Fprintf(a.stderr, "ukdev: a ukdev loop runs for this project (%v): not building, using its last build's output\n", err)
		return nil
	case err != nil:
		return fmt.Errorf("disk: %w", err)
	}
	defer lock.Release()
	b := &builder.Builder{Command: cfg.Build.Command, Dir: cfg.Build.Dir, Env: cfg.Build.Environ(), Supervisor: builder.SelfExe}
	fmt.Fprintf(a.stderr, "ukdev: building: %s\n", cfg.Build.Command)
	p := &printer{w: a.stderr, color: isTerminal(a.stderr) && colorAllowed()}
	res := b.Run(ctx, func(l builder.Line) { _ = p.line(l.Text) })
	switch {
	case ctx.Err() != nil:
		return &exitError{code: 130}
	case res.OK():
		fmt.Fprintf(a.stderr, "ukdev: build ok in %s\n", res.Duration.Round(time.Millisecond))
		return nil
	case res.Err != nil:
		return fmt.Errorf("disk: build: %w", res.Err)
	default:
		fmt.Fprintf(a.stderr, "ukdev: build failed (exit %d): no disk written\n", res.ExitCode)
		return &exitError{code: res.ExitCode}
	}
}

// writeDisk opens the project's flavor, prepares the build's image in a
// private store and writes its disk to out (flavor.DiskWriter). A failed
// or cancelled write leaves nothing at out.
func writeDisk(ctx context.Context, cfg *project.Config, out string, progress func(written, total int64)) (image.Disk, error) {
	f, err := flavor.Lookup(cfg.Flavor)
	if err != nil {
		return image.Disk{}, err
	}
	setup, err := f.Open(cfg)
	if err != nil {
		return image.Disk{}, err
	}
	dw, ok := setup.Kernel.(flavor.DiskWriter)
	if !ok {
		return image.Disk{}, fmt.Errorf("the %s flavor cannot write bootable disks: %w", cfg.Flavor, image.ErrNoDiskBoot)
	}
	k := setup.Config.Kernel
	arts := image.Artifacts{Kernel: k.Image, Initrd: k.Initrd, Symbols: k.Symbols, Cmdline: k.Cmdline}
	if loc, ok := setup.Kernel.(flavor.ArtifactLocator); ok {
		arts = loc.Locate(setup.Config, arts)
	}
	storeDir, err := os.MkdirTemp("", "ukdev-disk")
	if err != nil {
		return image.Disk{}, err
	}
	defer os.RemoveAll(storeDir)
	img, err := setup.Kernel.Prepare(ctx, &image.Store{Dir: storeDir, Keep: 1}, 1, arts)
	if err != nil {
		return image.Disk{}, err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return image.Disk{}, err
	}
	return dw.WriteDisk(ctx, img, out, image.DiskOptions{Progress: progress})
}

// bootTestDisk boots d alone under QEMU until the guest's first line.
func (a *app) bootTestDisk(ctx context.Context, cfg *project.Config, d image.Disk) error {
	var accel *vm.Accel
	switch cfg.VM.Accel {
	case "kvm", "tcg":
		accel = &vm.Accel{Name: cfg.VM.Accel, Reason: "vm.accel in the config"}
	}
	// The machine's control socket goes in the project's private runtime
	// dir, where `ukdev ps` and the tests look for ukdev's machines.
	rt, err := project.RuntimeDir(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "ukdev: boot-testing %s on %s (%s firmware, %s loader)\n", d.Path, d.Machine, d.Firmware, d.Loader)
	start := time.Now()
	stopTicker := ticker(a.stderr, func() string {
		return fmt.Sprintf("waiting for the guest's first console line (%s)", time.Since(start).Round(time.Second))
	})
	res, err := vm.BootTest(ctx, qemu.Backend{}, vm.BootTestOptions{
		Disk: d, QEMU: cfg.VM.QEMU, Accel: accel, MemoryMiB: cfg.VM.MemoryMiB, RuntimeDir: rt,
	})
	stopTicker()
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "ukdev: the disk boots (%s, %s): %q\n", res.Accel.Name, res.Elapsed.Round(time.Millisecond), res.FirstLine)
	return nil
}

// newProgressLine returns a progress callback that shows bytes written
// and time elapsed on w: one line rewritten in place on a terminal, at
// most ten times a second, and only the final line otherwise.
func newProgressLine(w io.Writer, what string) func(written, total int64) {
	tty := isTerminal(w)
	start := time.Now()
	var last time.Time
	return func(written, total int64) {
		done := written >= total
		now := time.Now()
		if !done && (!tty || now.Sub(last) < 100*time.Millisecond) {
			return
		}
		last = now
		line := fmt.Sprintf("ukdev: %s: %s of %s (%s)", what, mib(written), mib(total), now.Sub(start).Round(100*time.Millisecond))
		switch {
		case tty && done:
			fmt.Fprintf(w, "\r\033[K%s\n", line)
		case tty:
			fmt.Fprintf(w, "\r\033[K%s", line)
		default:
			fmt.Fprintln(w, line)
		}
	}
}

// ticker shows msg() on a terminal every second, rewriting its line,
// until the returned stop is called.
func ticker(w io.Writer, msg func() string) (stop func()) {
	if !isTerminal(w) {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				fmt.Fprint(w, "\r\033[K")
				return
			case <-t.C:
				fmt.Fprintf(w, "\r\033[Kukdev: %s", msg())
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

func mib(n int64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
