package devloop

import (
	"fmt"

	"github.com/ukdev/ukdev/flavor/linux"
	"github.com/ukdev/ukdev/flavor/nanos"
	"github.com/ukdev/ukdev/flavor/unikraft"
	"github.com/ukdev/ukdev/kernel"
	"github.com/ukdev/ukdev/kernel/initramfs"
	"github.com/ukdev/ukdev/kernel/ops"
	"github.com/ukdev/ukdev/project"
)

// nanosDefaultMemoryMiB is the guest RAM of a Nanos VM when neither
// ukdev.toml nor the ops config says: a Go program's runtime wants more
// than the 128 MiB default of small kernels.
const nanosDefaultMemoryMiB = 512

// newFlavor returns the project's flavor and a copy of cfg completed with
// what the flavor's own configuration adds (ops' ports and memory), plus
// notes to show the user (keys ukdev ignores).
//
// A Nanos program that loads the syslog klib aimed at the host gets a
// loopback receiver (the returned sink; nil otherwise).
func newFlavor(cfg *project.Config) (kernel.Flavor, *project.Config, []string, *syslogSink, error) {
	switch cfg.Flavor {
	case "nanos":
	case "unikraft":
		f, c, notes, err := newUnikraft(cfg)
		return f, c, notes, nil, err
	case "linux":
		f, c, err := newLinux(cfg)
		return f, c, nil, nil, err
	default:
		f, err := kernel.Lookup(cfg.Flavor)
		return f, cfg, nil, nil, err
	}
	c := *cfg
	c.VM.Ports = append([]project.Port(nil), cfg.VM.Ports...)
	ns := nanos.SettingsOf(cfg)

	var opsCfg *ops.Config
	var notes []string
	if ns.Config != "" {
		var err error
		if opsCfg, err = ops.Load(ns.Config); err != nil {
			return nil, nil, nil, nil, err
		}
		for _, w := range opsCfg.Warnings {
			notes = append(notes, fmt.Sprintf("%s: %s", ns.Config, w))
		}
		// Read, but ukdev decides these itself.
		if opsCfg.RunConfig.Accel {
			notes = append(notes, fmt.Sprintf("%s: ignored: RunConfig.Accel (ukdev probes KVM itself; set vm.accel in ukdev.toml)", ns.Config))
		}
		if opsCfg.RunConfig.Debug {
			notes = append(notes, fmt.Sprintf("%s: ignored: RunConfig.Debug (the memory panel and QMP are always on)", ns.Config))
		}
	}
	k, err := nanosKernel(&c, opsCfg)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if opsCfg != nil {
		if err := mergeRunConfig(&c, opsCfg.RunConfig); err != nil {
			return nil, nil, nil, nil, fmt.Errorf("%s: %w", ns.Config, err)
		}
	}
	if !c.VM.MemorySet && (opsCfg == nil || opsCfg.RunConfig.Memory == "") {
		c.VM.MemoryMiB = nanosDefaultMemoryMiB
	}
	var sink *syslogSink
	if wantsSyslog(opsCfg) {
		if sink, err = startSyslog(opsCfg); err != nil {
			return nil, nil, nil, nil, err
		}
		c.VM.Network = true
	}
	f, err := kernel.NewNanos(kernel.NanosOptions{Config: opsCfg, Dir: c.Root, Kernel: k, Boot: kernel.NanosBoot(ns.Boot)})
	if err != nil {
		if sink != nil {
			sink.close()
		}
		return nil, nil, nil, nil, err
	}
	return f, &c, notes, sink, nil
}

// nanosKernel finds the Nanos release to boot: nanos.kernel, else ops'
// kernel cache (nanos.version, the ops config's NanosVersion or Kernel, or
// latest.txt).
func nanosKernel(c *project.Config, opsCfg *ops.Config) (ops.Kernel, error) {
	ns := nanos.SettingsOf(c)
	if ns.Kernel != "" {
		return ops.KernelAt(ns.Kernel)
	}
	home, err := ops.Home()
	if err != nil {
		return ops.Kernel{}, err
	}
	cache := ops.Cache{Home: home}
	if ns.Version != "" {
		return cache.FindKernel(ns.Version)
	}
	if opsCfg == nil {
		opsCfg = &ops.Config{}
	}
	return cache.KernelFor(opsCfg)
}

