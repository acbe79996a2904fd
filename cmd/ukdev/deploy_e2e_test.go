package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/ukdev/ukdev/devloop"
)

// deployScript is a command target's script: it records its environment,
// checks that the kernel it is given exists, and says what it made.
const deployScript = `#!/bin/sh
env | grep '^UKDEV_' | sort > deployed.env
echo "sending $UKDEV_KERNEL"
test -f "$UKDEV_KERNEL" || { echo "no kernel at $UKDEV_KERNEL" >&2; exit 1; }
printf 'instance=vm-%s\nip=203.0.113.4\nurl=http://203.0.113.4/\n' "$UKDEV_BUILD" > "$UKDEV_RESULT"
`

// deployProject is a copy of examples/hello with a command deploy: with
// disk = false the script gets the kernel, so that no disk writer is
// needed.
func deployProject(t *testing.T, disk bool) (dir string, env []string) {
	t.Helper()
	needTools(t, "make", "cc")
	dir = copyExample(t)
	writeConfig(t, dir, "vm.ports = [\"8080:80\"]\n[deploy.prod]\ntarget = \"command\"\ncommand = \"./deploy.sh\"\n"+
		map[bool]string{true: "", false: "disk = false\n"}[disk])
	writeFile(t, filepath.Join(dir, "deploy.sh"), deployScript)
	if err := os.Chmod(filepath.Join(dir, "deploy.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, testEnv(t)
}

func TestDeployCommandE2E(t *testing.T) {
	dir, env := deployProject(t, false)
	deployed := filepath.Join(dir, "deployed.env")

	t.Run("dry run", func(t *testing.T) {
		r := runCLI(t, dir, env, "", "deploy", "--dry-run")
		if r.code != 0 || !strings.Contains(r.stdout, "Plan of deploy prod (target command):") ||
			!hasLine(r.stdout, "command      ./deploy.sh") || !hasLine(r.stdout, "disk         none (disk = false)") {
			t.Fatalf("dry run:\n%s", r)
		}
		if _, err := os.Stat(deployed); !os.IsNotExist(err) {
			t.Errorf("the dry run ran the script (%v)", err)
		}
	})

	t.Run("no terminal, no --yes", func(t *testing.T) {
		r := runCLI(t, dir, env, "y\n", "deploy")
		if r.code == 0 || !strings.Contains(r.stderr, "pass --yes") || strings.Contains(r.stderr, "building") {
			t.Fatalf("deploy without --yes:\n%s", r)
		}
		if _, err := os.Stat(deployed); !os.IsNotExist(err) {
			t.Errorf("the script ran without confirmation (%v)", err)
		}
	})

	t.Run("yes", func(t *testing.T) {
		r := runCLI(t, dir, env, "", "deploy", "--yes")
		if r.code != 0 || !hasLine(r.stdout, "instance  vm-1") || !hasLine(r.stdout, "url       http://203.0.113.4/") ||
			!strings.Contains(r.stderr, "sending ") {
			t.Fatalf("deploy --yes:\n%s", r)
		}
		data, err := os.ReadFile(deployed)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"UKDEV_BUILD=1", "UKDEV_DEPLOY=prod", "UKDEV_FLAVOR=elf", "UKDEV_PORTS=80/tcp", "UKDEV_PROJECT=hello", "UKDEV_DISK=", "UKDEV_ROOT=" + dir} {
			if !hasLine(string(data), want) {
				t.Errorf("the script's environment has no %q:\n%s", want, data)
			}
		}
	})

	t.Run("json", func(t *testing.T) {
		r := runCLI(t, dir, env, "", "deploy", "prod", "--yes", "--json")
		if r.code != 0 {
			t.Fatalf("deploy --json:\n%s", r)
		}
		var types []devloop.EventType
		var done jsonEvent
		for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
			var e jsonEvent
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatalf("stdout line %q: %v\n%s", line, err, r)
			}
			if len(types) == 0 || types[len(types)-1] != e.Type {
				types = append(types, e.Type)
			}
			if e.Type == devloop.TypeDeployDone {
				done = e
			}
		}
		want := []devloop.EventType{devloop.TypeDeployStart, devloop.TypeDeployStep, devloop.TypeDeployDone}
		if strings.Join(eventTypes(types), " ") != strings.Join(eventTypes(want), " ") {
			t.Errorf("events %v, want %v\n%s", types, want, r)
		}
		if done.Instance != "vm-1" || done.IP != "203.0.113.4" {
			t.Errorf("deploy.done %+v", done)
		}
	})
}

func eventTypes(list []devloop.EventType) []string {
	out := make([]string, len(list))
	for i, t := range list {
		out[i] = string(t)
	}
	return out
}

