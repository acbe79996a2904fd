package devloop

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ukdev/ukdev/project"
)

// victim is a file of someone else's that a symlink planted for ukdev
// points at; it must come out of the test unchanged.
type victim struct{ path, content string }

func newVictim(t *testing.T, name string) victim {
	t.Helper()
	v := victim{path: filepath.Join(t.TempDir(), name), content: "precious " + name + "\n"}
	if err := os.WriteFile(v.path, []byte(v.content), 0o600); err != nil {
		t.Fatal(err)
	}
	return v
}

func (v victim) check(t *testing.T) {
	t.Helper()
	got, err := os.ReadFile(v.path)
	if err != nil || string(got) != v.content {
		t.Errorf("%s was changed through a symlink: %q, %v; want %q", v.path, got, err, v.content)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// A lock file that is a symlink is refused, not truncated through.
func TestLockStateRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	v := newVictim(t, "victim")
	symlink(t, v.path, filepath.Join(dir, "lock"))
	l, err := LockState(dir)
	if err == nil {
		l.Release()
		t.Error("lockState followed a symlinked lock file")
	}
	v.check(t)
}

// With no home and no XDG_STATE_HOME the state dir falls back under the
// shared temp dir. Another user who created it first (open to all, with
// the lock and ukdev.log as symlinks to the victim's files) gets a refusal,
// not a truncated or appended file.
func TestNewRefusesStateFallbackOfAnotherUser(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("HOME", "")
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("TMPDIR", tmp)
	run := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(run, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_RUNTIME_DIR", run)

	root := filepath.Join(t.TempDir(), "proj")
	cfg, err := project.Parse(filepath.Join(root, project.FileName), []byte("kernel.image = \"k\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	// The attacker knows the layout: <tmp>/ukdev-<uid>/state/<name>-<hash>.
	sum := sha256.Sum256([]byte(root))
	state := filepath.Join(tmp, "ukdev-"+strconv.Itoa(os.Getuid()), "state", "proj-"+hex.EncodeToString(sum[:4]))
	if err := os.MkdirAll(state, 0o777); err != nil {
		t.Fatal(err)
	}
	for d := state; d != tmp; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	lock, log := newVictim(t, "lock-victim"), newVictim(t, "log-victim")
	symlink(t, lock.path, filepath.Join(state, "lock"))
	symlink(t, log.path, filepath.Join(state, "ukdev.log"))

	l, err := New(Options{Config: cfg, Backend: newFakeBackend()})
	if err == nil {
		l.lock.Release()
		t.Error("New used a state dir another user could write to")
	} else if !errors.Is(err, project.ErrUnsafeDir) {
		t.Errorf("New = %v, want ErrUnsafeDir", err)
	}
	lock.check(t)
	log.check(t)
}

// The project lock is the real root directory: the project reached
// through a symlink is locked too, and the error names the holder's pid.
func TestLockProject(t *testing.T) {
	root := filepath.Join(t.TempDir(), "proj")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	via := filepath.Join(t.TempDir(), "link")
	symlink(t, root, via)
	l, err := LockProject(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{root, via} {
		second, err := LockProject(p)
		if err == nil {
			second.Release()
			t.Fatalf("LockProject(%s) succeeded while the project is locked", p)
		}
		want := "(pid " + strconv.Itoa(os.Getpid()) + ")"
		if !errors.Is(err, ErrLocked) || !strings.HasSuffix(err.Error(), want) {
			t.Errorf("LockProject(%s) = %v, want ErrLocked naming %s", p, err, want)
		}
	}
	l.Release()
	l.Release() // idempotent
	again, err := LockProject(via)
	if err != nil {
		t.Fatalf("LockProject after Release = %v", err)
	}
	again.Release()
	if _, err := LockProject(filepath.Join(t.TempDir(), "missing")); err == nil || errors.Is(err, ErrLocked) {
		t.Errorf("LockProject(missing) = %v, want an error that is not ErrLocked", err)
	}
}
