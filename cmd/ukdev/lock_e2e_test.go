package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// One ukdev per project, however the project is reached: through a
// symlink, or with other XDG state and runtime dirs, a second `ukdev dev`
// is refused naming the first one's pid; `ukdev build` is refused too
// while a loop runs (its build would write the same outputs as the loop's),
// and builds once the loop has ended.
func TestOneLoopPerProject(t *testing.T) {
	needQEMU(t)
	dir := copyExample(t)
	env := testEnv(t)
	s := startDev(t, dir, env)
	s.waitFor("boot 1 banner", bootWait, consoleLine(1, "hello from ukdev"))
	held := fmt.Sprintf("another ukdev is running for this project (pid %d)", s.cmd.Process.Pid)

	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	otherDirs := testEnv(t) // its own XDG_STATE_HOME and XDG_RUNTIME_DIR
	tests := []struct {
		name string
		env  []string
		args []string
	}{
		{"dev through a symlink", env, []string{"-C", link, "dev", "--json"}},
		{"dev with another XDG_STATE_HOME", append(env[:len(env):len(env)], "XDG_STATE_HOME="+t.TempDir()), []string{"dev", "--json"}},
		{"dev with other state and runtime dirs, through a symlink", otherDirs, []string{"-C", link, "dev", "--json"}},
		{"run with other state and runtime dirs", otherDirs, []string{"run"}},
		{"build", env, []string{"build"}},
		{"build through a symlink with other dirs", otherDirs, []string{"-C", link, "build"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, dir, tt.env, "", tt.args...)
			if r.code == 0 || !strings.Contains(r.stderr, held) {
				t.Errorf("want a failure saying %q\n%s", held, r)
			}
			if r.elapsed > quickWait {
				t.Errorf("took %s to fail", r.elapsed)
			}
			if strings.Contains(r.stderr, "ukdev: building") || strings.Contains(r.stdout, "cc ") {
				t.Errorf("a build ran beside the loop\n%s", r)
			}
			if tt.args[len(tt.args)-1] == "build" && !strings.Contains(r.stderr, "rebuilds on every save") {
				t.Errorf("ukdev build does not say what to do instead\n%s", r)
			}
		})
	}
	waitNoQEMU(t, runtimeDirOf(t, otherDirs), quickWait)

	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("the loop exited with status %d after SIGTERM, want 0", code)
	}
	waitNoQEMU(t, runtimeDirOf(t, env), quickWait)
	if r := runCLI(t, dir, otherDirs, "", "-C", link, "build"); r.code != 0 {
		t.Errorf("ukdev build after the loop ended: want success\n%s", r)
	}
}
