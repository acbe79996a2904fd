package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// One ukdev per project, however the project is reached: through a
// symlink, or with other XDG state and runtime dirs, a second `ukdev dev`
// is refused naming the first one's pid; `ukdev build` is refused too
// while a loop runs (its build would write the same outputs as the loop's),
// and builds once the loop has ended.
func TestOneLoopPerProject(t *testing.T) {
	s := startHello(t)
	dir, env := s.dir, s.env

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
			s.wantLockHeld(t, r)
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

	s.quit()
	if r := runCLI(t, dir, otherDirs, "", "-C", link, "build"); r.code != 0 {
		t.Errorf("ukdev build after the loop ended: want success\n%s", r)
	}
}

// TestLockFollowsReplacedProjectDir replaces the project directory under a
// running `ukdev dev` (rm -rf and a fresh copy, as a re-clone does): once
// the loop has picked the new directory up, `ukdev build` on it, even with
// other XDG dirs, must still be refused, since the loop builds that tree.
func TestLockFollowsReplacedProjectDir(t *testing.T) {
	s := startHello(t)

	fresh := filepath.Join(t.TempDir(), "fresh")
	copyTree(t, s.dir, fresh)
	setBanner(t, fresh, "replaced")
	if err := os.RemoveAll(s.dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(fresh, s.dir); err != nil {
		t.Fatal(err)
	}
	s.waitFor("a boot of the new directory", bootWait, consoleAny("replaced"))

	s.wantLockHeld(t, runCLI(t, s.dir, testEnv(t), "", "build"))
	s.quit()
}
