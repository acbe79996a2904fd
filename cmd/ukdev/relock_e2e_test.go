package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestLockFollowsReplacedProjectDir replaces the project directory under a
// running `ukdev dev` (rm -rf and a fresh copy, as a re-clone does): once
// the loop has picked the new directory up, `ukdev build` on it, even with
// other XDG dirs, must still be refused, since the loop builds that tree.
func TestLockFollowsReplacedProjectDir(t *testing.T) {
	needQEMU(t)
	dir := copyExample(t)
	env := testEnv(t)
	s := startDev(t, dir, env)
	s.waitFor("boot 1 banner", bootWait, consoleLine(1, "hello from ukdev"))

	fresh := filepath.Join(t.TempDir(), "fresh")
	if out, err := exec.Command("cp", "-a", dir, fresh).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	setBanner(t, fresh, "replaced")
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(fresh, dir); err != nil {
		t.Fatal(err)
	}
	s.waitFor("a boot of the new directory", bootWait, consoleAny("replaced"))

	held := fmt.Sprintf("another ukdev is running for this project (pid %d)", s.cmd.Process.Pid)
	r := runCLI(t, dir, testEnv(t), "", "build")
	if r.code == 0 || !strings.Contains(r.stderr, held) {
		t.Errorf("ukdev build on the replaced directory: want a failure saying %q\n%s", held, r)
	}
	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("ukdev exited %d after SIGTERM\n%s", code, s.transcript())
	}
	waitNoQEMU(t, runtimeDirOf(t, env), quickWait)
}
