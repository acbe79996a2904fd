package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/manager"
)

// namedHello copies examples/hello into a new directory called name (the
// project's name).
func namedHello(t *testing.T, name string) string {
	t.Helper()
	needQEMU(t)
	src := copyExample(t)
	dst := filepath.Join(filepath.Dir(src), name)
	if err := os.Rename(src, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

// ps runs `ukdev ps --json` in dir and returns the VMs it lists.
func ps(t *testing.T, dir string, env []string) []manager.VM {
	t.Helper()
	r := runCLIWithin(t, quickWait, dir, env, "", "ps", "--json")
	if r.code != 0 {
		t.Fatalf("ukdev ps --json failed\n%s", r)
	}
	var vms []manager.VM
	if err := json.Unmarshal([]byte(r.stdout), &vms); err != nil {
		t.Fatalf("ukdev ps --json: %v\n%s", err, r)
	}
	return vms
}

// psFind returns the VM of project name in vms.
func psFind(vms []manager.VM, name string) (manager.VM, bool) {
	for _, v := range vms {
		if v.Project == name {
			return v, true
		}
	}
	return manager.VM{}, false
}

// waitPs polls ukdev ps until project name is in state (a state of "" waits
// for the project to be gone).
func waitPs(t *testing.T, dir string, env []string, name, state string) manager.VM {
	t.Helper()
	var last []manager.VM
	var found manager.VM
	ok := pollUntil(quickWait, func() bool {
		last = ps(t, dir, env)
		v, listed := psFind(last, name)
		found = v
		return (state == "" && !listed) || (listed && v.State == state)
	})
	if !ok {
		t.Fatalf("ukdev ps: %s not %q within %s; last list: %+v", name, state, quickWait, last)
	}
	return found
}

// killDetached ends, at the end of the test, every ukdev ps still lists
// in env (a detached ukdev outlives the commands that started it).
func killDetached(t *testing.T, env []string) {
	t.Cleanup(func() {
		r := runCLIWithin(t, quickWait, t.TempDir(), env, "", "ps", "--json")
		var vms []manager.VM
		if json.Unmarshal([]byte(r.stdout), &vms) == nil {
			for _, v := range vms {
				_ = syscall.Kill(v.PID, syscall.SIGKILL)
			}
		}
	})
}

// Two projects under `ukdev dev` at once: ukdev ps lists both; pause and
// resume act on one, by name from another directory and by -C; stop stops
// the other's VM, whose loop goes on.
func TestPsTwoProjects(t *testing.T) {
	env := testEnv(t)
	alpha, beta := namedHello(t, "alpha"), namedHello(t, "beta")
	sa, sb := startDev(t, alpha, env), startDev(t, beta, env)
	sa.waitFor("alpha's banner", bootWait, consoleLine(1, helloBanner))
	sb.waitFor("beta's banner", bootWait, consoleLine(1, helloBanner))
	elsewhere := t.TempDir()

	vms := ps(t, elsewhere, env)
	if len(vms) != 2 || vms[0].Project != "alpha" || vms[1].Project != "beta" {
		t.Fatalf("ukdev ps lists %+v, want alpha and beta", vms)
	}
	for i, s := range []*session{sa, sb} {
		v := vms[i]
		if v.State != devloop.StateRunning || v.PID != s.cmd.Process.Pid || v.Detached || v.QEMUPID == 0 || v.Boot != 1 || v.Flavor != "elf" {
			t.Errorf("%s: %+v; want running boot 1 of elf under pid %d, not detached, with a QEMU", v.Project, v, s.cmd.Process.Pid)
		}
	}

	if r := runCLI(t, elsewhere, env, "", "pause", "alpha"); r.code != 0 || !strings.Contains(r.stdout, "alpha: paused") {
		t.Fatalf("ukdev pause alpha\n%s", r)
	}
	sa.waitFor("alpha's vm.paused", quickWait, isType(devloop.TypeVMPaused))
	if v, _ := psFind(ps(t, elsewhere, env), "alpha"); v.State != devloop.StatePaused {
		t.Errorf("after pause: alpha is %q, want paused", v.State)
	}
	if v, _ := psFind(ps(t, elsewhere, env), "beta"); v.State != devloop.StateRunning {
		t.Errorf("pausing alpha changed beta: %q", v.State)
	}
	if r := runCLI(t, elsewhere, env, "", "-C", filepath.Join(alpha, "build"), "resume"); r.code != 0 {
		t.Fatalf("ukdev -C alpha/build resume\n%s", r)
	}
	sa.waitFor("alpha's vm.resumed", quickWait, isType(devloop.TypeVMResumed))
	if v, _ := psFind(ps(t, elsewhere, env), "alpha"); v.State != devloop.StateRunning {
		t.Errorf("after resume: alpha is %q, want running", v.State)
	}

	if r := runCLI(t, beta, env, "", "stop"); r.code != 0 || !strings.Contains(r.stdout, "beta: stopped") {
		t.Fatalf("ukdev stop in beta\n%s", r)
	}
	sb.waitFor("beta's vm.exit", quickWait, isType(devloop.TypeVMExit))
	v, _ := psFind(ps(t, elsewhere, env), "beta")
	if v.State != devloop.StateStopped || v.QEMUPID != 0 {
		t.Errorf("after stop: beta is %+v, want stopped without a QEMU", v)
	}
	waitNoQEMU(t, filepath.Dir(v.Socket), quickWait)
	if r := runCLI(t, elsewhere, env, "", "pause", "beta"); r.code == 0 || !strings.Contains(r.stderr, "no VM running") {
		t.Errorf("pause of a stopped VM: want a clear failure\n%s", r)
	}
	if r := runCLI(t, elsewhere, env, "", "pause", "gamma"); r.code == 0 || !strings.Contains(r.stderr, "alpha, beta") {
		t.Errorf("pause of an unknown project: want an error naming the running ones\n%s", r)
	}

	sa.quit()
	sb.quit()
	if vms := ps(t, elsewhere, env); len(vms) != 0 {
		t.Errorf("after both ended, ukdev ps lists %+v", vms)
	}
}

// A ukdev killed with SIGKILL cannot remove its entry: ukdev ps never
// shows it as running, and removes it and its socket.
func TestPsKilledUkdev(t *testing.T) {
	env := testEnv(t)
	dir := namedHello(t, "killed")
	s := startDev(t, dir, env)
	s.waitFor("the banner", bootWait, consoleLine(1, helloBanner))
	v := waitPs(t, dir, env, "killed", devloop.StateRunning)

	s.kill()
	waitNoQEMU(t, filepath.Dir(v.Socket), quickWait)
	if vms := ps(t, t.TempDir(), env); len(vms) != 0 {
		t.Fatalf("ukdev ps after SIGKILL lists %+v", vms)
	}
	reg := filepath.Join(runtimeDirOf(t, env), "ukdev", "vms")
	if left, _ := os.ReadDir(reg); len(left) != 0 {
		t.Errorf("registry entries left after ps: %v", left)
	}
	if _, err := os.Lstat(v.Socket); !os.IsNotExist(err) {
		t.Errorf("the dead ukdev's socket is still there: %v", err)
	}
}

// ukdev up boots the VM detached and returns; ukdev attach shows its
// dashboard in tmux, where console input reaches the guest; q detaches
// and the VM runs on; ukdev down ends it with no QEMU left.
func TestUpAttachDown(t *testing.T) {
	needTools(t, "tmux")
	env := testEnv(t)
	killDetached(t, env)
	dir := namedHello(t, "updown")

	r := runCLI(t, dir, env, "", "up")
	if r.code != 0 || !strings.Contains(r.stderr, "runs detached") || !strings.Contains(r.stderr, helloBanner) {
		t.Fatalf("ukdev up\n%s", r)
	}
	v := waitPs(t, dir, env, "updown", devloop.StateRunning)
	if !v.Detached || v.Attached || v.QEMUPID == 0 {
		t.Fatalf("after up: %+v; want a detached VM, no dashboard", v)
	}
	if r := runCLI(t, dir, env, "", "up"); r.code == 0 || !strings.Contains(r.stderr, "already runs detached") {
		t.Errorf("a second ukdev up: want a refusal\n%s", r)
	}

	s := startDashboard(t, "attach", dir, env, 140, 45, fmt.Sprintf("'%s' attach", ukdevBin))
	s.waitText("the attached dashboard", bootWait, "attached · q detaches", "1 console")
	if v, _ := psFind(ps(t, dir, env), "updown"); !v.Attached {
		t.Errorf("ukdev ps does not show the dashboard attached: %+v", v)
	}
	s.keys("1")
	s.keys("i")
	s.waitText("console input mode", quickWait, "leave input mode")
	s.typeText("echo attached-hi")
	s.keys("Enter")
	s.waitScreen("the guest's answer", bootWait, consolePanelLine("attached-hi").MatchString)
	s.keys("Escape")
	s.waitText("input mode left", quickWait, "? help")
	s.keys("q")
	s.waitEnded(stopWait)

	v = waitPs(t, dir, env, "updown", devloop.StateRunning)
	if v.Attached || len(qemuPIDs(filepath.Dir(v.Socket))) == 0 {
		t.Fatalf("after detaching: %+v, QEMUs %v; want the VM running, no dashboard", v, qemuPIDs(filepath.Dir(v.Socket)))
	}

	// Attached again, then its terminal goes away (the tmux server is
	// killed): the dashboard detaches, the VM runs on.
	s2 := startDashboard(t, "reattach", dir, env, 140, 45, fmt.Sprintf("'%s' attach updown", ukdevBin))
	s2.waitText("the dashboard attached again", bootWait, "attached · q detaches", helloBanner)
	if _, err := s2.tmux("kill-server"); err != nil {
		t.Fatal(err)
	}
	if !pollUntil(quickWait, func() bool { v, _ := psFind(ps(t, dir, env), "updown"); return !v.Attached }) {
		t.Fatalf("the dashboard is still attached after its terminal went away")
	}
	if v := waitPs(t, dir, env, "updown", devloop.StateRunning); v.QEMUPID == 0 {
		t.Fatalf("after the terminal went away: %+v, want the VM running", v)
	}

	if r := runCLI(t, t.TempDir(), env, "", "down", "updown"); r.code != 0 || !strings.Contains(r.stdout, "down") {
		t.Fatalf("ukdev down\n%s", r)
	}
	waitNoQEMU(t, filepath.Dir(v.Socket), quickWait)
	if vms := ps(t, dir, env); len(vms) != 0 {
		t.Errorf("after down, ukdev ps lists %+v", vms)
	}
	if err := syscall.Kill(v.PID, 0); err == nil && !zombie(v.PID) {
		t.Errorf("the detached ukdev (pid %d) still runs after down", v.PID)
	}
}

// zombie reports whether pid has ended and waits to be reaped.
func zombie(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// A detached ukdev that is ended by a signal, even SIGKILL, leaves no
// QEMU behind, and its entry goes.
func TestDetachedEndsWithItsVM(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			env := testEnv(t)
			killDetached(t, env)
			dir := namedHello(t, "sig")
			if r := runCLI(t, dir, env, "", "up"); r.code != 0 {
				t.Fatalf("ukdev up\n%s", r)
			}
			v := waitPs(t, dir, env, "sig", devloop.StateRunning)
			if err := syscall.Kill(v.PID, sig); err != nil {
				t.Fatal(err)
			}
			waitNoQEMU(t, filepath.Dir(v.Socket), stopWait)
			waitPs(t, dir, env, "sig", "")
		})
	}
}

// ukdev up fails with the build's status when the build fails, and leaves
// nothing running.
func TestUpBuildFails(t *testing.T) {
	env := testEnv(t)
	killDetached(t, env)
	dir := namedHello(t, "broken")
	appendFile(t, filepath.Join(dir, "main.c"), "\n#error broken on purpose\n")
	start := time.Now()
	r := runCLI(t, dir, env, "", "up")
	if r.code != 2 || !strings.Contains(r.stderr, "build #1 failed") || !strings.Contains(r.stderr, "broken on purpose") {
		t.Fatalf("ukdev up with a broken build: want make's status 2 and its output\n%s", r)
	}
	if time.Since(start) > bootWait {
		t.Errorf("ukdev up took %s to fail", time.Since(start))
	}
	waitPs(t, dir, env, "broken", "")
}
