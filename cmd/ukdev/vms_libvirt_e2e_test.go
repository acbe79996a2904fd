package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/manager"
	"github.com/ukdev/ukdev/vm"
	"github.com/ukdev/ukdev/vm/libvirt"
)

// psBackend returns a Backend on systemURI that records owner in its domains
// and uploads to a pool of the test's own, removed at the end.
func psBackend(t *testing.T, l *golibvirt.Libvirt, owner libvirt.Owner) *libvirt.Backend {
	t.Helper()
	pool := "ukdev-test-" + strings.ToLower(t.Name())
	t.Cleanup(func() {
		p, err := l.StoragePoolLookupByName(pool)
		if err != nil {
			return
		}
		vols, _, _ := l.StoragePoolListAllVolumes(p, 1, 0)
		for _, v := range vols {
			_ = l.StorageVolDelete(v, 0)
		}
		_ = l.StoragePoolDestroy(p)
		_ = l.StoragePoolUndefine(p)
	})
	return &libvirt.Backend{URI: systemURI, Pool: pool, PoolDir: t.TempDir(), Owner: owner}
}

// psStartHello boots the hello kernel at elf as a domain of b and
// returns the domain's name; the domain is destroyed at the end of the
// test.
func psStartHello(t *testing.T, l *golibvirt.Libvirt, b *libvirt.Backend, elf string) string {
	t.Helper()
	before := psDomainNames(t)
	spec := vm.Spec{Image: image.Image{Kernel: elf, DebugExit: true, PVPanic: true}, Machine: "pc", MemoryMiB: 64}
	m, err := b.Start(t.Context(), spec, vm.StartOptions{})
	if err != nil {
		t.Fatalf("start a hello domain: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), stopWait)
		defer cancel()
		_ = m.Stop(ctx)
	})
	var name string
	for n, d := range psDomainNames(t) {
		if _, old := before[n]; !old && d.Owner == b.Owner {
			name = n
		}
	}
	if name == "" {
		t.Fatalf("no new domain owned by %+v after the start", b.Owner)
	}
	t.Cleanup(func() {
		if dom, err := l.DomainLookupByName(name); err == nil {
			_ = l.DomainDestroy(dom)
		}
	})
	return name
}

// psDomainNames returns the ukdev domains at systemURI by name.
func psDomainNames(t *testing.T) map[string]libvirt.Domain {
	t.Helper()
	doms, err := libvirt.List(t.Context(), systemURI)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]libvirt.Domain{}
	for _, d := range doms {
		out[d.Name] = d
	}
	return out
}

// psDomainState returns the state of domain name at systemURI, "" when it is
// gone.
func psDomainState(t *testing.T, name string) string {
	t.Helper()
	return psDomainNames(t)[name].State
}