// mergeRunConfig adds ops' RunConfig ports (host port = guest port, on
// 127.0.0.1) and memory to c, where ukdev.toml does not already set them.
func mergeRunConfig(c *project.Config, rc ops.RunConfig) error {
	ranges, err := rc.PortRanges()
	if err != nil {
		return err
	}
	// A RunConfig port is skipped when ukdev.toml already uses its host
	// port, or already forwards some host port to its guest port (a
	// remapping such as "9090:8080" for a busy or privileged 8080).
	taken := map[string]bool{}
	for _, p := range c.VM.Ports {
		taken[fmt.Sprintf("%s/%d", p.Proto, p.HostPort)] = true
		taken[fmt.Sprintf("%s/guest/%d", p.Proto, p.GuestPort)] = true
	}
	for _, r := range ranges {
		if r.Last-r.First >= 256 {
			return fmt.Errorf("RunConfig port range %d-%d: more than 256 ports", r.First, r.Last)
		}
		for p := r.First; p <= r.Last; p++ {
			if taken[fmt.Sprintf("%s/%d", r.Proto, p)] || taken[fmt.Sprintf("%s/guest/%d", r.Proto, p)] {
				continue
			}
			c.VM.Ports = append(c.VM.Ports, project.Port{Proto: r.Proto, HostAddr: project.DefaultHostAddr,
				HostPort: p, GuestPort: p, Spec: fmt.Sprintf("%s:%d:%d (RunConfig)", r.Proto, p, p)})
		}
	}
	c.VM.Network = c.VM.Network || len(c.VM.Ports) > 0
	if !c.VM.MemorySet && rc.Memory != "" {
		mib, err := rc.MemoryMiB()
		if err != nil {
			return err
		}
		c.VM.MemoryMiB = mib
	}
	if !c.VM.CPUsSet && rc.CPUs > 1 {
		c.VM.CPUs = rc.CPUs
	}
	return nil
}

// unikraftDefaultMemoryMiB is kraft's default guest RAM.
const unikraftDefaultMemoryMiB = 64

// newUnikraft completes cfg for a Unikraft project: the build command
// (kraft build or make) unless build.command is given, the build trees
// ignored by the watcher, and kraft's memory default.
func newUnikraft(cfg *project.Config) (kernel.Flavor, *project.Config, []string, error) {
	c := *cfg
	var notes []string
	if !c.Build.CommandSet {
		cmd, why := kernel.UnikraftBuildCommand(c.Root, kernel.KraftInstalled(nil))
		c.Build.Command = cmd
		if cmd == "" {
			notes = append(notes, fmt.Sprintf("no build step: %s (set build.command)", why))
		} else {
			notes = append(notes, fmt.Sprintf("build command: %s (%s; set build.command to choose)", cmd, why))
		}
	}
	c.Watch.Ignore = append(append([]string(nil), c.Watch.Ignore...), ".unikraft/", "build/")
	if !c.VM.MemorySet {
		c.VM.MemoryMiB = unikraftDefaultMemoryMiB
	}
	us := unikraft.SettingsOf(&c)
	f, err := kernel.NewUnikraft(kernel.UnikraftOptions{KernelArgs: us.KernelArgs, AppArgs: us.AppArgs, Debug: us.Debug})
	if err != nil {
		return nil, nil, nil, err
	}
	return f, &c, notes, nil
}

// linuxDefaultMemoryMiB leaves a Go program room beside the kernel.
const linuxDefaultMemoryMiB = 256

// newLinux builds the linux flavor. The first time, it fetches the kernel
// module through the Go module cache (go mod download).
func newLinux(cfg *project.Config) (kernel.Flavor, *project.Config, error) {
	c := *cfg
	if !c.VM.MemorySet {
		c.VM.MemoryMiB = linuxDefaultMemoryMiB
	}
	var files []initramfs.File
	ls := linux.SettingsOf(&c)
	for _, f := range ls.Files {
		files = append(files, initramfs.File{Path: f.Guest, Host: f.Host})
	}
	f, err := kernel.NewLinux(kernel.LinuxOptions{Kernel: ls.Kernel, KernelVersion: ls.KernelVersion,
		Dir: c.Root, Files: files})
	if err != nil {
		return nil, nil, err
	}
	return f, &c, nil
}