// diskScript is a command target's script that needs the disk: it
// records the disk's size and its boot signature, as a cloud import would
// check them.
const diskScript = `#!/bin/sh
test -f "$UKDEV_DISK" || { echo "no disk at $UKDEV_DISK" >&2; exit 1; }
stat -c %s "$UKDEV_DISK" > disk.size
dd if="$UKDEV_DISK" bs=1 skip=510 count=2 2>/dev/null | od -An -tx1 | tr -d ' \n' > disk.sig
printf 'instance=vm-%s\n' "$UKDEV_BUILD" > "$UKDEV_RESULT"
`

// A target that needs the disk gets the build's bootable disk, written
// and boot-tested under QEMU first, in whole GiB, and removed afterwards.
func TestDeployDiskE2E(t *testing.T) {
	dir, env := deployProject(t, true)
	writeFile(t, filepath.Join(dir, "deploy.sh"), diskScript)
	r := runCLI(t, dir, env, "", "deploy", "--yes")
	if r.code != 0 || !strings.Contains(r.stderr, "the disk boots") || !hasLine(r.stdout, "instance  vm-1") {
		t.Fatalf("deploy with a disk:\n%s", r)
	}
	size, err := os.ReadFile(filepath.Join(dir, "disk.size"))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := strconv.ParseInt(strings.TrimSpace(string(size)), 10, 64); err != nil || n == 0 || n%(1<<30) != 0 {
		t.Errorf("the disk's size is %q bytes, want whole GiB", size)
	}
	if sig, _ := os.ReadFile(filepath.Join(dir, "disk.sig")); string(sig) != "55aa" {
		t.Errorf("the disk's boot signature is %q, want 55aa", sig)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(os.TempDir(), "ukdev-deploy*", "*.raw")); len(leftovers) > 0 {
		t.Errorf("disks left behind: %v", leftovers)
	}
}

// TestDeployConfirmOnTerminal answers the deploy's and the destroy's
// questions on a terminal: no deploys nothing, yes deploys.
func TestDeployConfirmOnTerminal(t *testing.T) {
	dir, env := deployProject(t, false)
	appendFile(t, filepath.Join(dir, "ukdev.toml"), "destroy = \"rm deployed.env && echo removed\"\n")
	deployed := filepath.Join(dir, "deployed.env")

	out, code := answerOnTerminal(t, dir, env, "n", "deploy")
	if code != 1 || !strings.Contains(out, "Deploy build #1 to prod? [y/N]") || !strings.Contains(out, "not deployed") {
		t.Fatalf("answering no: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(deployed); !os.IsNotExist(err) {
		t.Fatalf("the script ran after a no (%v)", err)
	}

	out, code = answerOnTerminal(t, dir, env, "y", "deploy")
	if code != 0 || !strings.Contains(out, "instance  vm-1") {
		t.Fatalf("answering yes: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(deployed); err != nil {
		t.Fatalf("the script did not run after a yes: %v", err)
	}

	out, code = answerOnTerminal(t, dir, env, "yes", "deploy", "destroy")
	if code != 0 || !strings.Contains(out, "Destroy everything hello runs on prod? [y/N]") || !strings.Contains(out, "removed") {
		t.Fatalf("destroy: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(deployed); !os.IsNotExist(err) {
		t.Errorf("destroy did not run its script (%v)", err)
	}
}

// answerOnTerminal runs the ukdev binary in dir on a new pty, types answer
// and Enter once it asks a [y/N] question, and returns what the terminal
// showed and the exit status.
func answerOnTerminal(t *testing.T, dir string, env []string, answer string, args ...string) (string, int) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	defer ptmx.Close()
	cmd := exec.Command(ukdevBin, args...)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	if err := cmd.Start(); err != nil {
		tty.Close()
		t.Fatal(err)
	}
	tty.Close()
	var mu sync.Mutex
	var out bytes.Buffer
	asked := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		once := sync.Once{}
		for {
			n, err := ptmx.Read(buf)
			mu.Lock()
			out.Write(buf[:n])
			if strings.Contains(out.String(), "[y/N] ") {
				once.Do(func() { close(asked) })
			}
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	select {
	case <-asked:
		if _, err := ptmx.Write([]byte(answer + "\r")); err != nil {
			t.Fatal(err)
		}
	case <-time.After(bootWait):
		cmd.Process.Kill()
		t.Fatalf("ukdev %s asked nothing\n%s", strings.Join(args, " "), out.String())
	}
	werr := cmd.Wait()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("the pty did not close after ukdev %s ended", strings.Join(args, " "))
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(werr, &ee) {
		code = ee.ExitCode()
	} else if werr != nil {
		t.Fatal(werr)
	}
	mu.Lock()
	defer mu.Unlock()
	return strings.ReplaceAll(out.String(), "\r\n", "\n"), code
}