// ukdev ps lists the domains ukdev created on a libvirt host (--on) that
// no running loop owns: one whose ukdev lives (here a sleeping child
// stands for it) and an orphan whose ukdev died; ukdev pause, resume and
// stop act on them through libvirt, by domain name or by project.
func TestPsLibvirtDomains(t *testing.T) {
	needQEMU(t)
	l := needLibvirt(t)
	dir := namedHello(t, "pslive")
	if out, err := exec.Command("make", "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("make: %v\n%s", err, out)
	}
	elf := filepath.Join(dir, "build", "hello.elf")
	env := append(testEnv(t), "LIBVIRT_DEFAULT_URI=")

	sleeper := exec.Command("sleep", "600")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = sleeper.Process.Kill()
		_ = sleeper.Wait()
	})
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	orphanRoot := filepath.Join(filepath.Dir(dir), "psorphan")

	live := psStartHello(t, l, psBackend(t, l, libvirt.Owner{Host: host, PID: sleeper.Process.Pid, Project: dir}), elf)
	// Started last and checked at once: a ukdev starting meanwhile on
	// this daemon (another test) removes a dead ukdev's domains.
	orphan := psStartHello(t, l, psBackend(t, l, libvirt.Owner{Host: host, PID: dead.Process.Pid, Project: orphanRoot}), elf)

	r := runCLIWithin(t, bootWait, dir, env, "", "ps", "--json", "--on", systemURI)
	if r.code != 0 {
		t.Fatalf("ukdev ps --json --on %s failed\n%s", systemURI, r)
	}
	var vms []manager.VM
	if err := json.Unmarshal([]byte(r.stdout), &vms); err != nil {
		t.Fatalf("ukdev ps --json: %v\n%s", err, r)
	}
	byDomain := map[string]manager.VM{}
	for _, v := range vms {
		byDomain[v.Domain] = v
	}
	if v, ok := byDomain[live]; !ok || v.Project != "pslive" || v.Root != dir || v.Host != systemURI || v.State != "running" ||
		v.OwnerHost != host || v.OwnerPID != sleeper.Process.Pid || v.Orphan || v.PID != 0 {
		t.Errorf("ps --json row of %s = %+v (found %v), want project pslive running on %s owned by pid %d, not orphan\n%s",
			live, v, ok, systemURI, sleeper.Process.Pid, r)
	}
	if v, ok := byDomain[orphan]; !ok || v.Project != "psorphan" || v.State != "running" || !v.Orphan || v.OwnerPID != dead.Process.Pid {
		t.Errorf("ps --json row of %s = %+v (found %v), want project psorphan, an orphan of pid %d\n%s", orphan, v, ok, dead.Process.Pid, r)
	}

	r = runCLIWithin(t, bootWait, dir, env, "", "ps", "--on", systemURI)
	if r.code != 0 {
		t.Fatalf("ukdev ps --on %s failed\n%s", systemURI, r)
	}
	t.Logf("ukdev ps --on %s:\n%s", systemURI, r.stdout)
	if !psTableRow(r.stdout, "pslive", "local", "running", "ukdev on "+host+" pid "+strconv.Itoa(sleeper.Process.Pid)) ||
		!psTableRow(r.stdout, "psorphan", "local", "running", "orphan") {
		t.Errorf("ukdev ps table lacks the domains' rows\n%s", r)
	}

	// Without --on nor LIBVIRT_DEFAULT_URI, nor a running loop or a
	// project on libvirt, no host is known: the table is as before.
	r = runCLIWithin(t, bootWait, dir, env, "", "ps")
	if r.code != 0 || strings.Contains(r.stdout, "pslive") || strings.Contains(r.stdout, "HOST") {
		t.Errorf("ukdev ps without a known host lists domains\n%s", r)
	}

	steps := []struct {
		args    []string
		name    string
		project string
		state   string
	}{
		{[]string{"pause", live}, live, "pslive", "paused"},
		{[]string{"resume", live}, live, "pslive", "running"},
		{[]string{"stop", live}, live, "pslive", ""},
		{[]string{"stop", "psorphan"}, orphan, "psorphan", ""}, // by project
	}
	for _, s := range steps {
		r := runCLIWithin(t, bootWait, dir, env, "", append(s.args, "--on", systemURI)...)
		want := s.state
		if want == "" {
			want = libvirt.StateDestroyed
		}
		if r.code != 0 || !hasLine(r.stdout, s.name+" ("+s.project+" on local): "+want) {
			t.Fatalf("ukdev %s --on %s: want %s %s\n%s", strings.Join(s.args, " "), systemURI, s.name, want, r)
		}
		if got := psDomainState(t, s.name); got != s.state {
			t.Fatalf("after ukdev %s, libvirt says %s is %q, want %q", strings.Join(s.args, " "), s.name, got, s.state)
		}
	}

	r = runCLIWithin(t, bootWait, dir, env, "", "stop", live, "--on", systemURI)
	if r.code == 0 || !strings.Contains(r.stderr, "nor is it a ukdev domain on "+systemURI) {
		t.Errorf("ukdev stop of a domain that is gone: want a failure naming the host\n%s", r)
	}
}

// psTableRow reports whether a line of ukdev ps's table holds every one
// of fields, in order, each a whole column.
func psTableRow(table string, fields ...string) bool {
	for line := range strings.SplitSeq(table, "\n") {
		cols := strings.Split(line, "  ")
		i := 0
		for _, c := range cols {
			if i < len(fields) && strings.TrimSpace(c) == fields[i] {
				i++
			}
		}
		if i == len(fields) {
			return true
		}
	}
	return false
}

// A domain whose owner is a running loop of this machine shows in that
// loop's row, and an action named by the domain goes through the loop,
// not through libvirt. (The loop here runs its VM under QEMU: the test
// starts a domain in its name, as a loop on libvirt does.)
func TestPsLibvirtLoopDomain(t *testing.T) {
	needQEMU(t)
	l := needLibvirt(t)
	dir := namedHello(t, "psloop")
	env := append(testEnv(t), "LIBVIRT_DEFAULT_URI=")
	s := startDev(t, dir, env)
	s.waitFor("boot 1 banner", bootWait, consoleLine(1, helloBanner))
	host, _ := os.Hostname()
	name := psStartHello(t, l, psBackend(t, l, libvirt.Owner{Host: host, PID: s.cmd.Process.Pid, Project: dir}),
		filepath.Join(dir, "build", "hello.elf"))

	r := runCLIWithin(t, bootWait, dir, env, "", "ps", "--json", "--on", systemURI)
	var vms []manager.VM
	if err := json.Unmarshal([]byte(r.stdout), &vms); r.code != 0 || err != nil {
		t.Fatalf("ukdev ps --json --on %s: %v\n%s", systemURI, err, r)
	}
	var rows []manager.VM
	for _, v := range vms {
		if v.Project == "psloop" {
			rows = append(rows, v)
		}
	}
	if len(rows) != 1 || rows[0].Domain != name || rows[0].PID != s.cmd.Process.Pid || rows[0].State != "running" {
		t.Errorf("ukdev ps --json rows of psloop = %+v; want one, the loop's, naming domain %s\n%s", rows, name, r)
	}

	r = runCLIWithin(t, bootWait, dir, env, "", "pause", name, "--on", systemURI)
	if r.code != 0 || !hasLine(r.stdout, "psloop: paused (boot #1)") {
		t.Fatalf("ukdev pause %s: want it done by the loop\n%s", name, r)
	}
	s.waitFor("the loop's vm.paused", quickWait, isType(devloop.TypeVMPaused))
	if got := psDomainState(t, name); got != "running" {
		t.Errorf("the domain is %q after the loop paused its VM, want running (untouched)", got)
	}
	s.quit()
}
