package nanos

import (
	"fmt"

	"github.com/ukdev/ukdev/flavor"
	"github.com/ukdev/ukdev/flavor/nanos/ops"
	"github.com/ukdev/ukdev/project"
)

// defaultMemoryMiB is the guest RAM of a Nanos VM when neither ukdev.toml
// nor the ops config says: a Go program's runtime wants more than the 128
// MiB default of small kernels.
const defaultMemoryMiB = 512

// Open implements flavor.Flavor: it loads the ops config (its warnings
// and the keys ukdev ignores become notes), finds the Nanos release to
// boot, adds the ops config's RunConfig ports and memory where ukdev.toml
// does not set them, and turns the network on for a guest that ships its
// syslog to the host (see Kernel.WantsSyslog).
func (Flavor) Open(cfg *project.Config) (*flavor.Setup, error) {
	c := *cfg
	c.VM.Ports = append([]project.Port(nil), cfg.VM.Ports...)
	set := SettingsOf(cfg)

	var opsCfg *ops.Config
	var notes []string
	if set.Config != "" {
		var err error
		if opsCfg, err = ops.Load(set.Config); err != nil {
			return nil, err
		}
		for _, w := range opsCfg.Warnings {
			notes = append(notes, fmt.Sprintf("%s: %s", set.Config, w))
		}
		// Read, but ukdev decides these itself.
		if opsCfg.RunConfig.Accel {
			notes = append(notes, fmt.Sprintf("%s: ignored: RunConfig.Accel (ukdev probes KVM itself; set vm.accel in ukdev.toml)", set.Config))
		}
		if opsCfg.RunConfig.Debug {
			notes = append(notes, fmt.Sprintf("%s: ignored: RunConfig.Debug (the memory panel and QMP are always on)", set.Config))
		}
	}
	k, err := release(&c, opsCfg)
	if err != nil {
		return nil, err
	}
	if opsCfg != nil {
		if err := mergeRunConfig(&c, opsCfg.RunConfig); err != nil {
			return nil, fmt.Errorf("%s: %w", set.Config, err)
		}
	}
	if !c.VM.MemorySet && (opsCfg == nil || opsCfg.RunConfig.Memory == "") {
		c.VM.MemoryMiB = defaultMemoryMiB
	}
	if wantsSyslog(opsCfg) {
		// The guest reaches the host's receiver over the user network.
		c.VM.Network = true
	}
	kern, err := New(Options{Config: opsCfg, Dir: c.Root, Kernel: k, Boot: Boot(set.Boot)})
	if err != nil {
		return nil, err
	}
	return &flavor.Setup{Config: &c, Kernel: kern, Notes: notes}, nil
}

// release finds the Nanos release to boot: nanos.kernel, else ops' kernel
// cache (nanos.version, the ops config's NanosVersion or Kernel, or
// latest.txt).
func release(c *project.Config, opsCfg *ops.Config) (ops.Kernel, error) {
	if SettingsOf(c).Kernel != "" {
		return ops.KernelAt(SettingsOf(c).Kernel)
	}
	home, err := ops.Home()
	if err != nil {
		return ops.Kernel{}, err
	}
	cache := ops.Cache{Home: home}
	if SettingsOf(c).Version != "" {
		return cache.FindKernel(SettingsOf(c).Version)
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
